using System.IO.Compression;
using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Compression;

/// <summary>How a written layer is compressed.</summary>
public enum LayerCompression
{
    /// <summary>gzip (the RI's only choice; every tool reads it).</summary>
    Gzip,

    /// <summary>zstd (<c>application/vnd.oci.image.layer.v1.tar+zstd</c>).</summary>
    Zstd,
}

/// <summary>Compressing and decompressing layer streams by media type.</summary>
internal static class LayerStreams
{
    private const int InputBuffer = 256 * 1024;

    /// <summary>The media type a written layer gets.</summary>
    public static string MediaType(LayerCompression c) => c == LayerCompression.Zstd ? MediaTypes.OciLayerZstd : MediaTypes.OciLayerGzip;

    /// <summary>
    /// The input each zstd worker compresses at a time: 1 MiB instead of libzstd's 8 MiB at level 3 (four times the
    /// window). libzstd holds about four jobs' input and output per stream: with two workers, `zstd -T2 -B1M` peaks at
    /// 14.7 MB on the Debian tree, as `zstd -T1 -B1536K` does, against 72 MB for `zstd -T2`, for a layer 0.7% larger
    /// than with 1.5 MiB jobs. Part of the bytes: the same for any number of workers, so the same from any repository.
    /// </summary>
    internal const int ZstdJobSize = 1 << 20;

    /// <summary>
    /// A compressing stream over <paramref name="output"/> (left open), on <paramref name="threads"/> threads (default:
    /// every core for gzip; for zstd, every core, or every core but the caller's when <paramref name="sourceInflates"/>
    /// says the caller's thread inflates what it writes; 1 compresses on the caller's thread, cheaper for small layers
    /// written side by side).
    /// </summary>
    public static Stream Compress(Stream output, LayerCompression c, bool fast, int? threads = null, bool sourceInflates = false)
    {
        // zstd's multi-threaded mode (1 worker or more) gives the same bytes for any number of workers, so the default
        // stays in it on every machine; single-threaded mode (0 workers) gives other bytes and is asked for explicitly.
        // The caller's thread makes the tar: it reads and hashes the objects, and inflates those of an archive
        // repository. On the Debian tree and two cores (5 alternating runs), a worker per core took 10% less time than
        // one worker from a bare-user repository, for 2 MB more at the peak; from an archive one, where that thread is
        // busy for longer and the workers take its core, it took 6% more.
        int workers = threads is { } t ? (t > 1 ? t : 0) : Math.Max(1, Environment.ProcessorCount - (c == LayerCompression.Zstd && sourceInflates ? 1 : 0));
        if (c == LayerCompression.Zstd)
        {
            // The system's libzstd when there is one (several times faster than the managed port); the port otherwise.
            if (NativeZstdStream.TryCreate(output, fast ? 1 : 3, workers) is { } native)
            {
                return native;
            }

            var z = new ZstdSharp.CompressionStream(output, fast ? 1 : 3, leaveOpen: true);
            z.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_nbWorkers, workers);
            if (workers > 0)
            {
                z.SetParameter(ZstdSharp.Unsafe.ZSTD_cParameter.ZSTD_c_jobSize, ZstdJobSize);
            }

            return z;
        }

        return new ParallelGzipStream(output, fast ? CompressionLevel.Fastest : CompressionLevel.Optimal, leaveOpen: true, parallelism: Math.Max(1, workers));
    }

    /// <summary>
    /// A decompressing stream for a layer of <paramref name="mediaType"/>: gzip, zstd (also zstd:chunked) or
    /// uncompressed tar.
    /// </summary>
    /// <exception cref="ManifestException">"Unhandled layer type".</exception>
    public static Stream Decompress(Stream input, string mediaType) => mediaType switch
    {
        // The decompressors read their input 8 KiB at a time; a larger buffer under them means a tenth of the socket
        // reads and digest updates.
        MediaTypes.OciLayerGzip or MediaTypes.DockerLayerGzip => new GZipStream(new BufferedStream(input, InputBuffer), CompressionMode.Decompress),
        MediaTypes.OciLayerZstd => new ZstdSharp.DecompressionStream(new BufferedStream(input, InputBuffer)),
        MediaTypes.OciLayer or MediaTypes.DockerLayer => input,
        _ => throw new ManifestException($"Unhandled layer type: {mediaType}"),
    };
}
