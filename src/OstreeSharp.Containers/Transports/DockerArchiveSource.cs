using System.Text.Json;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Containers.Transports;

/// <summary>
/// Reads a <c>docker save</c> tarball (<c>docker-archive:FILE[:NAME:TAG]</c> or <c>FILE:@N</c>) in place and
/// presents it as a Docker schema 2 image: the layers' digests are computed by one read of each.
/// </summary>
internal sealed class DockerArchiveSource : IImageSource
{
    private readonly ArchiveLayoutFiles _files;
    private readonly ManifestBlob _manifest;
    private readonly Dictionary<string, string> _blobPaths = new(StringComparer.Ordinal);

    /// <summary>Opens an archive.</summary>
    public DockerArchiveSource(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        var what = reference.ToString();
        _files = new ArchiveLayoutFiles(reference.Path);
        DockerArchiveEntry[] entries;
        try
        {
            entries = JsonSerializer.Deserialize(_files.ReadSmall("manifest.json", what), OciJsonContext.Default.DockerArchiveEntryArray) ?? [];
        }
        catch (JsonException e)
        {
            throw new ManifestException($"Malformed manifest.json in {what}: {e.Message}");
        }

        var entry = Select(entries, reference.Tag, what);
        var configBytes = _files.ReadSmall(entry.Config, what, 64L << 20);
        var configDigest = Digest.Sha256(configBytes);
        _blobPaths[configDigest.ToString()] = entry.Config;
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.DockerManifest,
            Config = Descriptor.Create(MediaTypes.DockerConfig, configDigest, configBytes.Length),
        };
        foreach (var layer in entry.Layers)
        {
            if (!_files.Exists(layer))
            {
                throw new ContainerException(OstreeErrorCode.BlobNotFound, $"Layer {layer} listed in manifest.json is missing from {what}");
            }

            using var s = _files.Open(layer, 0);
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var buf = new byte[1 << 20];
            int n;
            bool first = true, gzip = false;
            while ((n = s.Read(buf)) > 0)
            {
                if (first)
                {
                    gzip = n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
                    first = false;
                }

                hash.AppendData(buf, 0, n);
            }

            var d = Digest.FromHash("sha256", hash.GetHashAndReset());
            _blobPaths[d.ToString()] = layer;
            manifest.Layers.Add(Descriptor.Create(gzip ? MediaTypes.DockerLayerGzip : MediaTypes.DockerLayer, d, _files.Length(layer)));
        }

        _manifest = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest), MediaTypes.DockerManifest, what);
    }

    private static DockerArchiveEntry Select(DockerArchiveEntry[] entries, string? name, string what)
    {
        if (name is null)
        {
            return entries.Length == 1 ? entries[0] : throw new ContainerException(OstreeErrorCode.InvalidArgument, $"{what} holds {entries.Length} images; name one as docker-archive:FILE:NAME:TAG or FILE:@N");
        }

        if (name.StartsWith('@'))
        {
            return int.TryParse(name.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i < entries.Length
                ? entries[i]
                : throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{what}: no image at index {name[1..]}");
        }

        var wanted = DockerReference.Parse(name);
        return entries.FirstOrDefault(e => e.RepoTags?.Any(t => DockerReference.Parse(t) == wanted) == true)
            ?? throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{what}: no image tagged {name}");
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <inheritdoc/>
    public Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken)
    {
        if (instance is { } d && d != _manifest.Digest)
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{Reference} has no manifest {d}");
        }

        return Task.FromResult(_manifest);
    }

    /// <inheritdoc/>
    public Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        if (!_blobPaths.TryGetValue(blob.Digest, out var path))
        {
            throw new ContainerException(OstreeErrorCode.BlobNotFound, $"Blob {blob.Digest} not found in {Reference}");
        }

        return Task.FromResult(_files.OpenBlob(path, blob, offset, Reference.ToString()));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([]);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
