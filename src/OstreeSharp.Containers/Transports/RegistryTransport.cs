using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Containers.Transports;

/// <summary>
/// Reads an image from a registry, or from the first of its registries.conf mirrors that has it (containers/image's
/// pull sources: mirrors for this kind of pull, then the registry's location); manifests and blobs then all come
/// from that one source.
/// </summary>
internal sealed class RegistrySource : IImageSource
{
    private readonly DockerReference _ref;
    private readonly RegistryOptions _options;
    private readonly IReadOnlyList<PullSource> _sources;
    private readonly SemaphoreSlim _choose = new(1, 1);
    private RegistryClient? _client;
    private RegistryClient? _primary;
    private ManifestBlob? _top;

    /// <summary>Opens <paramref name="reference"/> (no request is made until one is needed).</summary>
    /// <exception cref="RegistryException">registries.conf blocks the registry.</exception>
    public RegistrySource(ImageReference reference, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        _ref = reference.Docker;
        _options = options ?? new RegistryOptions();
        _sources = _options.ResolveRegistries().PullSources(_ref);
        Physical = _sources[^1].Reference;
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <summary>The client of the source the image is read from (the registry itself until a source is chosen).</summary>
    public RegistryClient Client => _client ?? Primary;

    /// <summary>The repository path at that source (a mirror may keep the image under another path).</summary>
    public string Repository => Physical.Path;

    /// <summary>The reference at the source the image is read from.</summary>
    public DockerReference Physical { get; private set; }

    private RegistryClient Primary => _primary ??= Open(_sources[^1]);

    /// <inheritdoc/>
    public async Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken)
    {
        var top = await ChooseAsync(cancellationToken).ConfigureAwait(false);
        return instance is null || instance == top.Digest ? top : await _client!.GetManifestAsync(Physical.Path, instance.Value.ToString(), Reference.ToString(), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken)
    {
        await ChooseAsync(cancellationToken).ConfigureAwait(false);
        return await _client!.GetBlobAsync(Physical.Path, blob, offset, Reference.ToString(), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken) => Primary.ListTagsAsync(_sources[^1].Reference.Path, cancellationToken);

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        _client?.Dispose();
        if (!ReferenceEquals(_primary, _client))
        {
            _primary?.Dispose();
        }

        _choose.Dispose();
        return ValueTask.CompletedTask;
    }

    private RegistryClient Open(PullSource source)
    {
        var options = _options;
        if ((source.Insecure && !options.TlsVerifyGiven) || source.Reference.Domain != _ref.Domain)
        {
            if (source.Insecure && !options.TlsVerifyGiven)
            {
                options = options with { TlsVerify = false };
            }

            if (source.Reference.Domain != _ref.Domain)
            {
                options = options with { Credentials = null }; // credentials given for the registry are not sent to a mirror elsewhere
            }
        }

        return new RegistryClient(source.Reference, options);
    }

    // The first pull source that serves the manifest the reference names; the errors of all when none does.
    private async Task<ManifestBlob> ChooseAsync(CancellationToken cancellationToken)
    {
        if (_top is not null)
        {
            return _top;
        }

        await _choose.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_top is not null)
            {
                return _top;
            }

            var failures = new List<(DockerReference Reference, Exception Error)>();
            foreach (var source in _sources)
            {
                var client = ReferenceEquals(source, _sources[^1]) ? Primary : Open(source);
                try
                {
                    var top = await client.GetManifestAsync(source.Reference.Path, source.Reference.ManifestReference, Reference.ToString(), cancellationToken).ConfigureAwait(false);
                    _client = client;
                    Physical = source.Reference;
                    _top = top;
                    return top;
                }
                catch (Exception e) when (e is ContainerException or HttpRequestException && _sources.Count > 1)
                {
                    failures.Add((source.Reference, e));
                    if (!ReferenceEquals(client, _primary))
                    {
                        client.Dispose();
                    }
                }
            }

            var (primaryRef, primaryError) = failures[^1];
            var extras = string.Join("\n", failures.SkipLast(1).Select(f => $"[{f.Reference}: {f.Error.Message}]"));
            throw new RegistryException(OstreeErrorCodes.Of(primaryError, OstreeErrorCode.RegistryFailed), $"(Mirrors also failed: {extras}): {primaryRef}: {primaryError.Message}", (primaryError as RegistryException)?.StatusCode ?? 0, false);
        }
        finally
        {
            _choose.Release();
        }
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
        options ??= new RegistryOptions();

        // registries.conf applies to pushes too: a blocked registry is refused, an insecure one needs no TLS.
        var sources = options.ResolveRegistries();
        if (sources.Find(_ref.Repository) is { } entry)
        {
            if (entry.Blocked)
            {
                throw new RegistryException(OstreeErrorCode.RegistryConfigInvalid, $"registry {entry.Prefix} is blocked in {string.Join(" or ", sources.Sources)}", 0, false);
            }

            if (entry.Insecure && !options.TlsVerifyGiven)
            {
                options = options with { TlsVerify = false };
            }
        }

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
