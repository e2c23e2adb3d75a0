// The tar header (POSIX ustar, with GNU's base-256 numbers and old-GNU magic): where each field lives, and how its
// numbers, names and checksum are read and written. The one model of the header: TarReader and TarWriter use it, and
// so does the container delta code, which works on header blocks as they came. OstreeSharp.Containers compiles this
// same file (a link in its project), so each library has it as an internal type and neither makes it public.
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Text;

namespace OstreeSharp.Tar;

/// <summary>The 512-byte tar header block: field positions and codecs.</summary>
internal static class TarHeader
{
    /// <summary>The size of a header block, and the unit data is padded to.</summary>
    public const int BlockSize = 512;

    /// <summary>The entry type byte.</summary>
    public const int TypeFlag = 156;

    /// <summary>Fields as (offset, length).</summary>
    public static readonly (int Offset, int Length) Name = (0, 100), Mode = (100, 8), Uid = (108, 8), Gid = (116, 8),
        Size = (124, 12), Mtime = (136, 12), Checksum = (148, 8), LinkName = (157, 100), Magic = (257, 6),
        Version = (263, 2), UserName = (265, 32), GroupName = (297, 32), DevMajor = (329, 8), DevMinor = (337, 8),
        Prefix = (345, 155);

    /// <summary>The bytes of <paramref name="field"/> in <paramref name="header"/>.</summary>
    public static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> header, (int Offset, int Length) field) => header.Slice(field.Offset, field.Length);

    /// <summary>The bytes of <paramref name="field"/> in <paramref name="header"/>, to write.</summary>
    public static Span<byte> Field(Span<byte> header, (int Offset, int Length) field) => header.Slice(field.Offset, field.Length);

    /// <summary>Whether the header is POSIX ustar (magic <c>ustar\0</c>), whose prefix field extends the name.</summary>
    public static bool IsUstar(ReadOnlySpan<byte> header) => Field(header, Magic).SequenceEqual("ustar\0"u8);

    /// <summary>A text field up to its first NUL.</summary>
    public static ReadOnlySpan<byte> UntilNul(ReadOnlySpan<byte> field)
    {
        int n = field.IndexOf((byte)0);
        return n < 0 ? field : field[..n];
    }

    /// <summary>The raw name of an entry: <c>prefix/name</c> in a ustar header with a prefix, else the name field.</summary>
    public static byte[] RawName(ReadOnlySpan<byte> header)
    {
        var name = UntilNul(Field(header, Name));
        var prefix = IsUstar(header) ? UntilNul(Field(header, Prefix)) : default;
        return prefix.IsEmpty ? name.ToArray() : [.. prefix, (byte)'/', .. name];
    }

    /// <summary>
    /// Reads a numeric field: octal digits (leading spaces or NULs, ended by a NUL or a space) or GNU base-256
    /// (big-endian two's complement after a 0x80 or 0xff first byte; 64-bit values only). False when it is neither.
    /// </summary>
    public static bool TryReadNumber(ReadOnlySpan<byte> field, out long value)
    {
        value = 0;
        if ((field[0] & 0x80) != 0)
        {
            bool negative = field[0] == 0xff;
            if ((!negative && field[0] != 0x80) || (field.Length > 8 && field[1..(field.Length - 8)].IndexOfAnyExcept(negative ? (byte)0xff : (byte)0) >= 0))
            {
                return false;
            }

            long v = negative ? -1 : 0;
            foreach (var b in field[Math.Max(1, field.Length - 8)..])
            {
                v = (v << 8) | b;
            }

            value = v;
            return true;
        }

        long r = 0;
        bool any = false;
        foreach (var b in field)
        {
            if (b is 0 or (byte)' ')
            {
                if (any)
                {
                    break;
                }

                continue;
            }

            if (b is < (byte)'0' or > (byte)'7' || r > (long.MaxValue >> 3))
            {
                return false;
            }

            any = true;
            r = (r << 3) + (b - '0');
        }

        value = r;
        return true;
    }

    /// <summary>Writes <paramref name="value"/> in octal (zero-padded, then a NUL), or in GNU base-256 when it does not fit.</summary>
    public static void WriteNumber(Span<byte> field, long value)
    {
        if (TryWriteOctal(field, value))
        {
            return;
        }

        // GNU base-256: high bit set, big-endian value in the rest.
        field.Clear();
        for (int i = field.Length - 1; i >= 1 && value != 0; i--)
        {
            field[i] = (byte)value;
            value >>= 8;
        }

        field[0] = 0x80;
    }

    /// <summary>Writes <paramref name="value"/> as zero-padded octal digits and a NUL; false when it does not fit.</summary>
    public static bool TryWriteOctal(Span<byte> field, long value)
    {
        int digits = field.Length - 1;
        if (value < 0 || (digits < 21 && value >= 1L << (3 * digits)))
        {
            return false;
        }

        Encoding.ASCII.GetBytes(Convert.ToString(value, 8).PadLeft(digits, '0'), field);
        field[digits] = 0;
        return true;
    }

    /// <summary>The header's checksums, the checksum field counted as spaces: as unsigned bytes and as signed (old tars).</summary>
    public static (long Unsigned, long Signed) Sums(ReadOnlySpan<byte> header)
    {
        // Sixteen bytes at a time, the checksum field counted as spaces. A byte's signed value is its unsigned one
        // less 256 when its top bit is set, so the signed sum is the unsigned one less 256 per such byte.
        header = header[..BlockSize];
        var spaces = Vector128.Create((byte)' ');
        var sum = Vector128<ushort>.Zero; // at most 32 x 510: no lane overflows
        int high = 0;
        for (int i = 0; i < BlockSize; i += 16)
        {
            var v = Vector128.Create(header.Slice(i, 16));
            if (i == ChecksumVectorOffset)
            {
                v = Vector128.ConditionalSelect(ChecksumLanes, spaces, v);
            }

            var (lo, hi) = Vector128.Widen(v);
            sum += lo + hi;
            high += BitOperations.PopCount(v.ExtractMostSignificantBits());
        }

        var (a, b) = Vector128.Widen(sum);
        long unsigned = Vector128.Sum(a + b);
        return (unsigned, unsigned - (256L * high));
    }

    /// <summary>The 16 bytes from here hold the checksum field, at lanes 4 to 11.</summary>
    private const int ChecksumVectorOffset = 144;

    private static readonly Vector128<byte> ChecksumLanes = Vector128.Create((byte)0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0);

    /// <summary>Computes the checksum and writes it in <paramref name="format"/>: 0 as <c>%07o\0</c> (POSIX), 1 as <c>%06o\0 </c> (old GNU).</summary>
    public static void WriteChecksum(Span<byte> header, int format)
    {
        long sum = Sums(header).Unsigned; // at most 512 x 255: six octal digits
        var field = Field(header, Checksum);
        int digits = format == 0 ? 7 : 6;
        for (int i = digits - 1; i >= 0; i--, sum >>= 3)
        {
            field[i] = (byte)('0' + (sum & 7));
        }

        field[digits] = 0;
        if (format != 0)
        {
            field[7] = (byte)' ';
        }
    }

    /// <summary>Which format of <see cref="WriteChecksum"/> reproduces <paramref name="header"/> byte for byte, or -1.</summary>
    public static int ChecksumFormat(ReadOnlySpan<byte> header)
    {
        Span<byte> copy = stackalloc byte[BlockSize];
        for (int format = 0; format < 2; format++)
        {
            header.CopyTo(copy);
            WriteChecksum(copy, format);
            if (copy.SequenceEqual(header))
            {
                return format;
            }
        }

        return -1;
    }
}
