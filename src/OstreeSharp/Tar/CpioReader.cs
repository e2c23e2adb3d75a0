// A streaming reader of the cpio formats GNU cpio and bsdcpio write: "newc" (magic 070701, hex fields, header+name
// and data padded to 4 bytes), "crc" (070702, newc with a data checksum, verified) and "odc" (070707, octal fields,
// no padding) and old binary cpio (magic 070707 as a 16-bit word of either byte order, 32-bit values as two words
// high first, name and data padded to 2 bytes). The archive ends with the entry named TRAILER!!!.
// Hard links: the first name of an inode (same dev and ino, nlink > 1) comes out as itself; later names come out with
// HardLinkTo set to that first name, as libarchive reports them. GNU cpio writes the data only with the last name.
using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Tar;

/// <summary>Reads cpio entries one at a time in the <see cref="TarEntry"/> model.</summary>
internal sealed class CpioReader : IArchiveReader
{
    /// <summary>Bytes <see cref="IsCpio"/> looks at.</summary>
    public const int SniffLength = 512;

    private const int MagicLength = 6;

    /// <summary>Longest entry name accepted, in bytes (without the terminating NUL).</summary>
    public const int MaxNameLength = 64 * 1024;

    /// <summary>Longest symlink target accepted, in bytes.</summary>
    public const int MaxLinkLength = 64 * 1024;

    private const int NewcHeader = 110;
    private const int OdcHeader = 76;
    private const int BinHeader = 26;
    private const string Trailer = "TRAILER!!!";

    private enum Format
    {
        None,
        Newc,
        Odc,
        BinLittle,
        BinBig,
    }

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly string _name;
    private readonly byte[] _header = new byte[NewcHeader];
    private readonly Dictionary<(ulong Dev, ulong Ino), Link> _links = [];
    private Format _format;
    private long _position;
    private long _remaining;
    private int _padding;
    private bool _verifySum;
    private uint _sum;
    private uint _expectedSum;
    private EntryStream? _current;
    private bool _ended;

    /// <summary>Creates a reader over <paramref name="stream"/>; <paramref name="name"/> names the archive in errors.</summary>
    public CpioReader(Stream stream, string name, bool leaveOpen = false)
    {
        _stream = stream;
        _name = name;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Byte offset in the stream of the current entry's header.</summary>
    public long EntryOffset { get; private set; }

    /// <inheritdoc/>
    public Stream DataStream => _current ?? throw new InvalidOperationException("no current entry");

    /// <summary>
    /// True when <paramref name="head"/> (up to the first <see cref="SniffLength"/> bytes of a stream) starts with a cpio
    /// header: a magic and well-formed fields, so that a tarball whose first name starts with "070701" stays a tarball.
    /// </summary>
    public static bool IsCpio(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("070701"u8) || head.StartsWith("070702"u8))
        {
            return head.Length >= NewcHeader && head[MagicLength..NewcHeader].IndexOfAnyExcept("0123456789abcdefABCDEF"u8) < 0;
        }

        if (head.StartsWith("070707"u8))
        {
            return head.Length >= OdcHeader && head[MagicLength..OdcHeader].IndexOfAnyExceptInRange((byte)'0', (byte)'7') < 0;
        }

        bool ustar = head.Length >= 262 && head[257..262].SequenceEqual("ustar"u8);
        return head.Length >= BinHeader && !ustar && ((head[0] == 0xc7 && head[1] == 0x71) || (head[0] == 0x71 && head[1] == 0xc7));
    }

    /// <inheritdoc/>
    public TarEntry? GetNextEntry()
    {
        if (_ended)
        {
            return null;
        }

        SkipRest();
        EntryOffset = _position;
        int got = _stream.ReadAtLeast(_header.AsSpan(0, MagicLength), MagicLength, throwOnEndOfStream: false);
        _position += got;
        if (got == 0)
        {
            _ended = true;
            throw Error(_position == 0 ? "empty stream: not a cpio archive" : $"truncated cpio archive: it ends at offset {_position} without the {Trailer} entry");
        }

        if (got < MagicLength)
        {
            throw Error($"truncated cpio archive: partial header at offset {EntryOffset}");
        }

        var magic = _header.AsSpan(0, MagicLength);
        bool crc = magic.SequenceEqual("070702"u8);
        var format = magic.SequenceEqual("070701"u8) || crc ? Format.Newc
            : magic.SequenceEqual("070707"u8) ? Format.Odc
            : magic[0] == 0xc7 && magic[1] == 0x71 ? Format.BinLittle
            : magic[0] == 0x71 && magic[1] == 0xc7 ? Format.BinBig
            : Format.None;
        if (format == Format.None || (_format != Format.None && format != _format))
        {
            var expected = _format switch { Format.Newc => "newc ", Format.Odc => "odc ", Format.None => string.Empty, _ => "binary " };
            throw Error($"not a {expected}cpio header at offset {EntryOffset}");
        }

        _format = format;
        return format switch
        {
            Format.Newc => ReadNewc(crc),
            Format.Odc => ReadOdc(),
            _ => ReadBinary(format == Format.BinBig),
        };
    }

