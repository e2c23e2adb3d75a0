using System.Text.Json;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Containers.Copy;

/// <summary>What happened to one blob or manifest during a copy.</summary>
public enum CopyStage
{
    /// <summary>A blob transfer started.</summary>
    BlobStarted,

    /// <summary>Bytes of a blob were transferred.</summary>
    BlobProgress,

    /// <summary>A blob is stored at the destination.</summary>
    BlobDone,

    /// <summary>The destination had the blob already (or mounted it).</summary>
    BlobSkipped,

    /// <summary>A manifest or index was written.</summary>
    ManifestWritten,
}

/// <summary>A progress event of <see cref="ImageCopier"/>.</summary>
public sealed record CopyProgress(CopyStage Stage, string Digest, string MediaType, long Done, long Total);

/// <summary>Options of <see cref="ImageCopier"/>.</summary>
public sealed record CopyOptions
{
    /// <summary>Copy every image of an index (and the index) instead of the one for the platform.</summary>
    public bool All { get; init; }

    /// <summary>The OS to select from an index.</summary>
    public string Os { get; init; } = "linux";

    /// <summary>The architecture to select from an index (default: this machine's).</summary>
    public string Architecture { get; init; } = PlatformSelector.HostArchitecture;

    /// <summary>The variant to select, if any.</summary>
    public string? Variant { get; init; }

    /// <summary>Blobs transferred at once.</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>Progress events (called from several threads).</summary>
    public IProgress<CopyProgress>? Progress { get; init; }
}

/// <summary>The outcome of a copy.</summary>
public sealed record CopyResult(Digest ManifestDigest, string MediaType, int BlobsCopied, int BlobsSkipped, long BytesCopied);

/// <summary>
/// Copies an image between any source and destination: blobs first (in parallel, each verified on the
/// way), then manifests, then the destination commits. Docker schema 2 manifests are converted to OCI
/// for destinations that need it (OCI layouts); otherwise manifest bytes pass through untouched.
/// </summary>
public static class ImageCopier
{
    /// <summary>Copies the image <paramref name="source"/> names to <paramref name="destination"/>.</summary>
    public static async Task<CopyResult> CopyAsync(IImageSource source, IImageDestination destination, CopyOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new CopyOptions();
        var stats = new Stats();
        var top = await source.GetManifestAsync(null, cancellationToken).ConfigureAwait(false);
        ManifestBlob written;
        if (top.IsIndex && !options.All)
        {
            var instance = await PlatformSelector.ResolveAsync(source, top, options.Os, options.Architecture, options.Variant, cancellationToken).ConfigureAwait(false);
            if (instance.IsIndex)
            {
                throw new ManifestException($"{source.Reference}: nested index {instance.Digest} is not supported");
            }

            written = await CopyManifestAsync(source, destination, instance, topLevel: true, options, stats, cancellationToken).ConfigureAwait(false);
        }
        else if (top.IsIndex)
        {
            var index = top.AsIndex();
            bool changed = false;
            foreach (var entry in index.Manifests)
            {
                var child = await source.GetManifestAsync(entry.GetDigest(), cancellationToken).ConfigureAwait(false);
                if (child.IsIndex)
                {
                    throw new ManifestException($"{source.Reference}: nested index {entry.Digest} is not supported");
                }

                var copied = await CopyManifestAsync(source, destination, child, topLevel: false, options, stats, cancellationToken).ConfigureAwait(false);
                if (copied.Digest != child.Digest)
                {
                    entry.Digest = copied.Digest.ToString();
                    entry.Size = copied.Bytes.Length;
                    entry.MediaType = copied.MediaType;
                    changed = true;
                }
            }

            written = top;
            if (changed || (!destination.AcceptsDockerTypes && MediaTypes.IsDocker(top.MediaType)))
            {
                index.MediaType = MediaTypes.OciIndex;
                written = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Writer.ImageIndex), MediaTypes.OciIndex, source.Reference.ToString());
            }

