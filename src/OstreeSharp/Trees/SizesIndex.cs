// The ostree.sizes commit metadata (spec: ostree-repo-format.md, section 2.10). libostree records
// it only for objects written by the transaction, and only in archive repositories.
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

internal static class SizesIndex
{
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
