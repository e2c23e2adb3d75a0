// A streaming tar reader: ustar, GNU (long names and links, base-256 numbers) and PAX
// (binary-safe SCHILY.xattr values). Header checksums are verified; sizes are bounded.
using System.Buffers;
using System.Globalization;
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Tar;

/// <summary>Reads entries one at a time; <see cref="DataStream"/> gives the current entry's data.</summary>
internal sealed class TarReader : IArchiveReader
{
    /// <summary>Largest PAX or GNU long-name record accepted.</summary>
    public const int MaxMetaRecord = 1024 * 1024;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _block = new byte[512];
    private long _remaining;
    private int _padding;
    private long _entryStart;
    private long _position;
    private EntryStream? _current;
    private bool _ended;

    /// <summary>Creates a reader over <paramref name="stream"/>.</summary>
    public TarReader(Stream stream, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Byte offset in the stream of the current entry's first header.</summary>
    public long EntryOffset => _entryStart;

    /// <summary>Byte offset in the stream of the current entry's data (valid right after <see cref="GetNextEntry"/>).</summary>
    public long DataOffset { get; private set; }

    /// <summary>The current entry's data; reading past its end returns 0.</summary>
    public Stream DataStream => _current ?? throw new InvalidOperationException("no current entry");

    /// <summary>Reads the next entry header, skipping any unread data of the previous one; null at the end.</summary>
    /// <exception cref="TarFormatException">The archive is malformed or truncated.</exception>
    public TarEntry? GetNextEntry()
    {
        if (_ended)
        {
            return null;
        }

        SkipRest();
        string? longName = null, longLink = null;
        List<KeyValuePair<string, byte[]>>? pax = null;
        _entryStart = _position;
        while (true)
        {
            if (!ReadBlock(allowEof: true))
            {
                if (_position == 0)
                {
                    throw new TarFormatException("empty stream: not a tar archive");
                }

                _ended = true; // EOF without end blocks: accepted, as GNU tar does
                return null;
            }

            if (_block.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            {
                _ended = true;
                if (longName is not null || pax is not null)
                {
                    throw new TarFormatException("archive ends after an extended header without its entry");
                }

                return null;
            }

            VerifyChecksum();
            byte type = _block[TarHeader.TypeFlag];
            long size = ReadNumber(TarHeader.Size, "size");
            if (size < 0)
            {
                throw new TarFormatException($"negative size in tar header at offset {_position - 512}");
            }

            switch (type)
            {
                case TarType.PaxHeader or TarType.PaxGlobal:
                    {
                        var data = ReadMetaData(size, "PAX header");
                        var records = ParsePax(data);
                        if (type == TarType.PaxHeader)
                        {
                            pax = records;
                        }

                        continue;
                    }

                case TarType.GnuLongName:
                    longName = TarEntry.DecodeName(TrimNul(ReadMetaData(size, "GNU long name")), "GNU long name");
                    continue;
                case TarType.GnuLongLink:
                    longLink = TarEntry.DecodeName(TrimNul(ReadMetaData(size, "GNU long link")), "GNU long link");
                    continue;
            }

            var entry = ParseHeader(type, size, longName, longLink, pax);
            if (type is (byte)'S' or (byte)'M' or (byte)'V' or (byte)'D')
            {
                throw new TarFormatException($"unsupported GNU tar entry of type '{(char)type}' at {entry.Name}");
            }

            bool hasData = entry.IsRegular || (type is not (TarType.Directory or TarType.Symlink or TarType.HardLink or TarType.CharDevice or TarType.BlockDevice or TarType.Fifo));
            long dataSize = hasData ? entry.Size : 0;
            if (!hasData && entry.Size > 0 && type is TarType.HardLink)
            {
                dataSize = 0; // a hard link's size field describes the target
            }

            _remaining = dataSize;
            _padding = (int)((512 - (dataSize % 512)) % 512);
            _current = new EntryStream(this, entry.Name);
            DataOffset = _position;
            return entry;
        }
    }

    private TarEntry ParseHeader(byte type, long size, string? longName, string? longLink, List<KeyValuePair<string, byte[]>>? pax)
    {
        var b = _block.AsSpan();
        var entry = new TarEntry
        {
            Name = longName ?? TarEntry.DecodeName(TarHeader.RawName(b), "tar header"),
            Type = type,
            LinkName = longLink ?? DecodeField(TarHeader.Field(b, TarHeader.LinkName)),
            Mode = (uint)ReadNumber(TarHeader.Mode, "mode"),
            Uid = (uint)ReadNumber(TarHeader.Uid, "uid"),
            Gid = (uint)ReadNumber(TarHeader.Gid, "gid"),
            Size = size,
            Mtime = ReadNumber(TarHeader.Mtime, "mtime"),
            UserName = DecodeField(TarHeader.Field(b, TarHeader.UserName)),
            GroupName = DecodeField(TarHeader.Field(b, TarHeader.GroupName)),
        };
        if (type is TarType.CharDevice or TarType.BlockDevice)
        {
            entry.DevMajor = (uint)ReadNumber(TarHeader.DevMajor, "devmajor");
            entry.DevMinor = (uint)ReadNumber(TarHeader.DevMinor, "devminor");
        }

        if (pax is not null)
        {
            ApplyPax(entry, pax);
        }

        if (entry.Name.Length == 0)
        {
            throw new TarFormatException($"tar entry with an empty name at offset {_entryStart}");
        }

        return entry;
    }

    private static void ApplyPax(TarEntry entry, List<KeyValuePair<string, byte[]>> pax)
    {
        foreach (var (key, value) in pax)
        {
            entry.PaxRecords.Add(new(key, value));
            string Text() => TarEntry.DecodeName(value, "PAX record " + key);
            long Number()
            {
                var t = Text();
                var dot = t.IndexOf('.', StringComparison.Ordinal);
                if (!long.TryParse(dot >= 0 ? t[..dot] : t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
                {
                    throw new TarFormatException($"invalid PAX {key} value '{t}' for {entry.Name}");
                }

                return n;
            }

            switch (key)
            {
                case "path": entry.Name = Text(); break;
                case "linkpath": entry.LinkName = Text(); break;
                case "size": entry.Size = Number(); break;
                case "uid": entry.Uid = (uint)Number(); break;
                case "gid": entry.Gid = (uint)Number(); break;
                case "mtime": entry.Mtime = Number(); break;
                case "uname": entry.UserName = Text(); break;
                case "gname": entry.GroupName = Text(); break;
                default:
                    if (key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                    {
                        entry.Xattrs.Add(Xattr.Create(key["SCHILY.xattr.".Length..], value));
                    }
                    else if (key.StartsWith("LIBARCHIVE.xattr.", StringComparison.Ordinal))
                    {
                        var n = Uri.UnescapeDataString(key["LIBARCHIVE.xattr.".Length..]);
                        var b64 = Encoding.ASCII.GetString(value).PadRight((value.Length + 3) / 4 * 4, '=');
                        byte[] v;
                        try
                        {
                            v = Convert.FromBase64String(b64);
                        }
                        catch (FormatException)
                        {
                            throw new TarFormatException($"invalid base64 in PAX record {key} of {entry.Name}");
                        }

                        // Kept even when a SCHILY record repeats it: libarchive (and so libostree) reports both.
                        entry.Xattrs.Add(Xattr.Create(n, v));
                    }

                    break;
            }
        }

        if (entry.Size < 0)
        {
            throw new TarFormatException($"invalid PAX size for {entry.Name}");
        }
    }

    private static List<KeyValuePair<string, byte[]>> ParsePax(byte[] data)
    {
        var result = new List<KeyValuePair<string, byte[]>>();
        int pos = 0;
        while (pos < data.Length)
        {
            int sp = Array.IndexOf(data, (byte)' ', pos);
            if (sp < 0 || sp - pos > 10 || !int.TryParse(data.AsSpan(pos, sp - pos), NumberStyles.None, CultureInfo.InvariantCulture, out int len) || len <= sp - pos + 1 || pos + len > data.Length)
            {
                throw new TarFormatException($"malformed PAX record at byte {pos} of an extended header");
            }

            int end = pos + len;
            if (data[end - 1] != (byte)'\n')
            {
                throw new TarFormatException($"PAX record at byte {pos} does not end with a newline");
            }

            int eq = Array.IndexOf(data, (byte)'=', sp + 1, end - sp - 1);
            if (eq < 0)
            {
                throw new TarFormatException($"PAX record at byte {pos} has no '='");
            }

            var key = TarEntry.DecodeName(data.AsSpan(sp + 1, eq - sp - 1), "PAX key");
            result.Add(new(key, data.AsSpan(eq + 1, end - eq - 2).ToArray()));
            pos = end;
        }

        return result;
    }

    private byte[] ReadMetaData(long size, string what)
    {
        if (size > MaxMetaRecord)
        {
            throw new TarFormatException($"{what} of {size} bytes exceeds {MaxMetaRecord} bytes (at offset {_position - 512})");
        }

        var data = new byte[size];
        ReadExact(data, what);
        int pad = (int)((512 - (size % 512)) % 512);
        if (pad > 0)
        {
            ReadExact(new byte[pad], what);
        }

        return data;
    }

    private static ReadOnlySpan<byte> TrimNul(byte[] d)
    {
        int n = Array.IndexOf(d, (byte)0);
        return n < 0 ? d : d.AsSpan(0, n);
    }

    private static string DecodeField(ReadOnlySpan<byte> field) => TarEntry.DecodeName(TarHeader.UntilNul(field), "tar header");

    private long ReadNumber((int Offset, int Length) field, string what)
    {
        var f = TarHeader.Field(_block, field);
        return TarHeader.TryReadNumber(f, out long v) ? v
            : throw new TarFormatException((f[0] & 0x80) != 0
                ? $"base-256 {what} field too large at offset {_position - 512}"
                : $"invalid octal {what} field in tar header at offset {_position - 512}");
    }

    private void VerifyChecksum()
    {
        long stored = ReadNumber(TarHeader.Checksum, "checksum");
        var (unsigned, signed) = TarHeader.Sums(_block);
        if (stored != unsigned && stored != signed)
        {
            throw new TarFormatException($"tar header checksum mismatch at offset {_position - 512}");
        }
    }

    private bool ReadBlock(bool allowEof)
    {
        int got = _stream.ReadAtLeast(_block, 512, throwOnEndOfStream: false);
        if (got == 0 && allowEof)
        {
            return false;
        }

        if (got < 512)
        {
            throw new TarFormatException($"truncated tar archive: partial header at offset {_position}");
        }

        _position += 512;
        return true;
    }

    private void ReadExact(Span<byte> dest, string what)
    {
        int got = _stream.ReadAtLeast(dest, dest.Length, throwOnEndOfStream: false);
        _position += got;
        if (got < dest.Length)
        {
            throw new TarFormatException($"truncated tar archive in {what} at offset {_position}");
        }
    }

    private void SkipRest()
    {
        if (_current is null)
        {
            return;
        }

        if (_remaining > 0 && _stream is ISkippingStream skipping)
        {
            long n = skipping.Skip(_remaining);
            _remaining -= n;
            _position += n;
            if (_remaining > 0)
            {
                throw DataEndsEarly(_current.Name);
            }
        }

        var buf = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (_remaining > 0)
            {
                int n = ReadData(buf.AsSpan(0, (int)Math.Min(buf.Length, _remaining)), _current.Name);
                if (n == 0)
                {
                    break;
                }
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
            throw DataEndsEarly(name);
        }

        _remaining -= n;
        _position += n;
        return n;
    }

    private TarFormatException DataEndsEarly(string name) => new($"truncated tar archive: data of {name} ends {_remaining} bytes early");

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    private sealed class EntryStream(TarReader reader, string name) : ReadOnlyStream
    {
        public string Name => name;

        public override int Read(Span<byte> buffer) => ReferenceEquals(reader._current, this) ? reader.ReadData(buffer, name) : 0;
    }
}
