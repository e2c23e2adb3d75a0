// A read-only reader of the rows of one table of an SQLite 3 database file (sqlite.org/fileformat2.html), with its
// write-ahead log applied: enough to read rpm's rpmdb.sqlite without a native library. Table b-trees are walked with
// an explicit stack and each page is visited once, so a hostile file can neither recurse nor loop; every size is
// checked against the file.
using System.Buffers.Binary;
using System.Text;

namespace OstreeSharp.Containers.Rechunk;

/// <summary>A malformed SQLite database.</summary>
public sealed class SqliteFormatException(string message) : ContainerException(OstreeErrorCode.InvalidSqlite, message);

/// <summary>Reads table rows from an SQLite database image.</summary>
internal sealed class SqliteReader
{
    private const int MaxPayload = 64 << 20;
    private readonly byte[] _db;
    private readonly Dictionary<uint, (byte[] Buffer, int Offset)> _walPages = [];
    private readonly string _what;
    private readonly int _pageSize;
    private readonly int _usable;
    private readonly uint _pageCount;
    private readonly long _walLength;

    public SqliteReader(byte[] db, byte[]? wal, string what)
    {
        _db = db;
        _what = what;
        if (db.Length < 100 || !db.AsSpan(0, 16).SequenceEqual("SQLite format 3\0"u8))
        {
            throw new SqliteFormatException($"{what}: not an SQLite 3 database");
        }

        int ps = BinaryPrimitives.ReadUInt16BigEndian(db.AsSpan(16));
        _pageSize = ps == 1 ? 65536 : ps;
        if (_pageSize < 512 || (_pageSize & (_pageSize - 1)) != 0)
        {
            throw new SqliteFormatException($"{what}: bad page size {ps}");
        }

        _usable = _pageSize - db[20];
        if (_usable < 480)
        {
            throw new SqliteFormatException($"{what}: bad reserved space {db[20]}");
        }

        _pageCount = (uint)(db.Length / _pageSize);
        if (wal is { Length: >= 32 })
        {
            _walLength = wal.Length;
            ApplyWal(wal);
        }
    }

    // The frames of the log up to its last valid commit: a frame counts when its salts are the header's and the
    // running checksum holds.
    private void ApplyWal(byte[] wal)
    {
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(wal);
        if (magic is not (0x377f0682 or 0x377f0683))
        {
            return;
        }

        bool bigEndian = (magic & 1) == 1;
        int pageSize = (int)BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(8));
        if (pageSize != _pageSize)
        {
            return;
        }

