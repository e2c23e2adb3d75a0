// GVariant parser for untrusted bytes (spec: ostree-repo-format.md, sections 1.3-1.5).
using System.Buffers.Binary;
using System.Text;

namespace OstreeSharp.GVariant;

/// <summary>Parses serialized GVariant data, refusing anything not in normal form.</summary>
internal static class GVariantParser
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Parses <paramref name="data"/> as one value of <paramref name="type"/>.</summary>
    /// <exception cref="GVariantFormatException">The bytes are malformed or not in normal form.</exception>
    public static GVariantValue Parse(GVariantType type, ReadOnlySpan<byte> data)
    {
        var value = Read(type, data, 0, 0);
        // Normal form: the only accepted serialization is the one we would write.
        var buf = new GrowableBuffer(data.Length);
        GVariantSerializer.Write(buf, value);
        var again = buf.WrittenSpan;
        if (!again.SequenceEqual(data))
        {
            int at = again.CommonPrefixLength(data);
            throw new GVariantFormatException($"GVariant of type '{type}' is not in normal form", at);
        }

        return value;
    }

    internal static int OffsetWidthForReading(long length) => length switch
    {
        0 => 0,
        <= byte.MaxValue => 1,
        <= ushort.MaxValue => 2,
        <= uint.MaxValue => 4,
        _ => 8,
    };

    private static long ReadOffset(ReadOnlySpan<byte> data, int at, int w) => w switch
    {
        1 => data[at],
        2 => BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(at, 2)),
        4 => BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(at, 4)),
        8 => (long)BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(at, 8)),
        _ => throw new ArgumentOutOfRangeException(nameof(w), w, "framing offset width"),
    };

    // depth: the levels of containers and variants around this value. GLib refuses a value whose depth and type depth
    // together exceed G_VARIANT_MAX_RECURSION_DEPTH (as not in normal form); so do we, before recursing further.
    private static GVariantValue Read(GVariantType t, ReadOnlySpan<byte> d, int abs, int depth)
    {
        if (depth + t.Depth > GVariantType.MaxDepth)
        {
            throw new GVariantFormatException($"GVariant value is nested more than {GVariantType.MaxDepth} levels deep: not in normal form", abs);
        }

        if (t.IsFixedSize && d.Length != t.FixedSize)
        {
            throw new GVariantFormatException($"value of type '{t}' has {d.Length} bytes, expected {t.FixedSize}", abs);
        }

        switch (t.Kind)
        {
            case 'b':
                if (d[0] > 1)
                {
                    throw new GVariantFormatException($"boolean has value {d[0]}", abs);
                }

                return GVariantValue.Raw(t, d[0], null);
            case 'y':
                return GVariantValue.Raw(t, d[0], null);
            case 'n':
                return GVariantValue.Raw(t, unchecked((ulong)BinaryPrimitives.ReadInt16LittleEndian(d)), null);
            case 'q':
                return GVariantValue.Raw(t, BinaryPrimitives.ReadUInt16LittleEndian(d), null);
            case 'i' or 'h':
                return GVariantValue.Raw(t, unchecked((ulong)BinaryPrimitives.ReadInt32LittleEndian(d)), null);
            case 'u':
                return GVariantValue.Raw(t, BinaryPrimitives.ReadUInt32LittleEndian(d), null);
            case 'x' or 't' or 'd':
                return GVariantValue.Raw(t, BinaryPrimitives.ReadUInt64LittleEndian(d), null);
            case 's' or 'o' or 'g':
                return GVariantValue.Raw(t, 0, ReadString(d, abs));
            case 'v':
                return ReadVariant(d, abs, depth);
            case 'm':
                return ReadMaybe(t, d, abs, depth);
            case 'a':
                return ReadArray(t, d, abs, depth);
            default:
                return ReadTuple(t, d, abs, depth);
        }
    }

    private static string ReadString(ReadOnlySpan<byte> d, int abs)
    {
        if (d.Length == 0 || d[^1] != 0)
        {
            throw new GVariantFormatException("string is not NUL-terminated", abs + d.Length);
        }

        var body = d[..^1];
        int nul = body.IndexOf((byte)0);
        if (nul >= 0)
        {
            throw new GVariantFormatException("string contains a NUL byte", abs + nul);
        }

        try
        {
            return StrictUtf8.GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw new GVariantFormatException("string is not valid UTF-8", abs);
        }
    }

    private static GVariantValue ReadVariant(ReadOnlySpan<byte> d, int abs, int depth)
    {
        int sep = d.LastIndexOf((byte)0);
        if (sep < 0)
        {
            throw new GVariantFormatException("variant has no type separator", abs);
        }

        string typeText;
        try
        {
            typeText = Encoding.ASCII.GetString(d[(sep + 1)..]);
        }
        catch (DecoderFallbackException)
        {
            throw new GVariantFormatException("variant type string is not ASCII", abs + sep + 1);
        }

        if (!GVariantType.TryParse(typeText, out var childType))
        {
            throw new GVariantFormatException($"variant has invalid type string '{GVariantType.Clip(typeText)}'", abs + sep + 1);
        }

        return GVariantValue.FromVariant(Read(childType!, d[..sep], abs, depth + 1));
    }

    private static GVariantValue ReadMaybe(GVariantType t, ReadOnlySpan<byte> d, int abs, int depth)
    {
        var e = t.Element!;
        if (d.Length == 0)
        {
            return GVariantValue.FromMaybe(e, null);
        }

        if (e.IsFixedSize)
        {
            return GVariantValue.FromMaybe(e, Read(e, d, abs, depth + 1));
        }

        if (d[^1] != 0)
        {
            throw new GVariantFormatException("maybe value lacks its trailing zero byte", abs + d.Length - 1);
        }

        return GVariantValue.FromMaybe(e, Read(e, d[..^1], abs, depth + 1));
    }

    private static GVariantValue ReadArray(GVariantType t, ReadOnlySpan<byte> d, int abs, int depth)
    {
        var e = t.Element!;
        if (e.Kind == 'y')
        {
            return GVariantValue.Raw(t, 0, d.ToArray());
        }

        if (e.IsFixedSize)
        {
            if (d.Length % e.FixedSize != 0)
            {
                throw new GVariantFormatException($"array of '{e}' has {d.Length} bytes, not a multiple of {e.FixedSize}", abs);
            }

            int n = d.Length / e.FixedSize;
            var items = new GVariantValue[n];
            for (int k = 0; k < n; k++)
            {
                items[k] = Read(e, d.Slice(k * e.FixedSize, e.FixedSize), abs + (k * e.FixedSize), depth + 1);
            }

            return GVariantValue.Raw(t, 0, items);
        }

        if (d.Length == 0)
        {
            return GVariantValue.Raw(t, 0, Array.Empty<GVariantValue>());
        }

        int w = OffsetWidthForReading(d.Length);
        if (d.Length < w)
        {
            throw new GVariantFormatException("array is shorter than its framing offset", abs);
        }

        long lastEnd = ReadOffset(d, d.Length - w, w);
        if (lastEnd > d.Length - w || (d.Length - lastEnd) % w != 0)
        {
            throw new GVariantFormatException($"array framing offset {lastEnd} is out of range", abs + d.Length - w);
        }

        long count = (d.Length - lastEnd) / w;
        if (count == 0)
        {
            throw new GVariantFormatException("array has an empty offset table", abs + d.Length - w);
        }

        var result = new GVariantValue[count];
        long prev = 0;
        for (long k = 0; k < count; k++)
        {
            int at = (int)(lastEnd + (k * w));
            long end = ReadOffset(d, at, w);
            long startAt = GVariantType.AlignUp((int)prev, e.Alignment);
            if (end < startAt || end > lastEnd)
            {
                throw new GVariantFormatException($"array element {k} has invalid end offset {end}", abs + at);
            }

            result[k] = Read(e, d[(int)startAt..(int)end], abs + (int)startAt, depth + 1);
            prev = end;
        }

        return GVariantValue.Raw(t, 0, result);
    }

    private static GVariantValue ReadTuple(GVariantType t, ReadOnlySpan<byte> d, int abs, int depth)
    {
        var members = t.Members;
        if (members.Count == 0)
        {
            if (d.Length != 1 || d[0] != 0)
            {
                throw new GVariantFormatException("unit tuple must be one zero byte", abs);
            }

            return GVariantValue.Raw(t, 0, Array.Empty<GVariantValue>());
        }

        int w = t.IsFixedSize ? 0 : OffsetWidthForReading(d.Length);
        int offsetsUsed = 0;
        long pos = 0;
        var result = new GVariantValue[members.Count];
        for (int k = 0; k < members.Count; k++)
        {
            var m = members[k];
            long start = GVariantType.AlignUp((int)pos, m.Alignment);
            long end;
            if (m.IsFixedSize)
            {
                end = start + m.FixedSize;
            }
            else if (k == members.Count - 1)
            {
                end = d.Length - ((long)w * offsetsUsed);
            }
            else
            {
                offsetsUsed++;
                long at = d.Length - ((long)w * offsetsUsed);
                if (w == 0 || at < 0)
                {
                    throw new GVariantFormatException($"tuple '{t}' is too short for its framing offsets", abs);
                }

                end = ReadOffset(d, (int)at, w);
            }

            long limit = d.Length - ((long)w * offsetsUsed);
            if (start > end || end > limit)
            {
                throw new GVariantFormatException($"member {k} of tuple '{t}' runs out of bounds ({start}..{end})", abs + (int)Math.Min(start, d.Length));
            }

            result[k] = Read(m, d[(int)start..(int)end], abs + (int)start, depth + 1);
            pos = end;
        }

        return GVariantValue.Raw(t, 0, result);
    }
}
