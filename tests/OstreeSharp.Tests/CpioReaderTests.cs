using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using OstreeSharp.Tar;

namespace OstreeSharp.Tests;

public class CpioReaderTests
{
    private sealed record Item(string Name, uint Mode, byte[] Data, uint Ino = 0, uint Nlink = 1, uint Uid = 0, uint Gid = 0, uint Mtime = 0);

    private const uint Dir = 0x41ED, File = 0x81A4, Link = 0xA1FF;

    private static Item F(string name, string data, uint ino = 0, uint nlink = 1) => new(name, File, Encoding.UTF8.GetBytes(data), ino, nlink);

    // newc (070701) or crc (070702): hex fields, header+name and data padded to 4 bytes.
    private static byte[] Newc(IEnumerable<Item> items, bool crc = false, bool trailer = true)
    {
        var ms = new MemoryStream();
        void Put(Item it, uint? check = null)
        {
            var name = Encoding.UTF8.GetBytes(it.Name + "\0");
            uint sum = 0;
            foreach (var b in it.Data)
            {
                sum += b;
            }

            uint[] fields = [it.Ino, it.Mode, it.Uid, it.Gid, it.Nlink, it.Mtime, (uint)it.Data.Length, 8, 1, 0, 0, (uint)name.Length, check ?? (crc ? sum : 0)];
            var header = (crc ? "070702" : "070701") + string.Concat(fields.Select(f => f.ToString("X8", CultureInfo.InvariantCulture)));
            ms.Write(Encoding.ASCII.GetBytes(header));
            ms.Write(name);
            Pad();
            ms.Write(it.Data);
            Pad();
        }

        void Pad()
        {
            while (ms.Length % 4 != 0)
            {
                ms.WriteByte(0);
            }
        }

        foreach (var it in items)
        {
            Put(it);
        }

        if (trailer)
        {
            Put(new Item("TRAILER!!!", 0, [], Nlink: 1));
        }

        return ms.ToArray();
    }

    // odc (070707): octal fields, no padding.
    private static byte[] Odc(IEnumerable<Item> items)
    {
        var ms = new MemoryStream();
        foreach (var it in items.Append(new Item("TRAILER!!!", 0, [])))
        {
            static string O(ulong v, int width) => Convert.ToString((long)v, 8).PadLeft(width, '0');
            var name = Encoding.UTF8.GetBytes(it.Name + "\0");
            var header = "070707" + O(0x801, 6) + O(it.Ino, 6) + O(it.Mode, 6) + O(it.Uid, 6) + O(it.Gid, 6) + O(it.Nlink, 6) + O(0, 6)
                + O(it.Mtime, 11) + O((ulong)name.Length, 6) + O((ulong)it.Data.Length, 11);
            ms.Write(Encoding.ASCII.GetBytes(header));
            ms.Write(name);
            ms.Write(it.Data);
        }

        return ms.ToArray();
    }

    // Old binary cpio: 16-bit words in the writer's byte order, 32-bit values high word first, padding to 2 bytes.
    private static byte[] Bin(IEnumerable<Item> items, bool bigEndian)
    {
        var ms = new MemoryStream();
        foreach (var it in items.Append(new Item("TRAILER!!!", 0, [])))
        {
            var name = Encoding.UTF8.GetBytes(it.Name + "\0");
            ushort[] words = [0x71C7, 0x801, (ushort)it.Ino, (ushort)it.Mode, (ushort)it.Uid, (ushort)it.Gid, (ushort)it.Nlink, 0,
                (ushort)(it.Mtime >> 16), (ushort)it.Mtime, (ushort)name.Length, (ushort)(it.Data.Length >> 16), (ushort)it.Data.Length];
            var w = new byte[2];
            foreach (var word in words)
            {
                if (bigEndian)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(w, word);
                }
                else
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(w, word);
                }

                ms.Write(w);
            }

            ms.Write(name);
            if (name.Length % 2 != 0)
            {
                ms.WriteByte(0);
            }

