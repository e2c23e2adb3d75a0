using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Containers.Transports;

/// <summary>Reads an image from a registry.</summary>
public sealed class RegistrySource : IImageSource
{
    private readonly RegistryClient _client;
    private readonly DockerReference _ref;

    /// <summary>Opens <paramref name="reference"/> (no request is made until one is needed).</summary>
    public RegistrySource(ImageReference reference, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        _ref = reference.Docker;
        _client = new RegistryClient(_ref, options);
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <summary>The client.</summary>
    public RegistryClient Client => _client;

    /// <inheritdoc/>
    public Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken)
        => _client.GetManifestAsync(_ref.Path, instance?.ToString() ?? _ref.ManifestReference, Reference.ToString(), cancellationToken);

    /// <inheritdoc/>
    public Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken)
        => _client.GetBlobAsync(_ref.Path, blob, offset, Reference.ToString(), cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken) => _client.ListTagsAsync(_ref.Path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Writes an image to a registry.</summary>
public sealed class RegistryDestination : IImageDestination
{
    private readonly RegistryClient _client;
    private readonly DockerReference _ref;

    /// <summary>Opens <paramref name="reference"/> for pushing.</summary>
    public RegistryDestination(ImageReference reference, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        _ref = reference.Docker;
        _client = new RegistryClient(_ref, options);
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <inheritdoc/>
    public bool AcceptsDockerTypes => true;

    /// <summary>The client.</summary>
    public RegistryClient Client => _client;

    /// <inheritdoc/>
    public async Task<bool> TryReuseBlobAsync(Descriptor blob, ImageReference? source, CancellationToken cancellationToken)
    {
        if (await _client.BlobExistsAsync(_ref.Path, blob, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        if (source is { Transport: Transport.Registry } && source.Docker is var src && src.RegistryHost == _ref.RegistryHost && src.Path != _ref.Path)
        {
            try
            {
                return await _client.TryMountBlobAsync(_ref.Path, blob, src.Path, cancellationToken).ConfigureAwait(false);
            }
            catch (RegistryException e) when (e is not RegistryAuthException)
            {
                return false;
            }
        }

        return false;
    }

    /// <inheritdoc/>
    public Task PutBlobAsync(Descriptor blob, BlobOpener open, IProgress<long>? progress, CancellationToken cancellationToken)
        => _client.PushBlobAsync(_ref.Path, blob, open, progress, cancellationToken);

    /// <inheritdoc/>
    public Task PutManifestAsync(ManifestBlob manifest, bool topLevel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var reference = topLevel ? (_ref.Tag ?? (_ref.Digest is null ? "latest" : manifest.Digest.ToString())) : manifest.Digest.ToString();
        if (topLevel && _ref.Digest is { } want && want != manifest.Digest.ToString() && _ref.Tag is null)
        {
            throw new DigestMismatchException($"{Reference} names digest {want}, but the manifest to write is {manifest.Digest}");
        }

        return _client.PutManifestAsync(_ref.Path, reference, manifest, cancellationToken);
    }

    /// <inheritdoc/>
    public Task CommitAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Opens sources and destinations for any transport.</summary>
public static class ImageTransports
{
    /// <summary>Opens a source for <paramref name="reference"/>.</summary>
    /// <exception cref="ImageReferenceException">The transport cannot be read here.</exception>
    public static IImageSource OpenSource(ImageReference reference, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Transport switch
        {
            Transport.Registry => new RegistrySource(reference, options),
            Transport.OciDir => OciLayoutSource.OpenDirectory(reference),
            Transport.OciArchive => OciLayoutSource.OpenArchive(reference),
            Transport.Dir => new DirSource(reference),
            Transport.DockerArchive => new DockerArchiveSource(reference),
            _ => throw NotSupported(reference),
        };
    }

    /// <summary>Opens a destination for <paramref name="reference"/>.</summary>
    /// <exception cref="ImageReferenceException">The transport cannot be written here.</exception>
    public static IImageDestination OpenDestination(ImageReference reference, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Transport switch
        {
            Transport.Registry => new RegistryDestination(reference, options),
            Transport.OciDir => new OciLayoutDestination(reference),
            Transport.OciArchive => new OciArchiveDestination(reference),
            Transport.Dir => new DirDestination(reference),
            Transport.DockerArchive => throw new ImageReferenceException($"{reference}: docker-archive: can be read, not written; write oci-archive: instead"),
            _ => throw NotSupported(reference),
        };
    }

    private static ImageReferenceException NotSupported(ImageReference reference) =>
        new($"{reference}: the containers-storage: transport is not supported (OstreeSharp runs without a container engine); use oci:, oci-archive: or docker:// instead");
}
