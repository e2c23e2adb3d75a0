// GVariant normal-form serializer (spec: ostree-repo-format.md, sections 1.3-1.5).
using System.Buffers.Binary;
using System.Text;

namespace OstreeSharp.GVariant;

/// <summary>Writes GVariant values in normal form.</summary>
internal static class GVariantSerializer
{
    /// <summary>Serializes <paramref name="value"/>.</summary>
    public static byte[] Serialize(GVariantValue value)
    {
        var buf = new GrowableBuffer(256);
        Write(buf, value);
        return buf.ToArray();
    }

    /// <summary>Serializes <paramref name="value"/> into <paramref name="buffer"/> starting at its current (aligned) length.</summary>
    internal static void Write(GrowableBuffer buffer, GVariantValue value)
    {
        var t = value.Type;
        switch (t.Kind)
        {
            case 'b' or 'y':
                buffer.WriteByte((byte)value.NumberBits);
                break;
            case 'n' or 'q':
                BinaryPrimitives.WriteUInt16LittleEndian(buffer.Extend(2), (ushort)value.NumberBits);
                break;
            case 'i' or 'u' or 'h':
                BinaryPrimitives.WriteUInt32LittleEndian(buffer.Extend(4), (uint)value.NumberBits);
                break;
            case 'x' or 't' or 'd':
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.Extend(8), value.NumberBits);
                break;
            case 's' or 'o' or 'g':
                {
                    var s = (string)value.Payload!;
                    int n = Encoding.UTF8.GetByteCount(s);
                    var span = buffer.Extend(n + 1);
                    Encoding.UTF8.GetBytes(s, span);
                    span[n] = 0;
                    break;
                }

            case 'v':
                {
                    var child = (GVariantValue)value.Payload!;
                    Write(buffer, child);
                    buffer.WriteByte(0);
                    var tt = child.Type.Text;
                    Encoding.ASCII.GetBytes(tt, buffer.Extend(tt.Length));
                    break;
                }

            case 'm':
                {
                    var child = (GVariantValue?)value.Payload;
                    if (child is not null)
                    {
                        Write(buffer, child);
                        if (!child.Type.IsFixedSize)
                        {
                            buffer.WriteByte(0);
                        }
                    }

                    break;
                }

            case 'a':
                WriteArray(buffer, value);
                break;
            default:
                WriteTuple(buffer, value);
                break;
        }
    }

    private static void WriteArray(GrowableBuffer buffer, GVariantValue value)
    {
        var elem = value.Type.Element!;
        if (value.Payload is byte[] bytes)
        {
            bytes.CopyTo(buffer.Extend(bytes.Length));
            return;
        }

        var items = (GVariantValue[])value.Payload!;
        int start = buffer.Length;
        if (elem.IsFixedSize)
        {
            foreach (var i in items)
            {
                Write(buffer, i);
            }

            return;
        }

        if (items.Length == 0)
        {
            return;
        }

        Span<long> small = items.Length <= 64 ? stackalloc long[items.Length] : default;
        long[]? big = items.Length > 64 ? new long[items.Length] : null;
        Span<long> ends = big ?? small;
        for (int k = 0; k < items.Length; k++)
        {
            buffer.PadTo(start, elem.Alignment);
            Write(buffer, items[k]);
            ends[k] = buffer.Length - start;
        }

        WriteOffsets(buffer, start, ends, reverse: false);
    }

    private static void WriteTuple(GrowableBuffer buffer, GVariantValue value)
    {
        var t = value.Type;
        var members = (GVariantValue[])value.Payload!;
        int start = buffer.Length;
        if (members.Length == 0)
        {
            buffer.WriteByte(0);
            return;
        }

        Span<long> ends = stackalloc long[members.Length];
        int nOffsets = 0;
        for (int k = 0; k < members.Length; k++)
        {
            var m = members[k];
            buffer.PadTo(start, m.Type.Alignment);
            Write(buffer, m);
            if (!m.Type.IsFixedSize && k != members.Length - 1)
            {
                ends[nOffsets++] = buffer.Length - start;
            }
        }

        if (t.IsFixedSize)
        {
            buffer.PadTo(start, t.Alignment);
            return;
        }

        WriteOffsets(buffer, start, ends[..nOffsets], reverse: true);
    }

    private static void WriteOffsets(GrowableBuffer buffer, int start, ReadOnlySpan<long> ends, bool reverse)
    {
        if (ends.Length == 0)
        {
            return;
        }

        long body = buffer.Length - start;
        int w = OffsetWidthForWriting(body, ends.Length);
        var span = buffer.Extend(w * ends.Length);
        for (int k = 0; k < ends.Length; k++)
        {
            long v = reverse ? ends[ends.Length - 1 - k] : ends[k];
            WriteOffset(span.Slice(k * w, w), v);
        }
    }

    internal static int OffsetWidthForWriting(long body, int count)
    {
        if (body + count <= byte.MaxValue)
        {
            return 1;
        }

        if (body + (2L * count) <= ushort.MaxValue)
        {
            return 2;
        }

        if (body + (4L * count) <= uint.MaxValue)
        {
            return 4;
        }

        return 8;
    }

    internal static void WriteOffset(Span<byte> dest, long v)
    {
        switch (dest.Length)
        {
            case 1: dest[0] = (byte)v; break;
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(dest, (ushort)v); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(dest, (uint)v); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(dest, (ulong)v); break;
        }
    }
}
