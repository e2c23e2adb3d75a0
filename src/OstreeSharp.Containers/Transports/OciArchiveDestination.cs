using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Transports;

/// <summary>
/// Writes an <c>oci-archive:</c>: the layout is assembled in a temp directory beside the archive, then
/// tarred (deterministically) into a temp file renamed over the target on <see cref="CommitAsync"/>.
/// </summary>
internal sealed class OciArchiveDestination : IImageDestination
{
    private readonly string _archive;
    private readonly string _work;
    private readonly OciLayoutDestination _layout;

    /// <summary>Starts writing <paramref name="reference"/>.</summary>
    public OciArchiveDestination(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Reference = reference;
        _archive = Path.GetFullPath(reference.Path);
        var dir = Path.GetDirectoryName(_archive)!;
        if (!Directory.Exists(dir))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{reference}: no such directory {dir}");
        }

        _work = Path.Combine(dir, "." + Path.GetFileName(_archive) + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
        _layout = new OciLayoutDestination(reference, _work, reference.Tag);
    }

    /// <inheritdoc/>
    public ImageReference Reference { get; }

    /// <inheritdoc/>
    public bool AcceptsDockerTypes => false;

    /// <inheritdoc/>
    public Task<bool> TryReuseBlobAsync(Descriptor blob, ImageReference? source, CancellationToken cancellationToken) => _layout.TryReuseBlobAsync(blob, source, cancellationToken);

    /// <inheritdoc/>
    public Task PutBlobAsync(Descriptor blob, BlobOpener open, IProgress<long>? progress, CancellationToken cancellationToken) => _layout.PutBlobAsync(blob, open, progress, cancellationToken);

    /// <inheritdoc/>
    public Task PutManifestAsync(ManifestBlob manifest, bool topLevel, CancellationToken cancellationToken) => _layout.PutManifestAsync(manifest, topLevel, cancellationToken);

    /// <inheritdoc/>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _layout.CommitAsync(cancellationToken).ConfigureAwait(false);
        var tmp = _work + ".tar";
        try
        {
            await using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                using var tar = new TarWriter(fs, leaveOpen: true);
                WriteTree(tar, _work, string.Empty);
                tar.Finish();
            }

            File.Move(tmp, _archive, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static void WriteTree(TarWriter tar, string dir, string prefix)
    {
        var entries = Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>().Where(n => !n.StartsWith(".tmp-", StringComparison.Ordinal)).OrderBy(n => n, StringComparer.Ordinal);
        foreach (var name in entries)
        {
            var full = Path.Combine(dir, name);
            var rel = prefix + name;
            if (Directory.Exists(full))
            {
                tar.WriteEntry(new TarEntry { Name = rel + "/", Type = TarType.Directory, Mode = 0x1ed });
                WriteTree(tar, full, rel + "/");
            }
            else
            {
                using var f = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
                tar.WriteEntry(new TarEntry { Name = rel, Type = TarType.Regular, Mode = 0x1a4, Size = f.Length }, f);
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }

        return ValueTask.CompletedTask;
    }
}
