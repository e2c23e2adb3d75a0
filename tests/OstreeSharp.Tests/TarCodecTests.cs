using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Tar;

namespace OstreeSharp.Tests;

public class TarCodecTests
{
    private static byte[] Write(Action<TarWriter> body)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, leaveOpen: true))
        {
            body(w);
            w.Finish();
        }

        return ms.ToArray();
    }

    private static List<(TarEntry Entry, byte[] Data)> ReadAll(byte[] tar)
    {
        var list = new List<(TarEntry, byte[])>();
        using var r = new TarReader(new MemoryStream(tar));
        TarEntry? e;
        while ((e = r.GetNextEntry()) is not null)
        {
            var ms = new MemoryStream();
            r.DataStream.CopyTo(ms);
            list.Add((e, ms.ToArray()));
        }

        return list;
    }

    [Fact]
    public void Long_names_links_binary_xattrs_and_big_numbers_round_trip()
    {
        var longName = string.Join('/', Enumerable.Repeat("a-long-directory-name", 12)) + "/fïlé";
        var longLink = string.Concat(Enumerable.Repeat("target/", 30)) + "end";
        var bin = new byte[] { 0, 1, 2, 0xff, (byte)'\n', (byte)'=' };
        var tar = Write(w =>
        {
            var f = new TarEntry { Name = longName, Mode = 0x9ED, Uid = 3_000_000, Gid = 7, Mtime = 1L << 40 };
            f.Xattrs.Add(Xattr.Create("user.bin", bin));
            f.Xattrs.Add(Xattr.Create("security.selinux", "system_u:object_r:bin_t:s0\0"u8.ToArray()));
            w.WriteFile(f, "hello"u8);
            w.WriteEntry(new TarEntry { Name = "link", Type = TarType.Symlink, LinkName = longLink, Mode = 0x1FF });
            w.WriteEntry(new TarEntry { Name = "dir", Type = TarType.Directory, Mode = 0x3FF });
        });
        Assert.Equal(0, tar.Length % 512);
        var entries = ReadAll(tar);
        Assert.Equal(3, entries.Count);
        var (e0, d0) = entries[0];
        Assert.Equal(longName, e0.Name);
        Assert.Equal(0x9EDu, e0.Mode);
        Assert.Equal(3_000_000u, e0.Uid);
        Assert.Equal(1L << 40, e0.Mtime);
        Assert.Equal("hello"u8.ToArray(), d0);
        Assert.Equal(bin, e0.Xattrs.Single(x => x.NameString == "user.bin").Value);
        Assert.Equal(longLink, entries[1].Entry.LinkName);
        Assert.True(entries[2].Entry.IsDirectory);
    }

    [Fact]
    public void Output_is_deterministic()
    {
        byte[] Make() => Write(w => w.WriteFile(new TarEntry { Name = "x", Mode = 0x1A4 }, "data"u8));
        Assert.Equal(Make(), Make());
    }

    [Fact]
    public void A_corrupted_header_checksum_is_refused()
    {
        var tar = Write(w => w.WriteFile(new TarEntry { Name = "x", Mode = 0x1A4 }, "data"u8));
        tar[10] ^= 1;
        var e = Assert.Throws<TarFormatException>(() => ReadAll(tar));
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void Truncated_archives_are_refused()
    {
        var tar = Write(w => w.WriteFile(new TarEntry { Name = "x", Mode = 0x1A4 }, new byte[5000]));
        Assert.Throws<TarFormatException>(() => ReadAll(tar[..3000]));
        Assert.Throws<TarFormatException>(() => ReadAll(tar[..300]));
    }

    [Fact]
    public void Unread_data_is_skipped_by_a_stream_that_can_skip_and_a_short_skip_is_truncation()
    {
        var tar = Write(w =>
        {
            w.WriteFile(new TarEntry { Name = "big", Mode = 0x1A4 }, new byte[5000]);
            w.WriteFile(new TarEntry { Name = "small", Mode = 0x1A4 }, "data"u8);
        });
        var skipping = new SkippingStream(tar, lie: false);
        using (var reader = new TarReader(skipping))
        {
            Assert.Equal("big", reader.GetNextEntry()!.Name);
            var second = reader.GetNextEntry()!;
            Assert.Equal("small", second.Name);
            var data = new byte[4];
            reader.DataStream.ReadExactly(data);
            Assert.Equal("data"u8.ToArray(), data);
            Assert.Null(reader.GetNextEntry());
        }

        Assert.Equal([5000L], skipping.Skips);
        using var lying = new TarReader(new SkippingStream(tar, lie: true));
        lying.GetNextEntry();
        Assert.Throws<TarFormatException>(() => lying.GetNextEntry());
    }

    // A stream over bytes that records its skips; a lying one skips less than asked though bytes remain.
    private sealed class SkippingStream(byte[] bytes, bool lie) : ReadOnlyStream, ISkippingStream
    {
        private int _at;

        public List<long> Skips { get; } = [];

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, bytes.Length - _at);
            bytes.AsSpan(_at, n).CopyTo(buffer);
            _at += n;
            return n;
        }

        public long Skip(long count)
        {
            Skips.Add(count);
            long n = Math.Min(count - (lie ? 1 : 0), bytes.Length - _at);
            _at += (int)n;
            return n;
        }
    }

    [Fact]
    public void An_empty_stream_is_refused()
    {
        var e = Assert.Throws<TarFormatException>(() => ReadAll([]));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void A_pax_record_with_a_huge_length_is_refused()
    {
        // A PAX header claiming a record longer than its data.
        var tar = Write(w =>
        {
            var f = new TarEntry { Name = "x", Mode = 0x1A4 };
            f.PaxRecords.Add(new("comment", "hi"u8.ToArray()));
            w.WriteFile(f, "d"u8);
        });
        var text = Encoding.ASCII.GetString(tar, 512, 20);
        Assert.StartsWith("14 comment=hi\n", text);
        tar[512] = (byte)'9';
        tar[513] = (byte)'9';
        Assert.Throws<TarFormatException>(() => ReadAll(tar));

        // And a PAX header whose size field is enormous.
        var big = Write(w =>
        {
            var f = new TarEntry { Name = "x", Mode = 0x1A4 };
            f.PaxRecords.Add(new("comment", "hi"u8.ToArray()));
            w.WriteFile(f, "d"u8);
        });
        Encoding.ASCII.GetBytes("77777777777", big.AsSpan(124, 11));
        FixChecksum(big, 0);
        var e = Assert.Throws<TarFormatException>(() => ReadAll(big));
        Assert.Contains("exceeds", e.Message);
    }

    private static void FixChecksum(byte[] tar, int offset)
    {
        var h = tar.AsSpan(offset, 512);
        h.Slice(148, 8).Fill((byte)' ');
        long sum = 0;
        foreach (var b in h)
        {
            sum += b;
        }

        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(7, '0'), h.Slice(148, 7));
        h[155] = 0;
    }
    [Fact]
    public void Header_sums_and_checksum_field_match_the_byte_by_byte_definition()
    {
        var random = new Random(7);
        var header = new byte[512];
        for (int round = 0; round < 200; round++)
        {
            // Plain text, bytes with the top bit set, all 0xFF: the checksum field itself never counts.
            random.NextBytes(header);
            if (round % 3 == 0)
            {
                Array.Fill(header, (byte)(round % 2 == 0 ? 0xFF : 'a'));
            }

            long unsigned = 0, signed = 0;
            for (int i = 0; i < 512; i++)
            {
                byte b = i is >= 148 and < 156 ? (byte)' ' : header[i];
                unsigned += b;
                signed += (sbyte)b;
            }

            Assert.Equal((unsigned, signed), TarHeader.Sums(header));
            for (int format = 0; format < 2; format++)
            {
                TarHeader.WriteChecksum(header, format);
                var text = Convert.ToString(unsigned, 8).PadLeft(format == 0 ? 7 : 6, '0') + (format == 0 ? "\0" : "\0 ");
                Assert.Equal(text, Encoding.ASCII.GetString(header, 148, 8));
                Assert.Equal(format, TarHeader.ChecksumFormat(header));
            }
        }
    }
}
