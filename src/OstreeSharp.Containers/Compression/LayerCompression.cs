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
    /// The input each zstd worker compresses at a time: 1.5 MiB instead of libzstd's 8 MiB at level 3 (four times the
    /// window). On the Debian tree, `zstd -T1 -B1536K` peaks at 14.5 MB against 54 MB for `zstd -T1`, for a layer 1%
    /// larger; with 2 MiB it peaks at 17.8 MB and compresses 4% faster, with 1 MiB at 11.4 MB and 10% slower. Part
    /// of the bytes: the same for any number of workers.
    /// </summary>
    internal const int ZstdJobSize = 1536 << 10;

    /// <summary>
    /// A compressing stream over <paramref name="output"/> (left open), on <paramref name="threads"/> threads (default:
    /// every core for gzip, every core but the caller's for zstd; 1 compresses on the caller's thread, cheaper for small
    /// layers written side by side).
    /// </summary>
    public static Stream Compress(Stream output, LayerCompression c, bool fast, int? threads = null)
    {
        // zstd's multi-threaded mode (1 worker or more) gives the same bytes for any number of workers, so the default
        // stays in it on every machine; single-threaded mode (0 workers) gives other bytes and is asked for explicitly.
        // By default zstd gets one worker per core but the caller's, whose thread makes the tar (reads, inflates and
        // hashes the objects): on two cores a second worker took as long and 12 MB more (same bytes either way).
        int workers = threads is { } t ? (t > 1 ? t : 0) : Math.Max(1, Environment.ProcessorCount - (c == LayerCompression.Zstd ? 1 : 0));
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
