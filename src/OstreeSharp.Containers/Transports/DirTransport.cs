using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Internal;

namespace OstreeSharp.Containers.Transports;

/// <summary>
/// skopeo's <c>dir:</c> layout: <c>version</c>, <c>manifest.json</c> (the top-level manifest), one file per
/// blob named by its hex digest, and <c>HEX.manifest.json</c> for the manifests of an index.
/// </summary>
internal static class DirLayout
{
    /// <summary>The content of the <c>version</c> file.</summary>
    public const string Version = "Directory Transport Version: 1.1\n";

    internal static string BlobName(Digest d) => d.Algorithm == "sha256" ? d.Hex : d.Algorithm + "-" + d.Hex;

    internal static string ManifestName(Digest? instance) => instance is { } d ? BlobName(d) + ".manifest.json" : "manifest.json";
}

/// <summary>Reads a <c>dir:</c> image.</summary>
internal sealed class DirSource : IImageSource
{
    private readonly string _root;

    /// <summary>Opens a <c>dir:</c> image.</summary>
    public DirSource(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        _root = reference.Name;
        if (!File.Exists(Path.Combine(_root, "manifest.json")))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{reference}: no manifest.json in {_root}");
        }
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <inheritdoc/>
    public Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken)
    {
        var bytes = LocalBlobs.ReadManifestFile(Path.Combine(_root, DirLayout.ManifestName(instance)), Reference.ToString());
        var m = new ManifestBlob(bytes, null, Reference.ToString());
        if (instance is { } d)
        {
            m.Verify(d);
        }

        return Task.FromResult(m);
    }

    /// <inheritdoc/>
    public Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        return Task.FromResult(LocalBlobs.Open(Path.Combine(_root, DirLayout.BlobName(blob.GetDigest())), blob, offset, Reference.ToString()));
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<string>>([]);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Writes a <c>dir:</c> image (replacing an earlier one in the same directory).</summary>
internal sealed class DirDestination : IImageDestination
{
    private readonly string _root;
    private readonly bool _createdRoot;
    private ManifestBlob? _top;
    private bool _committed;

    /// <summary>
    /// Opens a directory for writing; a non-empty directory must already be a <c>dir:</c> image, which is replaced.
    /// A copy that fails leaves the directory empty (removed if it created it).
    /// </summary>
    public DirDestination(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        _root = reference.Name;
        if (Directory.Exists(_root) && Directory.EnumerateFileSystemEntries(_root).Any())
        {
            if (!File.Exists(Path.Combine(_root, "version")))
            {
                throw new ContainerException(OstreeErrorCode.AlreadyExists, $"{reference}: {_root} is not empty and not a dir: image; refusing to overwrite it");
            }

            foreach (var f in Directory.EnumerateFileSystemEntries(_root))
            {
                FileUtil.DeleteAny(f);
            }
        }

        _createdRoot = !Directory.Exists(_root);
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, "version"), DirLayout.Version);
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <inheritdoc/>
    public bool AcceptsDockerTypes => true;

    /// <inheritdoc/>
    public Task<bool> TryReuseBlobAsync(Descriptor blob, ImageReference? source, CancellationToken cancellationToken) => Task.FromResult(false);

    /// <inheritdoc/>
    public Task PutBlobAsync(Descriptor blob, BlobOpener open, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        return LocalBlobs.WriteAsync(Path.Combine(_root, DirLayout.BlobName(blob.GetDigest())), blob, open, progress, Reference.ToString(), cancellationToken);
    }

    /// <inheritdoc/>
    public Task PutManifestAsync(ManifestBlob manifest, bool topLevel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (topLevel)
        {
            _top = manifest;
        }
        else
        {
            FileUtil.WriteAtomic(Path.Combine(_root, DirLayout.ManifestName(manifest.Digest)), manifest.Bytes, fsync: false);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task CommitAsync(CancellationToken cancellationToken)
    {
        FileUtil.WriteAtomic(Path.Combine(_root, "manifest.json"), (_top ?? throw new InvalidOperationException("no top-level manifest was written")).Bytes, fsync: false);
        _committed = true;
        return Task.CompletedTask;
    }

    /// <summary>Without a <see cref="CommitAsync"/>, removes what was written.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_committed)
        {
            if (_createdRoot)
            {
                FileUtil.DeleteAny(_root);
            }
            else if (Directory.Exists(_root))
            {
                foreach (var f in Directory.EnumerateFileSystemEntries(_root).ToList())
                {
                    FileUtil.DeleteAny(f);
                }
            }
        }

        return ValueTask.CompletedTask;
    }
}
