using System.Text.Json;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Containers.Transports;

/// <summary>Reads an image from an OCI image layout, as a directory (<c>oci:</c>) or a tar (<c>oci-archive:</c>).</summary>
internal sealed class OciLayoutSource : IImageSource
{
    /// <summary>The annotation that names an image in index.json.</summary>
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    private readonly ILayoutFiles _files;
    private readonly ImageIndex _index;

    internal OciLayoutSource(ImageReference reference, ILayoutFiles files)
    {
        Reference = reference;
        _files = files;
        var what = reference.ToString();
        if (!files.Exists("oci-layout"))
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"{what} is not an OCI image layout: no oci-layout file");
        }

        var indexBytes = files.ReadSmall("index.json", what);
        try
        {
            _index = JsonSerializer.Deserialize(indexBytes, OciJsonContext.Default.ImageIndex) ?? throw new ManifestException($"index.json of {what} is null");
        }
        catch (JsonException e)
        {
            throw new ManifestException($"Malformed index.json in {what}: {e.Message}");
        }
    }

    /// <summary>Opens an OCI layout directory.</summary>
    public static OciLayoutSource OpenDirectory(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (!Directory.Exists(reference.Path))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{reference}: no such directory {reference.Path}");
        }

        return new OciLayoutSource(reference, new DirectoryLayoutFiles(reference.Path));
    }

    /// <summary>Opens a tar of an OCI layout in place.</summary>
    public static OciLayoutSource OpenArchive(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return new OciLayoutSource(reference, new ArchiveLayoutFiles(reference.Path));
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <summary>The layout's index.json.</summary>
    public ImageIndex Index => _index;

    /// <summary>The descriptor the reference's tag names (or the only image when it has no tag).</summary>
    public Descriptor ResolveTop()
    {
        var tag = Reference.Tag;
        if (tag is null)
        {
            return _index.Manifests.Count switch
            {
                1 => _index.Manifests[0],
                0 => throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{Reference}: the layout holds no image"),
                _ => throw new ContainerException(OstreeErrorCode.InvalidArgument, $"{Reference}: the layout holds {_index.Manifests.Count} images; name one as {Reference.TransportToken}:{Reference.Path}:TAG"),
            };
        }

        return _index.Manifests.LastOrDefault(d => d.Annotations is { } a && a.TryGetValue(RefNameAnnotation, out var n) && n == tag)
            ?? throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{Reference}: no image tagged '{tag}' in the layout");
    }

    /// <inheritdoc/>
    public Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken)
    {
        Digest digest;
        string? mediaType;
        if (instance is { } i)
        {
            digest = i;
            mediaType = null;
        }
        else
        {
            var top = ResolveTop();
            digest = top.GetDigest();
            mediaType = top.MediaType;
        }

        var bytes = _files.ReadSmall(BlobPath(digest), Reference.ToString());
        var m = new ManifestBlob(bytes, mediaType, Reference.ToString());
        m.Verify(digest);
        return Task.FromResult(m);
    }

    /// <inheritdoc/>
    public Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        return Task.FromResult(_files.OpenBlob(BlobPath(blob.GetDigest()), blob, offset, Reference.ToString()));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<string> tags = [.. _index.Manifests.Select(d => d.Annotations?.GetValueOrDefault(RefNameAnnotation)).OfType<string>().Distinct(StringComparer.Ordinal)];
        return Task.FromResult(tags);
    }

    internal static string BlobPath(Digest d) => "blobs/" + d.Algorithm + "/" + d.Hex;

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
