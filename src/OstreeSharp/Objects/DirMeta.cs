// dirmeta objects (spec: ostree-repo-format.md, section 2.4); the same layout is bare-user's user.ostreemeta.
using System.Buffers.Binary;
using OstreeSharp.GVariant;

namespace OstreeSharp.Objects;

/// <summary>A directory's owner, mode and xattrs: <c>(uuua(ayay))</c> with big-endian numbers.</summary>
public sealed record DirMeta(uint Uid, uint Gid, uint Mode, Xattrs Xattrs)
{
    /// <summary>The GVariant type.</summary>
    public static readonly GVariantType Type = GVariantType.Parse("(uuua(ayay))");

    /// <summary>Serializes to the object bytes.</summary>
    public byte[] ToBytes() => GVariantValue.FromTuple(
        FileHeader.Be32(Uid), FileHeader.Be32(Gid), FileHeader.Be32(Mode), Xattrs.ToGVariant()).ToBytes();

    /// <summary>Parses object bytes; <paramref name="requireDirectory"/> checks the mode is a directory.</summary>
    public static DirMeta Parse(ReadOnlySpan<byte> bytes, bool requireDirectory = true)
    {
        var v = GVariantValue.Parse(Type, bytes);
        uint mode = BinaryPrimitives.ReverseEndianness(v[2].GetUInt32());
        if (requireDirectory && (!UnixMode.IsDirectory(mode) || (mode & ~(UnixMode.TypeMask | UnixMode.PermissionMask)) != 0))
        {
            throw new OstreeFormatException($"invalid directory mode 0{Convert.ToString(mode, 8)}");
        }

        return new DirMeta(
            BinaryPrimitives.ReverseEndianness(v[0].GetUInt32()),
            BinaryPrimitives.ReverseEndianness(v[1].GetUInt32()),
            mode,
            Xattrs.FromGVariant(v[3]));
    }
}
