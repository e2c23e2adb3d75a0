// Compressed tarballs as libarchive reads them for `commit --tree=tar=`: the compression is found from the first bytes,
// not from the file name.
using System.IO.Compression;
using OstreeSharp.Internal;

namespace OstreeSharp.Containers.Store;

/// <summary>Opens a tarball that may be compressed with gzip, zstd or xz.</summary>
public static class Tarballs
{
    private static readonly byte[] Gzip = [0x1f, 0x8b];
    private static readonly byte[] Zstd = [0x28, 0xb5, 0x2f, 0xfd];
    private static readonly byte[] Xz = [0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00];
    private static readonly byte[] Bzip2 = [(byte)'B', (byte)'Z', (byte)'h'];
    private static readonly byte[] Lz4 = [0x04, 0x22, 0x4d, 0x18];

    /// <summary>
    /// The tar stream in <paramref name="input"/>, decompressed when it starts with the gzip, zstd or xz magic bytes;
    /// errors of the decompressor name <paramref name="name"/>.
    /// </summary>
    /// <exception cref="OstreeFormatException">Another compression (bzip2, lz4), or corrupt compressed data.</exception>
    public static Stream OpenDecompressed(Stream input, string name)
    {
        ArgumentNullException.ThrowIfNull(input);
        var head = new byte[6];
        int n = input.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var whole = new PrefixedStream(head.AsMemory(0, n), input);
        var magic = head.AsSpan(0, n);
        const int Buffer = 256 * 1024;
        if (magic.StartsWith(Gzip))
        {
            return new NamedErrors(new GZipStream(new BufferedStream(whole, Buffer), CompressionMode.Decompress), name, "gzip");
        }

        if (magic.StartsWith(Zstd))
        {
            return new NamedErrors(new ZstdSharp.DecompressionStream(new BufferedStream(whole, Buffer)), name, "zstd");
        }

        if (magic.StartsWith(Xz))
        {
            return new NamedErrors(OstreeSharp.Deltas.Xz.OpenDecompressing(whole, name), name, "xz");
        }

        if (magic.StartsWith(Bzip2) || magic.StartsWith(Lz4))
        {
            throw new OstreeFormatException($"{name}: {(magic[0] == 'B' ? "bzip2" : "lz4")}-compressed tarballs are not supported (gzip, zstd and xz are)");
        }

        return whole;
    }

    // Decompressors report corrupt data with their own exception types and no file name.
    private sealed class NamedErrors(Stream inner, string name, string format) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer)
        {
            try
            {
                return inner.Read(buffer);
            }
            catch (Exception e) when (e is InvalidDataException or ZstdSharp.ZstdException or OstreeException)
            {
                throw new OstreeFormatException($"{name}: corrupt {format} data: {e.Message}");
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