            ms.Write(it.Data);
            if (it.Data.Length % 2 != 0)
            {
                ms.WriteByte(0);
            }
        }

        return ms.ToArray();
    }

    private static List<(TarEntry Entry, byte[] Data)> ReadAll(byte[] archive)
    {
        var list = new List<(TarEntry, byte[])>();
        using var r = new CpioReader(new MemoryStream(archive), "test.cpio");
        TarEntry? e;
        while ((e = r.GetNextEntry()) is not null)
        {
            var ms = new MemoryStream();
            r.DataStream.CopyTo(ms);
            list.Add((e, ms.ToArray()));
        }

        return list;
    }

    private static readonly Item[] Sample =
    [
        new(".", Dir, [], Ino: 1, Nlink: 3),
        new("./usr", Dir, [], Ino: 2, Nlink: 2, Uid: 1000, Gid: 100, Mtime: 1_700_000_000),
        new("./usr/a", File, "hello"u8.ToArray(), Ino: 3, Uid: 1000, Gid: 100, Mtime: 1_700_000_001),
        new("./usr/bb", 0x8DED, "x"u8.ToArray(), Ino: 4),
        new("./usr/sl", Link, "a"u8.ToArray(), Ino: 5),
        new("./usr/fïlé with spaces", File, new byte[1000], Ino: 6),
    ];

    private static void AssertSample(List<(TarEntry Entry, byte[] Data)> entries)
    {
        Assert.Equal(Sample.Select(i => i.Name), entries.Select(e => e.Entry.Name));
        Assert.Equal([TarType.Directory, TarType.Directory, TarType.Regular, TarType.Regular, TarType.Symlink, TarType.Regular], entries.Select(e => e.Entry.Type));
        var a = entries[2].Entry;
        Assert.Equal((0x1A4u, 1000u, 100u, 5L, 1_700_000_001L), (a.Mode, a.Uid, a.Gid, a.Size, a.Mtime));
        Assert.Equal("hello"u8.ToArray(), entries[2].Data);
        Assert.Equal(0xDEDu, entries[3].Entry.Mode); // setuid, setgid and sticky bits are kept
        Assert.Equal("a", entries[4].Entry.LinkName);
        Assert.Empty(entries[4].Data);
        Assert.Equal(new byte[1000], entries[5].Data);
        Assert.All(entries, e => Assert.Null(e.Entry.HardLinkTo));
    }

    [Fact]
    public void Newc_entries_parse_with_their_padding()
    {
        var archive = Newc(Sample);
        Assert.True(CpioReader.IsCpio(archive));
        AssertSample(ReadAll(archive));
    }

    [Fact]
    public void Crc_entries_parse_and_their_data_checksum_is_verified()
    {
        AssertSample(ReadAll(Newc(Sample, crc: true)));
        var bad = Newc([F("f", "data")], crc: true);
        bad[112] ^= 1; // first data byte, after the 110-byte header and the padded name "f\0"
        var e = Assert.Throws<TarFormatException>(() => ReadAll(bad));
        Assert.Contains("checksum mismatch", e.Message);
        Assert.StartsWith("test.cpio: ", e.Message);
    }

    [Fact]
    public void Odc_entries_parse()
    {
        var archive = Odc(Sample);
        Assert.True(CpioReader.IsCpio(archive));
        AssertSample(ReadAll(archive));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Binary_entries_parse_in_either_byte_order(bool bigEndian)
    {
        var archive = Bin(Sample, bigEndian);
        Assert.True(CpioReader.IsCpio(archive));
        AssertSample(ReadAll(archive));
    }

    [Fact]
    public void Later_names_of_an_inode_are_hard_links_to_the_first_and_the_last_carries_the_data()
    {
        // As GNU cpio writes a file with three names: the data comes with the last one.
        var entries = ReadAll(Newc(
        [
            F("usr/bin/bar", string.Empty, ino: 7, nlink: 3),
            F("usr/local/bin/baz", string.Empty, ino: 7, nlink: 3),
            F("other", "solo", ino: 8),
            F("usr/bin/foo", "contents\n", ino: 7, nlink: 3),
            // All three names seen: the inode number may start a new file.
            F("again", "new", ino: 7, nlink: 2),
            new Item("sl2", Link, "target"u8.ToArray(), Ino: 9, Nlink: 2),
            new Item("sl1", Link, "target"u8.ToArray(), Ino: 9, Nlink: 2),
        ]));
        Assert.Equal([null, "usr/bin/bar", null, "usr/bin/bar", null, null, "sl2"], entries.Select(e => e.Entry.HardLinkTo));
        Assert.Equal([0L, 0, 4, 9, 3, 6, 6], entries.Select(e => e.Entry.Size));
        Assert.Equal("contents\n"u8.ToArray(), entries[3].Data);
        Assert.Equal(TarType.Regular, entries[3].Entry.Type);
        Assert.Equal((TarType.Symlink, "target"), (entries[6].Entry.Type, entries[6].Entry.LinkName));
    }

    [Fact]
    public void Directories_are_never_hard_links()
    {
        var entries = ReadAll(Newc([new(".", Dir, [], Ino: 1, Nlink: 2), new("d", Dir, [], Ino: 1, Nlink: 2)]));
        Assert.All(entries, e => Assert.Null(e.Entry.HardLinkTo));
    }

    [Fact]
    public void Every_truncation_is_a_typed_error_naming_the_file()
    {
        var archive = Newc(Sample);
        for (int n = 0; n < archive.Length; n++)
        {
            var e = Assert.Throws<TarFormatException>(() => ReadAll(archive[..n]));
            Assert.StartsWith("test.cpio: ", e.Message);
            Assert.Contains(n == 0 ? "empty stream" : "truncated cpio archive", e.Message);
        }

        var odc = Odc(Sample);
        for (int n = 1; n < odc.Length; n++)
        {
            Assert.Contains("truncated", Assert.Throws<TarFormatException>(() => ReadAll(odc[..n])).Message);
        }
    }

    [Fact]
    public void An_archive_without_its_trailer_is_refused()
    {
        var e = Assert.Throws<TarFormatException>(() => ReadAll(Newc([F("a", "1")], trailer: false)));
        Assert.Contains("without the TRAILER!!! entry", e.Message);
    }

    [Fact]
    public void Malformed_headers_are_refused_with_their_offset()
    {
        var archive = Newc([F("a", "1"), F("b", "2")]);
        const int second = 116; // 110 + "a\0" (already aligned), then 1 byte of data padded to 4
        var badMagic = (byte[])archive.Clone();
        badMagic[second + 5] = (byte)'7'; // an odc magic inside a newc archive
        Assert.Contains($"not a newc cpio header at offset {second}", Assert.Throws<TarFormatException>(() => ReadAll(badMagic)).Message);

        var badHex = (byte[])archive.Clone();
        badHex[second + 6 + 8] = (byte)'g'; // the mode field
        Assert.Contains($"invalid hexadecimal mode field in cpio header at offset {second}", Assert.Throws<TarFormatException>(() => ReadAll(badHex)).Message);

        var noNul = (byte[])archive.Clone();
        noNul[111] = (byte)'x'; // the name's NUL
        Assert.Contains("does not end with a NUL", Assert.Throws<TarFormatException>(() => ReadAll(noNul)).Message);

        var zeroName = Newc([new Item(string.Empty, File, [])]);
        Assert.Contains("invalid cpio name size 1", Assert.Throws<TarFormatException>(() => ReadAll(zeroName)).Message);

        var huge = Encoding.ASCII.GetBytes("070701" + string.Concat(Enumerable.Repeat("00000000", 11)) + "7FFFFFFF" + "00000000");
        Assert.Contains("invalid cpio name size", Assert.Throws<TarFormatException>(() => ReadAll(huge)).Message);

        var unknownType = Newc([new Item("x", 0x01A4, [])]);
        Assert.Contains("unknown file type", Assert.Throws<TarFormatException>(() => ReadAll(unknownType)).Message);
    }

    [Fact]
    public void Devices_fifos_and_sockets_are_reported_with_their_type()
    {
        var entries = ReadAll(Newc([new Item("c", 0x21B6, []), new Item("p", 0x11A4, []), new Item("s", 0xC1ED, [])]));
        Assert.Equal([TarType.CharDevice, TarType.Fifo, TarType.Socket], entries.Select(e => e.Entry.Type));
        Assert.Equal("socket", TarType.Describe(TarType.Socket));
    }

    [Fact]
    public void The_reader_is_picked_from_the_first_header()
    {
        using (var cpio = ArchiveReaders.Open(new MemoryStream(Newc(Sample)), "x"))
        {
            Assert.IsType<CpioReader>(cpio);
            Assert.Equal(".", cpio.GetNextEntry()!.Name);
        }

        var tarBytes = new MemoryStream();
        using (var w = new TarWriter(tarBytes, leaveOpen: true))
        {
            w.WriteFile(new TarEntry { Name = "070701-not-cpio", Mode = 0x1A4 }, "x"u8);
            w.Finish();
        }

        tarBytes.Position = 0;
        using var tar = ArchiveReaders.Open(tarBytes, "x");
        Assert.IsType<TarReader>(tar);
        Assert.Equal("070701-not-cpio", tar.GetNextEntry()!.Name);
    }
}
