// Content object headers and the content checksum (spec: ostree-repo-format.md, sections 2.5 and 4.1).
using System.Buffers.Binary;
using System.Security.Cryptography;
using OstreeSharp.GVariant;

namespace OstreeSharp.Objects;

/// <summary>The metadata of a content object: owner, mode, symlink target and xattrs.</summary>
public sealed record FileHeader(uint Uid, uint Gid, uint Mode, string SymlinkTarget, Xattrs Xattrs)
{
    private static readonly GVariantType HeaderType = GVariantType.Parse("(uuuusa(ayay))");
    private static readonly GVariantType ArchiveHeaderType = GVariantType.Parse("(tuuuusa(ayay))");

    /// <summary>True for a symlink.</summary>
    public bool IsSymlink => UnixMode.IsSymlink(Mode);

    /// <summary>The <c>(uuuusa(ayay))</c> bytes hashed into the content checksum.</summary>
    public byte[] ToFileHeaderBytes() => GVariantValue.FromTuple(
        Be32(Uid), Be32(Gid), Be32(Mode), Be32(0),
        GVariantValue.FromString(SymlinkTarget),
        Xattrs.ToGVariant()).ToBytes();

    /// <summary>The <c>(tuuuusa(ayay))</c> bytes of an archive <c>.filez</c> header.</summary>
    public byte[] ToArchiveHeaderBytes(ulong size) => GVariantValue.FromTuple(
        GVariantValue.FromUInt64(BinaryPrimitives.ReverseEndianness(size)),
        Be32(Uid), Be32(Gid), Be32(Mode), Be32(0),
        GVariantValue.FromString(SymlinkTarget),
        Xattrs.ToGVariant()).ToBytes();

    /// <summary>The stream prefix <c>BE32(len) 00000000 header</c> that precedes file data.</summary>
    public byte[] ToContentStreamPrefix() => Frame(ToFileHeaderBytes());

    /// <summary>Frames a header as <c>BE32(len) 00000000 header</c>.</summary>
    public static byte[] Frame(byte[] header)
    {
        var res = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt32BigEndian(res, (uint)header.Length);
        header.CopyTo(res, 8);
        return res;
    }

    /// <summary>An incremental SHA-256 already fed with this header's prefix; add the data and finish.</summary>
    public IncrementalHash StartContentHash()
    {
        var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        h.AppendData(ToContentStreamPrefix());
        return h;
    }

    /// <summary>The content checksum of this header with <paramref name="data"/>.</summary>
    public Checksum ComputeChecksum(ReadOnlySpan<byte> data)
    {
        using var h = StartContentHash();
        h.AppendData(data);
        return Checksum.FromHash(h);
    }

    /// <summary>The content checksum of this header with the data read from <paramref name="data"/> to its end.</summary>
    public Checksum ComputeChecksum(Stream data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var h = StartContentHash();
        var buf = System.Buffers.ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            int n;
            while ((n = data.Read(buf, 0, buf.Length)) > 0)
            {
                h.AppendData(buf, 0, n);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buf);
        }

        return Checksum.FromHash(h);
    }

    /// <summary>Parses a <c>(uuuusa(ayay))</c> header.</summary>
    public static FileHeader ParseFileHeader(ReadOnlySpan<byte> bytes)
    {
        var v = GVariantValue.Parse(HeaderType, bytes);
        return FromFields(v, 0);
    }

    /// <summary>Parses a <c>(tuuuusa(ayay))</c> archive header, returning the data size too.</summary>
    public static (FileHeader Header, ulong Size) ParseArchiveHeader(ReadOnlySpan<byte> bytes)
    {
        var v = GVariantValue.Parse(ArchiveHeaderType, bytes);
        return (FromFields(v, 1), BinaryPrimitives.ReverseEndianness(v[0].GetUInt64()));
    }

    private static FileHeader FromFields(GVariantValue v, int first)
    {
        uint uid = BinaryPrimitives.ReverseEndianness(v[first].GetUInt32());
        uint gid = BinaryPrimitives.ReverseEndianness(v[first + 1].GetUInt32());
        uint mode = BinaryPrimitives.ReverseEndianness(v[first + 2].GetUInt32());
        uint rdev = BinaryPrimitives.ReverseEndianness(v[first + 3].GetUInt32());
        if (rdev != 0)
        {
            throw new OstreeFormatException($"file header has non-zero rdev {rdev}");
        }

        ValidateMode(mode);
        var target = v[first + 4].GetString();
        return new FileHeader(uid, gid, mode, UnixMode.IsSymlink(mode) ? target : string.Empty, Xattrs.FromGVariant(v[first + 5]));
    }

    /// <summary>Checks the mode is a regular file or symlink with permission bits only.</summary>
    public static void ValidateMode(uint mode)
    {
        if (!UnixMode.IsRegular(mode) && !UnixMode.IsSymlink(mode))
        {
            throw new OstreeFormatException($"invalid file mode 0{Convert.ToString(mode, 8)}: not a regular file or symlink");
        }

        if ((mode & ~(UnixMode.TypeMask | UnixMode.PermissionMask)) != 0)
        {
            throw new OstreeFormatException($"invalid file mode 0{Convert.ToString(mode, 8)}");
        }
    }

    /// <summary>
    /// The check of a pull's <c>--bareuseronly-files</c>: a regular file may have no permission bits outside 0775
    /// (no setuid, setgid, sticky or world-writable bit). Refused in libostree's words, naming the object.
    /// </summary>
    public static void ValidateBareUserOnlyMode(uint mode, Checksum? checksum)
    {
        uint invalid = mode & ~UnixMode.TypeMask & ~0x1FDu;
        if (UnixMode.IsRegular(mode) && invalid != 0)
        {
            throw new OstreeException(OstreeErrorCode.InvalidData, string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Content object{(checksum is { } c ? " " + c.ToHex() : string.Empty)}: invalid mode 0{Convert.ToString(mode, 8).PadLeft(4, '0')} with bits 0{Convert.ToString(invalid, 8).PadLeft(4, '0')}"));
        }
    }

    internal static GVariantValue Be32(uint v) => GVariantValue.FromUInt32(BinaryPrimitives.ReverseEndianness(v));
}