    private TarEntry? ReadNewc(bool crc)
    {
        ReadExact(_header.AsSpan(MagicLength, NewcHeader - MagicLength), "header");
        ulong ino = Hex(0), mode = Hex(1), uid = Hex(2), gid = Hex(3), nlink = Hex(4), mtime = Hex(5), size = Hex(6);
        ulong devMajor = Hex(7), devMinor = Hex(8), rdevMajor = Hex(9), rdevMinor = Hex(10), nameSize = Hex(11), check = Hex(12);
        var name = ReadName(nameSize, (int)((4 - ((NewcHeader + (long)nameSize) % 4)) % 4));
        if (name is null)
        {
            return null;
        }

        int padding = (int)((4 - (size % 4)) % 4);
        return MakeEntry(name, mode, uid, gid, nlink, mtime, size, padding, ((devMajor << 32) | devMinor, ino), (uint)rdevMajor, (uint)rdevMinor, crc ? (uint)check : null);
    }

    private TarEntry? ReadOdc()
    {
        ReadExact(_header.AsSpan(MagicLength, OdcHeader - MagicLength), "header");
        ulong dev = Octal(6, 6, "dev"), ino = Octal(12, 6, "ino"), mode = Octal(18, 6, "mode"), uid = Octal(24, 6, "uid"), gid = Octal(30, 6, "gid");
        ulong nlink = Octal(36, 6, "nlink"), rdev = Octal(42, 6, "rdev"), mtime = Octal(48, 11, "mtime"), nameSize = Octal(59, 6, "namesize"), size = Octal(65, 11, "filesize");
        var name = ReadName(nameSize, 0);
        if (name is null)
        {
            return null;
        }

        return MakeEntry(name, mode, uid, gid, nlink, mtime, size, 0, (dev, ino), (uint)(rdev >> 8) & 0xff, (uint)rdev & 0xff, null);
    }

    private TarEntry? ReadBinary(bool bigEndian)
    {
        ReadExact(_header.AsSpan(MagicLength, BinHeader - MagicLength), "header");
        uint Word(int i) => bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(i * 2))
            : BinaryPrimitives.ReadUInt16LittleEndian(_header.AsSpan(i * 2));
        ulong Long(int i) => ((ulong)Word(i) << 16) | Word(i + 1);
        ulong dev = Word(1), ino = Word(2), mode = Word(3), uid = Word(4), gid = Word(5), nlink = Word(6), rdev = Word(7);
        ulong mtime = Long(8), nameSize = Word(10), size = Long(11);
        var name = ReadName(nameSize, (int)(nameSize % 2));
        if (name is null)
        {
            return null;
        }