            await destination.PutManifestAsync(written, topLevel: true, cancellationToken).ConfigureAwait(false);
            options.Progress?.Report(new CopyProgress(CopyStage.ManifestWritten, written.Digest.ToString(), written.MediaType, written.Bytes.Length, written.Bytes.Length));
        }
        else
        {
            written = await CopyManifestAsync(source, destination, top, topLevel: true, options, stats, cancellationToken).ConfigureAwait(false);
        }

        await destination.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new CopyResult(written.Digest, written.MediaType, stats.Copied, stats.Skipped, stats.Bytes);
    }

    private sealed class Stats
    {
        public int Copied;
        public int Skipped;
        public long Bytes;
    }

    private static async Task<ManifestBlob> CopyManifestAsync(IImageSource source, IImageDestination destination, ManifestBlob manifest, bool topLevel, CopyOptions options, Stats stats, CancellationToken ct)
    {
        var m = manifest.AsManifest();
        var blobs = new List<Descriptor> { m.Config };
        foreach (var layer in m.Layers)
        {
            bool foreign = layer.Urls is { Count: > 0 } && (layer.MediaType == MediaTypes.DockerForeignLayer || layer.MediaType.Contains("nondistributable", StringComparison.Ordinal));
            if (!foreign && blobs.All(b => b.Digest != layer.Digest))
            {
                blobs.Add(layer);
            }
        }

        await Parallel.ForEachAsync(
            blobs,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism), CancellationToken = ct },
            async (blob, t) => await CopyBlobAsync(source, destination, blob, options.Progress, stats, t).ConfigureAwait(false)).ConfigureAwait(false);

        var output = manifest;
        if (!destination.AcceptsDockerTypes && MediaTypes.IsDocker(manifest.MediaType))
        {
            output = ConvertToOci(m, source.Reference.ToString());
        }

        await destination.PutManifestAsync(output, topLevel, ct).ConfigureAwait(false);
        options.Progress?.Report(new CopyProgress(CopyStage.ManifestWritten, output.Digest.ToString(), output.MediaType, output.Bytes.Length, output.Bytes.Length));
        return output;
    }

    private static async Task CopyBlobAsync(IImageSource source, IImageDestination destination, Descriptor blob, IProgress<CopyProgress>? progress, Stats stats, CancellationToken ct)
    {
        if (await destination.TryReuseBlobAsync(blob, source.Reference, ct).ConfigureAwait(false))
        {
            Interlocked.Increment(ref stats.Skipped);
            progress?.Report(new CopyProgress(CopyStage.BlobSkipped, blob.Digest, blob.MediaType, blob.Size, blob.Size));
            return;
        }

        progress?.Report(new CopyProgress(CopyStage.BlobStarted, blob.Digest, blob.MediaType, 0, blob.Size));
        IProgress<long>? bytes = progress is null ? null : new Relay(n => progress.Report(new CopyProgress(CopyStage.BlobProgress, blob.Digest, blob.MediaType, n, blob.Size)));
        await destination.PutBlobAsync(blob, (offset, t) => source.GetBlobAsync(blob, offset, t), bytes, ct).ConfigureAwait(false);
        Interlocked.Increment(ref stats.Copied);
        Interlocked.Add(ref stats.Bytes, blob.Size);
        progress?.Report(new CopyProgress(CopyStage.BlobDone, blob.Digest, blob.MediaType, blob.Size, blob.Size));
    }

    /// <summary>Rewrites a Docker schema 2 manifest with the corresponding OCI media types.</summary>
    public static ManifestBlob ConvertToOci(ImageManifest manifest, string what)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var converted = new ImageManifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = Clone(manifest.Config, MediaTypes.ToOci(manifest.Config.MediaType)),
            Layers = [.. manifest.Layers.Select(l => Clone(l, MediaTypes.ToOci(l.MediaType)))],
            Annotations = manifest.Annotations,
            Subject = manifest.Subject,
        };
        return new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(converted, OciJsonContext.Writer.ImageManifest), MediaTypes.OciManifest, what);
    }

    private static Descriptor Clone(Descriptor d, string mediaType) => new()
    {
        MediaType = mediaType,
        Digest = d.Digest,
        Size = d.Size,
        Urls = d.Urls,
        Annotations = d.Annotations,
    };

    private sealed class Relay(Action<long> report) : IProgress<long>
    {
        private long _last = -1;
        private long _lastTicks;

        public void Report(long value)
        {
            // At most ~10 events a second per blob, plus the last one.
            long now = Environment.TickCount64;
            if (value == _last || (now - _lastTicks < 100 && value != 0))
            {
                return;
            }

            _last = value;
            _lastTicks = now;
            report(value);
        }
    }
}
