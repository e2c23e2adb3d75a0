// A deterministic tar writer in the GNU layout the ostree-ext reference implementation writes
// (ostree-container-format.md 2.6): zero-padded octal fields, GNU long names and links, base-256
// for large numbers, optional PAX records for binary-safe xattrs. Same input, same bytes.
using System.Buffers;
using System.Globalization;
using System.Text;

namespace OstreeSharp.Tar;

/// <summary>Writes tar entries to a stream.</summary>
internal sealed class TarWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _header = new byte[512];
    private bool _finished;

    /// <summary>Creates a writer.</summary>
    public TarWriter(Stream stream, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Bytes written so far.</summary>
    public long Position { get; private set; }

    /// <summary>Writes one entry; <paramref name="data"/> must hold exactly <see cref="TarEntry.Size"/> bytes for regular files.</summary>
    public void WriteEntry(TarEntry entry, Stream? data = null)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.PaxRecords.Count > 0 || entry.Xattrs.Count > 0)
        {
            WritePax(entry);
        }

        var name = Encoding.UTF8.GetBytes(entry.Name);
        var link = Encoding.UTF8.GetBytes(entry.LinkName);
        if (name.Length > 100)
        {
            WriteLongRecord(TarType.GnuLongName, name);
        }

        if (link.Length > 100)
        {
            WriteLongRecord(TarType.GnuLongLink, link);
        }

        long size = entry.IsRegular ? entry.Size : 0;
        FillHeader(name, link, entry.Type, entry.Mode, entry.Uid, entry.Gid, size, entry.Mtime, entry.UserName, entry.GroupName, entry.DevMajor, entry.DevMinor);
        Write(_header);
        if (size > 0)
        {
            CopyData(data ?? throw new ArgumentNullException(nameof(data)), size, entry.Name);
        }
    }

    /// <summary>Writes a regular file entry from bytes.</summary>
    public void WriteFile(TarEntry entry, ReadOnlySpan<byte> content)
    {
        entry.Size = content.Length;
        using var ms = new MemoryStream(content.ToArray(), writable: false);
        WriteEntry(entry, ms);
    }

    /// <summary>Writes the two zero blocks that end an archive.</summary>
    public void Finish()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
        Array.Clear(_header);
        Write(_header);
        Write(_header);
        _stream.Flush();
    }

    private void WriteLongRecord(byte type, byte[] value)
    {
        var name = "././@LongLink"u8.ToArray();
        FillHeader(name, [], type, 0x1A4, 0, 0, value.Length + 1, 0, string.Empty, string.Empty, 0, 0);
        Write(_header);
        var data = new byte[value.Length + 1];
        value.CopyTo(data, 0);
        Write(data);
        Pad(data.Length);
    }

    private void WritePax(TarEntry entry)
    {
        var ms = new MemoryStream();
        var records = new List<KeyValuePair<string, byte[]>>(entry.PaxRecords.Where(r => !r.Key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal)));
        records.AddRange(entry.Xattrs.Select(x => new KeyValuePair<string, byte[]>("SCHILY.xattr." + x.NameString, x.Value)));
        foreach (var (key, value) in records)
        {
            var k = Encoding.UTF8.GetBytes(key);
            int body = 1 + k.Length + 1 + value.Length + 1; // ' ' key '=' value '\n'
            int len = body + 1;
            while (len.ToString(CultureInfo.InvariantCulture).Length + body != len)
            {
                len = len.ToString(CultureInfo.InvariantCulture).Length + body;
            }

            ms.Write(Encoding.ASCII.GetBytes(len.ToString(CultureInfo.InvariantCulture)));
            ms.WriteByte((byte)' ');
            ms.Write(k);
            ms.WriteByte((byte)'=');
            ms.Write(value);
            ms.WriteByte((byte)'\n');
        }

        var paxName = Encoding.UTF8.GetBytes("PaxHeaders/" + Path.GetFileName(entry.Name.TrimEnd('/')));
        if (paxName.Length > 100)
        {
            paxName = paxName[..100];
        }

        FillHeader(paxName, [], TarType.PaxHeader, 0x1A4, 0, 0, ms.Length, 0, string.Empty, string.Empty, 0, 0);
        Write(_header);
        Write(ms.GetBuffer().AsSpan(0, (int)ms.Length));
        Pad(ms.Length);
    }

    private void FillHeader(byte[] name, byte[] link, byte type, uint mode, uint uid, uint gid, long size, long mtime, string uname, string gname, uint devMajor, uint devMinor)
    {
        var h = _header.AsSpan();
        h.Clear();
        name.AsSpan(0, Math.Min(TarHeader.Name.Length, name.Length)).CopyTo(TarHeader.Field(h, TarHeader.Name));
        TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.Mode), mode);
        TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.Uid), uid);
        TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.Gid), gid);
        TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.Size), size);
        TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.Mtime), mtime);
        h[TarHeader.TypeFlag] = type;
        link.AsSpan(0, Math.Min(TarHeader.LinkName.Length, link.Length)).CopyTo(TarHeader.Field(h, TarHeader.LinkName));
        "ustar "u8.CopyTo(TarHeader.Field(h, TarHeader.Magic)); // old GNU magic and version, as GNU tar writes them
        " \0"u8.CopyTo(TarHeader.Field(h, TarHeader.Version));
        CopyTruncated(Encoding.UTF8.GetBytes(uname), TarHeader.Field(h, TarHeader.UserName));
        CopyTruncated(Encoding.UTF8.GetBytes(gname), TarHeader.Field(h, TarHeader.GroupName));
        if (type is TarType.CharDevice or TarType.BlockDevice)
        {
            TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.DevMajor), devMajor);
            TarHeader.WriteNumber(TarHeader.Field(h, TarHeader.DevMinor), devMinor);
        }

        TarHeader.WriteChecksum(h, 0);
    }

    private static void CopyTruncated(byte[] src, Span<byte> dest) => src.AsSpan(0, Math.Min(src.Length, dest.Length - 1)).CopyTo(dest);

    private void CopyData(Stream data, long size, string name)
    {
        var buf = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            long left = size;
            while (left > 0)
            {
                int n = data.Read(buf, 0, (int)Math.Min(buf.Length, left));
                if (n == 0)
                {
                    throw new OstreeFormatException($"{name}: data ended {left} bytes before the declared size {size}");
                }

                Write(buf.AsSpan(0, n));
                left -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }

        Pad(size);
    }

    private void Pad(long size)
    {
        int pad = (int)((512 - (size % 512)) % 512);
        if (pad > 0)
        {
            Span<byte> zeros = stackalloc byte[512];
            zeros.Clear();
            Write(zeros[..pad]);
        }
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _stream.Write(bytes);
        Position += bytes.Length;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }
}