        return MakeEntry(name, mode, uid, gid, nlink, mtime, size, (int)(size % 2), (dev, ino), (uint)(rdev >> 8) & 0xff, (uint)rdev & 0xff, null);
    }

    // The entry name (null for the trailer, which ends the archive); nameSize counts the terminating NUL.
    private string? ReadName(ulong nameSize, int padding)
    {
        if (nameSize < 2 || nameSize > MaxNameLength + 1)
        {
            throw Error($"invalid cpio name size {nameSize} at offset {EntryOffset} (1 to {MaxNameLength} bytes and a NUL)");
        }

        var bytes = new byte[(int)nameSize + padding];
        ReadExact(bytes, "entry name");
        var raw = bytes.AsSpan(0, (int)nameSize);
        if (raw[^1] != 0)
        {
            throw Error($"cpio entry name at offset {EntryOffset} does not end with a NUL");
        }

        int nul = raw.IndexOf((byte)0);
        if (nul == 0)
        {
            throw Error($"cpio entry with an empty name at offset {EntryOffset}");
        }

        var name = TarEntry.DecodeName(raw[..nul], $"{_name} cpio header at offset {EntryOffset}");
        if (name == Trailer)
        {
            _ended = true;
            return null;
        }

        return name;
    }

    private TarEntry MakeEntry(string name, ulong mode, ulong uid, ulong gid, ulong nlink, ulong mtime, ulong size, int padding, (ulong, ulong) inode, uint rdevMajor, uint rdevMinor, uint? check)
    {
        byte type = (mode & UnixMode.TypeMask) switch
        {
            UnixMode.Directory => TarType.Directory,
            UnixMode.Regular => TarType.Regular,
            UnixMode.Symlink => TarType.Symlink,
            UnixMode.CharDevice => TarType.CharDevice,
            UnixMode.BlockDevice => TarType.BlockDevice,
            UnixMode.Fifo => TarType.Fifo,
            UnixMode.Socket => TarType.Socket,
            _ => throw Error($"cpio entry \"{name}\" at offset {EntryOffset} has an unknown file type in mode 0{Convert.ToString((long)mode, 8)}"),
        };
        var entry = new TarEntry
        {
            Name = name,
            Type = type,
            Mode = (uint)mode & UnixMode.PermissionMask,
            Uid = (uint)uid,
            Gid = (uint)gid,
            Size = (long)size,
            Mtime = (long)mtime,
        };
        if (type is TarType.CharDevice or TarType.BlockDevice)
        {
            entry.DevMajor = rdevMajor;
            entry.DevMinor = rdevMinor;
        }

        if (type == TarType.Symlink)
        {
            // The target is the entry's data.
            if (size > MaxLinkLength)
            {
                throw Error($"symlink target of \"{name}\" is {size} bytes, more than {MaxLinkLength} (at offset {EntryOffset})");
            }

            var target = new byte[(int)size + padding];
            ReadExact(target, "symlink target of " + name);
            entry.LinkName = TarEntry.DecodeName(target.AsSpan(0, (int)size), $"symlink target of {name}");
            size = 0;
            padding = 0;
        }

        if (nlink > 1 && type != TarType.Directory)
        {
            if (_links.TryGetValue(inode, out var first))
            {
                entry.HardLinkTo = first.Name;
                if (--first.Remaining == 0)
                {
                    _links.Remove(inode);
                }
            }
            else
            {
                _links[inode] = new Link(name, nlink - 1);
            }
        }

        _remaining = (long)size;
        _padding = padding;
        _verifySum = check is not null && type == TarType.Regular;
        _expectedSum = check ?? 0;
        _sum = 0;
        _current = new EntryStream(this, name);
        if (_verifySum && _remaining == 0)
        {
            VerifySum(name);
        }

        return entry;
    }

    private static readonly string[] NewcFields = ["ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor", "rdevminor", "namesize", "check"];

    private ulong Hex(int field)
    {
        var f = _header.AsSpan(MagicLength + (field * 8), 8);
        if (!ulong.TryParse(f, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v))
        {
            throw Error($"invalid hexadecimal {NewcFields[field]} field in cpio header at offset {EntryOffset}");
        }

        return v;
    }

    private ulong Octal(int offset, int length, string what)
    {
        ulong v = 0;
        foreach (var b in _header.AsSpan(offset, length))
        {
            if (b is < (byte)'0' or > (byte)'7')
            {
                throw Error($"invalid octal {what} field in cpio header at offset {EntryOffset}");
            }

            v = (v << 3) | (uint)(b - '0');
        }

        return v;
    }

    private void VerifySum(string name)
    {
        _verifySum = false;
        if (_sum != _expectedSum)
        {
            throw Error($"cpio data checksum mismatch for \"{name}\" (entry at offset {EntryOffset})");
        }
    }

    private void ReadExact(Span<byte> dest, string what)
    {
        int got = _stream.ReadAtLeast(dest, dest.Length, throwOnEndOfStream: false);
        _position += got;
        if (got < dest.Length)
        {
            throw Error($"truncated cpio archive in {what} at offset {_position}");
        }
    }

    private void SkipRest()
    {
        if (_current is null)
        {
            return;
        }

        var buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (_remaining > 0)
            {
                ReadData(buf.AsSpan(0, (int)Math.Min(buf.Length, _remaining)), _current.Name);
            }

            if (_padding > 0)
            {
                ReadExact(buf.AsSpan(0, _padding), "padding of " + _current.Name);
                _padding = 0;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }

        _current = null;
    }

    private int ReadData(Span<byte> dest, string name)
    {
        if (_remaining == 0 || dest.Length == 0)
        {
            return 0;
        }

        int want = (int)Math.Min(dest.Length, _remaining);
        int n = _stream.Read(dest[..want]);
        if (n == 0)
        {
            throw Error($"truncated cpio archive: data of \"{name}\" ends {_remaining} bytes early, at offset {_position}");
        }

        _remaining -= n;
        _position += n;
        if (_verifySum)
        {
            foreach (var b in dest[..n])
            {
                _sum += b;
            }

            if (_remaining == 0)
            {
                VerifySum(name);
            }
        }

        return n;
    }

    private TarFormatException Error(string message) => new($"{_name}: {message}");

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private sealed class Link(string name, ulong remaining)
    {
        public string Name { get; } = name;

        public ulong Remaining { get; set; } = remaining;
    }

    private sealed class EntryStream(CpioReader reader, string name) : ReadOnlyStream
    {
        public string Name => name;

        public override int Read(Span<byte> buffer) => ReferenceEquals(reader._current, this) ? reader.ReadData(buffer, name) : 0;
    }
}
