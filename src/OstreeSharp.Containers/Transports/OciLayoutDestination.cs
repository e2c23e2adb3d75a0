using System.Text.Json;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Internal;

namespace OstreeSharp.Containers.Transports;

/// <summary>
/// Writes an image into an OCI image layout directory. Blobs land through temp files checked against
/// their digests; index.json is replaced atomically on <see cref="CommitAsync"/>, so a failed copy
/// leaves the layout's images as they were.
/// </summary>
internal sealed class OciLayoutDestination : IImageDestination
{
    private readonly string _root;
    private readonly string? _tag;
    private readonly string _what;
    private readonly List<string> _created = [];
    private Descriptor? _top;
    private bool _committed;

    /// <summary>Opens (creating if needed) a layout directory for writing.</summary>
    public OciLayoutDestination(ImageReference reference)
        : this(reference, reference?.Path ?? throw new ArgumentNullException(nameof(reference)), reference.Tag)
    {
    }

    internal OciLayoutDestination(ImageReference reference, string root, string? tag)
    {
        Reference = reference;
        _root = root;
        _tag = tag;
        _what = reference.ToString();
        // What this copy adds is removed again if it fails: the layout itself when it is new, else the blobs it wrote.
        if (!Directory.Exists(root))
        {
            Created(root);
        }
        else
        {
            foreach (var d in new[] { "blobs", "blobs/sha256", "oci-layout" })
            {
                if (!Path.Exists(Path.Combine(root, d)))
                {
                    Created(Path.Combine(root, d));
                }
            }
        }

        Directory.CreateDirectory(Path.Combine(root, "blobs", "sha256"));
        var marker = Path.Combine(root, "oci-layout");
        if (!File.Exists(marker))
        {
            FileUtil.WriteAtomic(marker, JsonSerializer.SerializeToUtf8Bytes(new OciLayoutMarker(), OciJsonContext.Writer.OciLayoutMarker), fsync: false);
        }
    }

    private void Created(string path)
    {
        lock (_created)
        {
            _created.Add(path);
        }
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <inheritdoc/>
    public bool AcceptsDockerTypes => false;

    /// <summary>The layout directory.</summary>
    public string Root => _root;

    /// <inheritdoc/>
    public Task<bool> TryReuseBlobAsync(Descriptor blob, ImageReference? source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var path = BlobFile(blob.GetDigest());
        return Task.FromResult(File.Exists(path) && new FileInfo(path).Length == blob.Size);
    }

    /// <inheritdoc/>
    public Task PutBlobAsync(Descriptor blob, BlobOpener open, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var path = BlobFile(blob.GetDigest());
        if (!File.Exists(path))
        {
            Created(path);
        }

        return LocalBlobs.WriteAsync(path, blob, open, progress, _what, cancellationToken);
    }

    /// <summary>A folder on the layout's file system where a blob can be staged for <see cref="AdoptBlobFile"/>.</summary>
    public string StagingDirectory => Path.Combine(_root, "blobs", "sha256");

    /// <summary>Moves a file whose digest the caller computed while writing it into place as <paramref name="blob"/>'s blob.</summary>
    public void AdoptBlobFile(string path, Descriptor blob)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var target = BlobFile(blob.GetDigest());
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (!File.Exists(target))
        {
            Created(target);
        }

        File.Move(path, target, overwrite: true);
    }

    /// <inheritdoc/>
    public Task PutManifestAsync(ManifestBlob manifest, bool topLevel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (MediaTypes.IsDocker(manifest.MediaType))
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"{_what}: an OCI layout cannot hold a {manifest.MediaType} manifest");
        }

        var path = BlobFile(manifest.Digest);
        if (!File.Exists(path))
        {
            Created(path);
            FileUtil.WriteAtomic(path, manifest.Bytes, fsync: false);
        }

        if (topLevel)
        {
            _top = manifest.ToDescriptor();
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_top is null)
        {
            throw new InvalidOperationException("no top-level manifest was written");
        }

        var indexPath = Path.Combine(_root, "index.json");
        ImageIndex index;
        if (File.Exists(indexPath))
        {
            try
            {
                index = JsonSerializer.Deserialize(File.ReadAllBytes(indexPath), OciJsonContext.Default.ImageIndex) ?? new ImageIndex();
            }
            catch (JsonException e)
            {
                throw new ManifestException($"Malformed index.json in {_what}: {e.Message}");
            }
        }
        else
        {
            index = new ImageIndex();
        }

        var entry = _top;
        if (_tag is not null)
        {
            entry.Annotations = new Dictionary<string, string> { [OciLayoutSource.RefNameAnnotation] = _tag };
            index.Manifests.RemoveAll(d => d.Annotations is { } a && a.TryGetValue(OciLayoutSource.RefNameAnnotation, out var n) && n == _tag);
        }
        else
        {
            index.Manifests.RemoveAll(d => d.Digest == entry.Digest && (d.Annotations is null || !d.Annotations.ContainsKey(OciLayoutSource.RefNameAnnotation)));
        }

        index.Manifests.Add(entry);
        FileUtil.WriteAtomic(indexPath, JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Writer.ImageIndex), fsync: false);
        _committed = true;
        return Task.CompletedTask;
    }

    private string BlobFile(Digest d) => Path.Combine(_root, "blobs", d.Algorithm, d.Hex);

    /// <summary>Without a <see cref="CommitAsync"/>, removes what this copy added to the layout.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_committed)
        {
            lock (_created)
            {
                for (int i = _created.Count - 1; i >= 0; i--)
                {
                    FileUtil.DeleteAny(_created[i]);
                }

                _created.Clear();
            }
        }

        return ValueTask.CompletedTask;
    }
}
