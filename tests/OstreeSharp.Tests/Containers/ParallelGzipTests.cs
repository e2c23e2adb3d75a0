using System.IO.Compression;
using OstreeSharp.Containers.Compression;

namespace OstreeSharp.Tests.Containers;

public class ParallelGzipTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1 << 20)]
    [InlineData((5 << 20) + 12345)]
    public void Output_is_one_gzip_member_that_every_reader_decodes(int size)
    {
        var data = new byte[size];
        var rng = new Random(size);
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 7 == 0 ? rng.Next(256) : 'a' + (i % 13));
        }

        using var ms = new MemoryStream();
        using (var gz = new ParallelGzipStream(ms, CompressionLevel.Optimal, leaveOpen: true, parallelism: 3))
        {
            // Uneven writes across block boundaries.
            for (int off = 0; off < data.Length;)
            {
                int n = Math.Min(data.Length - off, 1 + rng.Next(300_000));
                gz.Write(data, off, n);
                off += n;
            }
        }

        var bytes = ms.ToArray();
        using var back = new MemoryStream();
        using (var z = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress))
        {
            z.CopyTo(back);
        }

        Assert.Equal(data, back.ToArray());

        // One member: a raw inflate of the body ends exactly before the 8-byte trailer.
        using var raw = new MemoryStream();
        using (var inflate = new DeflateStream(new MemoryStream(bytes, 10, bytes.Length - 18), CompressionMode.Decompress))
        {
            inflate.CopyTo(raw);
        }

        Assert.Equal(data.Length, raw.Length);
        Assert.Equal((uint)size, BitConverter.ToUInt32(bytes, bytes.Length - 4));
    }

    [Fact]
    public void Blocks_that_do_not_compress_cost_their_size_and_the_rest_deflate()
    {
        // 3 MiB of random bytes (already compressed data), then 3 MiB of text.
        var data = new byte[6 << 20];
        new Random(3).NextBytes(data.AsSpan(0, 3 << 20));
        for (int i = 3 << 20; i < data.Length; i++)
        {
            data[i] = (byte)('a' + (i % 17));
        }

        var gzip = RoundTrip(data);

        // The random blocks cost their size plus a few bytes per 65,535 (zlib stores them), the text almost nothing.
        Assert.InRange(gzip.Length, 3 << 20, (3 << 20) + (3 * 17 * 5) + 64 * 1024);
    }

    [Fact]
    public void Text_between_compressed_stretches_of_a_block_is_still_deflated()
    {
        // One block of random bytes with 64 KiB of text in it, placed where a sparse sample of the block sees only
        // random bytes (at 96 KiB): given Huffman codes only, the text would cost about half its size.
        var data = new byte[1 << 20];
        new Random(5).NextBytes(data);
        for (int i = 96 << 10; i < 160 << 10; i++)
        {
            data[i] = (byte)('a' + (i % 17));
        }

        var gzip = RoundTrip(data);
        Assert.InRange(gzip.Length, (1 << 20) - (64 << 10), (1 << 20) - (64 << 10) + (8 << 10));
    }

    [Fact]
    public void A_block_refers_back_into_the_one_before_it()
    {
        // 4 KiB of random bytes over and over, 4 MiB in all: every block after the first starts with a repeat of
        // what ended the block before it. Blocks deflated without that history would each pay the 4 KiB again;
        // with it, the stream costs what one deflater given the whole input writes, give or take the flushes.
        var unit = new byte[4 << 10];
        new Random(4).NextBytes(unit);
        var data = new byte[4 << 20];
        for (int off = 0; off < data.Length; off += unit.Length)
        {
            unit.CopyTo(data, off);
        }

        var gzip = RoundTrip(data);
        using var whole = new MemoryStream();
        using (var z = new DeflateStream(whole, new ZLibCompressionOptions { CompressionLevel = 4 }, leaveOpen: true))
        {
            z.Write(data);
        }

        Assert.InRange(gzip.Length, whole.Length - 1024, whole.Length + 1024);
    }

    // The gzip bytes of DATA, after checking that they decode to it.
    private static byte[] RoundTrip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new ParallelGzipStream(ms, CompressionLevel.Optimal, leaveOpen: true, parallelism: 2))
        {
            gz.Write(data);
        }

        using var back = new MemoryStream();
        using (var z = new GZipStream(new MemoryStream(ms.ToArray()), CompressionMode.Decompress))
        {
            z.CopyTo(back);
        }

        Assert.Equal(data, back.ToArray());
        return ms.ToArray();
    }
}