        uint salt1 = BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(16)), salt2 = BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(20));
        var (s0, s1) = Checksum(wal.AsSpan(0, 24), bigEndian, 0, 0);
        if (s0 != BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(24)) || s1 != BinaryPrimitives.ReadUInt32BigEndian(wal.AsSpan(28)))
        {
            return;
        }

        var pending = new List<(uint Page, int Offset)>();
        for (long at = 32; at + 24 + pageSize <= wal.Length; at += 24 + pageSize)
        {
            var frame = wal.AsSpan((int)at, 24);
            if (BinaryPrimitives.ReadUInt32BigEndian(frame[8..]) != salt1 || BinaryPrimitives.ReadUInt32BigEndian(frame[12..]) != salt2)
            {
                break;
            }

            (s0, s1) = Checksum(frame[..8], bigEndian, s0, s1);
            (s0, s1) = Checksum(wal.AsSpan((int)at + 24, pageSize), bigEndian, s0, s1);
            if (s0 != BinaryPrimitives.ReadUInt32BigEndian(frame[16..]) || s1 != BinaryPrimitives.ReadUInt32BigEndian(frame[20..]))
            {
                break;
            }

            pending.Add((BinaryPrimitives.ReadUInt32BigEndian(frame), (int)at + 24));
            uint commit = BinaryPrimitives.ReadUInt32BigEndian(frame[4..]);
            if (commit != 0)
            {
                foreach (var (page, offset) in pending)
                {
                    _walPages[page] = (wal, offset);
                }

                pending.Clear();
            }
        }
    }

    private static (uint, uint) Checksum(ReadOnlySpan<byte> data, bool bigEndian, uint s0, uint s1)
    {
        for (int i = 0; i + 8 <= data.Length; i += 8)
        {
            uint x0 = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data[i..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[i..]);
            uint x1 = bigEndian ? BinaryPrimitives.ReadUInt32BigEndian(data[(i + 4)..]) : BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 4)..]);
            s0 += x0 + s1;
            s1 += x1 + s0;
        }

        return (s0, s1);
    }

    private ReadOnlySpan<byte> Page(uint number)
    {
        if (_walPages.TryGetValue(number, out var w))
        {
            return w.Buffer.AsSpan(w.Offset, _pageSize);
        }

        if (number == 0 || number > _pageCount)
        {
            throw new SqliteFormatException($"{_what}: page {number} is outside the file");
        }

        return _db.AsSpan((int)((number - 1) * (long)_pageSize), _pageSize);
    }

    /// <summary>The rows of table <paramref name="table"/>: its rowid and its column values (long, double, string, byte[] or null).</summary>
    public IEnumerable<(long RowId, object?[] Values)> Rows(string table)
    {
        uint? root = null;
        foreach (var (_, master) in TableRows(1))
        {
            if (master.Length >= 4 && master[0] as string == "table" && master[1] as string == table && master[3] is long r and > 0 and <= uint.MaxValue)
            {
                root = (uint)r;
            }
        }

        return root is { } page ? TableRows(page) : throw new SqliteFormatException($"{_what}: no table {table}");
    }

    private IEnumerable<(long RowId, object?[] Values)> TableRows(uint root)
    {
        var visited = new HashSet<uint>();
        var pending = new Stack<uint>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            uint number = pending.Pop();
            if (!visited.Add(number))
            {
                throw new SqliteFormatException($"{_what}: page {number} is reached twice");
            }

            var page = Page(number).ToArray();
            int h = number == 1 ? 100 : 0;
            byte type = page[h];
            int cells = BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(h + 3));
            int headerSize = type == 0x05 ? 12 : 8;
            if (h + headerSize + (2 * cells) > _usable)
            {
                throw new SqliteFormatException($"{_what}: page {number} holds too many cells");
            }

            if (type == 0x05)
            {
                // Children pushed in reverse, so rows come out in rowid order.
                pending.Push(BinaryPrimitives.ReadUInt32BigEndian(page.AsSpan(h + 8)));
                for (int i = cells - 1; i >= 0; i--)
                {
                    int at = CellOffset(page, h + headerSize, i, number);
                    pending.Push(BinaryPrimitives.ReadUInt32BigEndian(page.AsSpan(at)));
                }
            }
            else if (type == 0x0D)
            {
                for (int i = 0; i < cells; i++)
                {
                    int at = CellOffset(page, h + headerSize, i, number);
                    long payload = Varint(page, ref at, number);
                    long rowId = Varint(page, ref at, number);
                    yield return (rowId, Record(Payload(page, at, payload, number), number));
                }
            }
            else
            {
                throw new SqliteFormatException($"{_what}: page {number} is not a table b-tree page (type {type})");
            }
        }
    }

    private int CellOffset(byte[] page, int pointers, int i, uint number)
    {
        int at = BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(pointers + (2 * i)));
        return at < 8 || at + 4 > _usable ? throw new SqliteFormatException($"{_what}: page {number}: cell {i} outside the page") : at;
    }

    private byte[] Payload(byte[] page, int at, long size, uint number)
    {
        if (size < 0 || size > MaxPayload || size > _db.Length + _walLength)
        {
            throw new SqliteFormatException($"{_what}: page {number}: a row of {size} bytes");
        }

        int x = _usable - 35;
        int local = (int)size;
        if (size > x)
        {
            int m = ((_usable - 12) * 32 / 255) - 23;
            int k = m + (int)((size - m) % (_usable - 4));
            local = k <= x ? k : m;
        }

        if (at + local > _usable || (local < size && at + local + 4 > _usable))
        {
            throw new SqliteFormatException($"{_what}: page {number}: a row runs past the page");
        }

        var result = new byte[size];
        page.AsSpan(at, local).CopyTo(result);
        int filled = local;
        uint next = local < size ? BinaryPrimitives.ReadUInt32BigEndian(page.AsSpan(at + local)) : 0;
        var seen = new HashSet<uint>();
        while (filled < size)
        {
            if (next == 0 || !seen.Add(next))
            {
                throw new SqliteFormatException($"{_what}: page {number}: broken overflow chain");
            }

            var overflow = Page(next);
            int n = (int)Math.Min(size - filled, _usable - 4);
            overflow.Slice(4, n).CopyTo(result.AsSpan(filled));
            filled += n;
            next = BinaryPrimitives.ReadUInt32BigEndian(overflow);
        }

        return result;
    }

    private object?[] Record(byte[] payload, uint number)
    {
        int at = 0;
        long headerSize = Varint(payload, ref at, number);
        if (headerSize < at || headerSize > payload.Length)
        {
            throw new SqliteFormatException($"{_what}: page {number}: bad record header");
        }

        var types = new List<long>();
        while (at < headerSize)
        {
            types.Add(Varint(payload, ref at, number));
        }

        int data = (int)headerSize;
        var values = new object?[types.Count];
        for (int i = 0; i < types.Count; i++)
        {
            long t = types[i];
            int len = t switch
            {
                0 or 8 or 9 => 0,
                1 => 1,
                2 => 2,
                3 => 3,
                4 => 4,
                5 => 6,
                6 or 7 => 8,
                >= 12 => (int)Math.Min(int.MaxValue, (t - 12) / 2),
                _ => throw new SqliteFormatException($"{_what}: page {number}: reserved serial type {t}"),
            };
            if (data + (long)len > payload.Length)
            {
                throw new SqliteFormatException($"{_what}: page {number}: a value runs past its record");
            }

            var span = payload.AsSpan(data, len);
            values[i] = t switch
            {
                0 => null,
                8 => 0L,
                9 => 1L,
                >= 1 and <= 6 => SignedBigEndian(span),
                7 => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64BigEndian(span)),
                _ when t % 2 == 0 => span.ToArray(),
                _ => Encoding.UTF8.GetString(span),
            };
            data += len;
        }

        return values;
    }

    private static long SignedBigEndian(ReadOnlySpan<byte> b)
    {
        long v = (sbyte)b[0];
        for (int i = 1; i < b.Length; i++)
        {
            v = (v << 8) | b[i];
        }

        return v;
    }

    private long Varint(byte[] buffer, ref int at, uint number)
    {
        long v = 0;
        for (int i = 0; i < 9; i++)
        {
            if (at >= buffer.Length)
            {
                throw new SqliteFormatException($"{_what}: page {number}: truncated varint");
            }

            byte b = buffer[at++];
            if (i == 8)
            {
                return (v << 8) | b;
            }

            v = (v << 7) | (uint)(b & 0x7F);
            if ((b & 0x80) == 0)
            {
                return v;
            }
        }

        return v;
    }
}
