// The ostree.sizes commit metadata (spec: ostree-repo-format.md, section 2.10). libostree records
// it only for objects written by the transaction, and only in archive repositories.
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>The <c>ostree.sizes</c> commit metadata: written for archive repositories, read by <c>show --print-sizes</c>.</summary>
internal static class SizesIndex
{
    /// <summary>The sizes of the objects <paramref name="tx"/> wrote (none outside archive repositories, as libostree).</summary>
    public static GVariantValue Build(RepoTransaction tx)
    {
        var items = new List<GVariantValue>();
        if (tx.Repo.Mode == RepoMode.Archive)
        {
            foreach (var (c, type, archived, unpacked) in tx.WrittenSizes().OrderBy(e => e.Checksum))
            {
                var bytes = new List<byte>(40);
                bytes.AddRange(c.ToBytes());
                WriteVarint(bytes, archived);
                WriteVarint(bytes, unpacked);
                bytes.Add((byte)type);
                items.Add(GVariantValue.FromBytes([.. bytes]));
            }
        }

        return GVariantValue.FromArray(GVariantType.ByteArray, items);
    }

    /// <summary>
    /// One entry: the object's id and type (a file when the entry predates the type byte) and its archived and
    /// unpacked sizes.
    /// </summary>
    /// <exception cref="OstreeFormatException">The entry is truncated or names no object type, in libostree's words.</exception>
    public static (Checksum Checksum, ObjectType Type, ulong Archived, ulong Unpacked) ReadEntry(ReadOnlySpan<byte> entry)
    {
        if (entry.Length < 34)
        {
            throw new OstreeFormatException("Could not read ostree.sizes metadata entry");
        }

        var checksum = new Checksum(entry[..32]);
        int pos = 32;
        ulong archived = ReadVarint(entry, ref pos), unpacked = ReadVarint(entry, ref pos);
        var type = ObjectType.File;
        if (pos < entry.Length)
        {
            byte t = entry[pos];
            type = t is >= 1 and <= 7 ? (ObjectType)t : throw new OstreeFormatException($"Unexpected ostree.sizes object type {t}");
        }

        return (checksum, type, archived, unpacked);
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= data.Length)
            {
                break;
            }

            byte b = data[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new OstreeFormatException("Unexpected EOF reading ostree.sizes varint");
    }

    private static void WriteVarint(List<byte> into, ulong v)
    {
        while (v >= 0x80)
        {
            into.Add((byte)(v | 0x80));
            v >>= 7;
        }

        into.Add((byte)v);
    }
}
