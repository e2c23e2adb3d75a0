// Tar entries as our reader and writer see them (ustar, GNU and PAX; see ostree-container-format.md 2.6).
using System.Text;
using OstreeSharp.Objects;

namespace OstreeSharp.Tar;

/// <summary>Tar type flags.</summary>
internal static class TarType
{
    /// <summary>Regular file.</summary>
    public const byte Regular = (byte)'0';

    /// <summary>Old-style regular file (NUL type flag).</summary>
    public const byte RegularOld = 0;

    /// <summary>Hard link to an earlier entry.</summary>
    public const byte HardLink = (byte)'1';

    /// <summary>Symbolic link.</summary>
    public const byte Symlink = (byte)'2';

    /// <summary>Character device.</summary>
    public const byte CharDevice = (byte)'3';

    /// <summary>Block device.</summary>
    public const byte BlockDevice = (byte)'4';

    /// <summary>Directory.</summary>
    public const byte Directory = (byte)'5';

    /// <summary>FIFO.</summary>
    public const byte Fifo = (byte)'6';

    /// <summary>Contiguous file (treated as regular).</summary>
    public const byte Contiguous = (byte)'7';

    /// <summary>PAX extended header for the next entry.</summary>
    public const byte PaxHeader = (byte)'x';

    /// <summary>PAX global header.</summary>
    public const byte PaxGlobal = (byte)'g';

    /// <summary>GNU long name for the next entry.</summary>
    public const byte GnuLongName = (byte)'L';

    /// <summary>GNU long link target for the next entry.</summary>
    public const byte GnuLongLink = (byte)'K';

    /// <summary>Socket: no tar type flag exists; only cpio archives report it.</summary>
    public const byte Socket = 0xfe;

    /// <summary>A readable name for messages.</summary>
    public static string Describe(byte t) => t switch
    {
        Regular or RegularOld or Contiguous => "regular file",
        HardLink => "hardlink",
        Symlink => "symlink",
        CharDevice => "character device",
        BlockDevice => "block device",
        Directory => "directory",
        Fifo => "fifo",
        Socket => "socket",
        _ => $"type '{(char)t}'",
    };
}

/// <summary>One tar entry's header (after PAX and GNU long-name records are applied).</summary>
internal sealed class TarEntry
{
    /// <summary>The path, as stored (no normalisation).</summary>
    public required string Name { get; set; }

    /// <summary>The type flag.</summary>
    public byte Type { get; set; } = TarType.Regular;

    /// <summary>Link target of symlinks and hard links.</summary>
    public string LinkName { get; set; } = string.Empty;

    /// <summary>
    /// cpio only: the earlier name of this entry's inode. <see cref="Type"/> stays the entry's own type and the entry
    /// may carry data (GNU cpio writes a multiply-linked file's data with its last name).
    /// </summary>
    public string? HardLinkTo { get; set; }

    /// <summary>The mode field (permission bits; v0 ostree streams also carry type bits).</summary>
    public uint Mode { get; set; }

    /// <summary>Owner uid.</summary>
    public uint Uid { get; set; }

    /// <summary>Owner gid.</summary>
    public uint Gid { get; set; }

    /// <summary>Data size.</summary>
    public long Size { get; set; }

    /// <summary>Modification time, seconds.</summary>
    public long Mtime { get; set; }

    /// <summary>Owner name.</summary>
    public string UserName { get; set; } = string.Empty;

    /// <summary>Group name.</summary>
    public string GroupName { get; set; } = string.Empty;

    /// <summary>Device major (devices only).</summary>
    public uint DevMajor { get; set; }

    /// <summary>Device minor (devices only).</summary>
    public uint DevMinor { get; set; }

    /// <summary>Extended attributes from PAX <c>SCHILY.xattr.*</c> (binary-safe) and <c>LIBARCHIVE.xattr.*</c> records, in record order.</summary>
    public List<Xattr> Xattrs { get; } = [];

    /// <summary>Every PAX record of the entry, raw, in stream order (carried over when rewriting streams).</summary>
    public List<KeyValuePair<string, byte[]>> PaxRecords { get; } = [];

    /// <summary>True for regular files (any of the regular type flags).</summary>
    public bool IsRegular => Type is TarType.Regular or TarType.RegularOld or TarType.Contiguous;

    /// <summary>True for directories.</summary>
    public bool IsDirectory => Type == TarType.Directory;

    /// <summary>A copy of the header fields (not the data).</summary>
    public TarEntry Clone()
    {
        var e = new TarEntry
        {
            Name = Name, Type = Type, LinkName = LinkName, Mode = Mode, Uid = Uid, Gid = Gid, Size = Size, Mtime = Mtime,
            UserName = UserName, GroupName = GroupName, DevMajor = DevMajor, DevMinor = DevMinor, HardLinkTo = HardLinkTo,
        };
        e.Xattrs.AddRange(Xattrs);
        e.PaxRecords.AddRange(PaxRecords);
        return e;
    }

    /// <inheritdoc />
    public override string ToString() => $"{TarType.Describe(Type)} {Name}";

    internal static string DecodeName(ReadOnlySpan<byte> bytes, string what)
    {
        try
        {
            return Utf8Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new TarFormatException($"Invalid non-utf8 path in {what}");
        }
    }

    internal static readonly UTF8Encoding Utf8Strict = new(false, true);
}

/// <summary>Raised for malformed or hostile tar input; the message names the entry.</summary>
public sealed class TarFormatException(string message) : OstreeFormatException(OstreeErrorCode.InvalidArchive, message);
