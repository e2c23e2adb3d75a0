// In-memory tree that a composefs image is written from. It models what libcomposefs 1.0.8's
// lcfs_node_s holds (mode, ids, size, mtime, rdev, payload, inline content, fs-verity digest,
// xattrs, hard links) and applies the same limits when values are set.
using System.Text;
using OstreeSharp.Objects;

namespace OstreeSharp.Composefs;

/// <summary>
/// One entry of a composefs tree: a directory, regular file, symlink, device, fifo or socket, or a
/// hard link to another entry. Regular files normally carry no data, only a size, a payload (the
/// path of the backing file, relative to the composefs base directory) and an optional fs-verity
/// digest; small files may instead carry their content inline.
/// </summary>
/// <remarks>Not thread-safe. A node can be added to one parent only.</remarks>
public sealed class ComposefsNode
{
    /// <summary>Longest file name, in bytes.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Longest payload (backing path or symlink target), in bytes (PATH_MAX - 1).</summary>
    public const int MaxPayloadLength = 4095;

    /// <summary>Largest inline content, in bytes (LCFS_INLINE_CONTENT_MAX).</summary>
    public const int MaxInlineContentLength = 5000;

    /// <summary>Longest xattr name, in bytes (XATTR_NAME_MAX).</summary>
    public const int MaxXattrNameLength = 255;

    /// <summary>Largest xattr value, in bytes.</summary>
    public const int MaxXattrValueLength = ushort.MaxValue;

    /// <summary>
    /// Budget for one node's xattrs, in libcomposefs's accounting (LCFS_INODE_EXTERNAL_XATTR_MAX):
    /// 12 bytes of header, then 7 + name length + value length for each xattr.
    /// </summary>
    public const int MaxXattrAccountedSize = ushort.MaxValue / 2;

    /// <summary>Largest size of a regular file without inline content: 1024 chunks of 2^43 bytes.</summary>
    public const ulong MaxExternalFileSize = 1UL << 53;

    private static readonly Comparison<ComposefsNode> NameOrder = (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name);

    private List<ComposefsNode>? children;
    private List<Xattr>? xattrs;
    private ulong xattrAccounted;
    private byte[]? payload;
    private byte[]? content;
    private byte[]? digest;
    private ulong size;

    /// <summary>Creates a node with the given st_mode (file type and permission bits); nlink is 1.</summary>
    public ComposefsNode(uint mode)
    {
        Mode = mode;
        Nlink = 1;
    }

    /// <summary>The st_mode: file type (<see cref="UnixMode.TypeMask"/>) and permission bits.</summary>
    public uint Mode { get; set; }

    /// <summary>The owner.</summary>
    public uint Uid { get; set; }

    /// <summary>The group.</summary>
    public uint Gid { get; set; }

    /// <summary>
    /// Link count. Ignored for directories (the writer stores 2 + number of subdirectories); for
    /// other files it is stored as given (adding hard links does not change it).
    /// </summary>
    public uint Nlink { get; set; }

    /// <summary>Modification time, seconds since the epoch.</summary>
    public long MtimeSeconds { get; set; }

    /// <summary>Modification time, nanoseconds part.</summary>
    public uint MtimeNanoseconds { get; set; }

    /// <summary>Device number of a character or block device, as the 32 bits libcomposefs keeps of a dev_t.</summary>
    public uint Rdev { get; set; }

    /// <summary>
    /// The file size. For regular files it is the size of the backing file (or of the inline
    /// content); setting a different size drops inline content. For symlinks libcomposefs uses it
    /// only when the target does not fit in the inode's block (see docs/composefs.md).
    /// </summary>
    public ulong Size
    {
        get => size;
        set
        {
            if (value != size)
            {
                content = null;
                size = value;
            }
        }
    }

    /// <summary>
    /// For a regular file the backing path (relative to the composefs base directory), stored as
    /// the <c>trusted.overlay.redirect</c> xattr with a leading '/'; for a symlink its target.
    /// </summary>
    public byte[]? Payload
    {
        get => payload;
        set
        {
            if (value is not null)
            {
                if (value.Length > MaxPayloadLength)
                {
                    throw new ComposefsLimitException($"payload of {value.Length} bytes is longer than {MaxPayloadLength}", PathOrNull());
                }

                if (value.AsSpan().IndexOf((byte)0) >= 0)
                {
                    throw new ComposefsException("payload contains a NUL byte", PathOrNull());
                }
            }

            payload = value;
        }
    }

    /// <summary>The payload as UTF-8 text.</summary>
    public string? PayloadString
    {
        get => payload is null ? null : Encoding.UTF8.GetString(payload);
        set => Payload = value is null ? null : Encoding.UTF8.GetBytes(value);
    }

    /// <summary>Inline content of a small regular file (null when the file is backed by a payload).</summary>
    public byte[]? Content => content;

    /// <summary>The expected fs-verity (SHA-256) digest of the backing file, or null.</summary>
    public byte[]? FsVerityDigest
    {
        get => digest;
        set
        {
            if (value is not null && value.Length != FsVerityHasher.DigestSize)
            {
                throw new ComposefsException($"fs-verity digest must be {FsVerityHasher.DigestSize} bytes, not {value.Length}", PathOrNull());
            }

            digest = value;
        }
    }

    /// <summary>The entry this node is a hard link to, or null. Only the target's metadata is used.</summary>
    public ComposefsNode? HardLinkTarget { get; private set; }

    /// <summary>The name in the parent directory (null for a root or a node not yet added).</summary>
    public byte[]? Name { get; private set; }

    /// <summary>The parent directory, or null.</summary>
    public ComposefsNode? Parent { get; private set; }

    /// <summary>Children, sorted by name bytes.</summary>
    public IReadOnlyList<ComposefsNode> Children => (IReadOnlyList<ComposefsNode>?)children ?? [];

    /// <summary>Extended attributes in the order they were set (the writer sorts them by name).</summary>
    public IReadOnlyList<Xattr> Xattrs => (IReadOnlyList<Xattr>?)xattrs ?? [];

    /// <summary>The file type bits of <see cref="Mode"/>.</summary>
    public uint FileType => Mode & UnixMode.TypeMask;

    /// <summary>True for a directory (and not a hard link).</summary>
    public bool IsDirectory => HardLinkTarget is null && FileType == UnixMode.Directory;

    internal List<ComposefsNode>? ChildList => children;

    internal List<Xattr>? XattrList => xattrs;

    /// <summary>A directory.</summary>
    public static ComposefsNode CreateDirectory(uint permissions = 0x1ED, uint uid = 0, uint gid = 0) =>
        new(UnixMode.Directory | (permissions & UnixMode.PermissionMask)) { Uid = uid, Gid = gid };

    /// <summary>
    /// A regular file backed by <paramref name="payload"/> (may be null: then only metadata is
    /// stored) with the backing file's <paramref name="fsVerityDigest"/> (may be null).
    /// </summary>
    public static ComposefsNode CreateRegularFile(uint permissions, ulong size, string? payload, byte[]? fsVerityDigest = null, uint uid = 0, uint gid = 0) =>
        new(UnixMode.Regular | (permissions & UnixMode.PermissionMask))
        {
            Uid = uid,
            Gid = gid,
            Size = size,
            PayloadString = payload,
            FsVerityDigest = fsVerityDigest,
        };

    /// <summary>A regular file whose content is stored inline in the image.</summary>
    public static ComposefsNode CreateInlineFile(uint permissions, ReadOnlySpan<byte> data, uint uid = 0, uint gid = 0)
    {
        var n = new ComposefsNode(UnixMode.Regular | (permissions & UnixMode.PermissionMask)) { Uid = uid, Gid = gid };
        n.SetContent(data);
        return n;
    }

    /// <summary>A symlink; its size is set to the target's length (as mkcomposefs does).</summary>
    public static ComposefsNode CreateSymlink(ReadOnlySpan<byte> target, uint uid = 0, uint gid = 0)
    {
        if (target.IsEmpty)
        {
            throw new ComposefsException("symlink target is empty");
        }

        return new ComposefsNode(UnixMode.Symlink | 0x1FF) { Uid = uid, Gid = gid, Payload = target.ToArray(), size = (ulong)target.Length };
    }

    /// <summary>A symlink to a UTF-8 target, owned by root.</summary>
    public static ComposefsNode CreateSymlink(string target) =>
        CreateSymlink(Encoding.UTF8.GetBytes(target ?? throw new ArgumentNullException(nameof(target))));

    /// <summary>A character or block device, fifo or socket (<paramref name="fileType"/> is one of the <see cref="UnixMode"/> types).</summary>
    public static ComposefsNode CreateSpecial(uint fileType, uint permissions, uint rdev = 0, uint uid = 0, uint gid = 0) =>
        new((fileType & UnixMode.TypeMask) | (permissions & UnixMode.PermissionMask)) { Uid = uid, Gid = gid, Rdev = rdev };

    /// <summary>An overlayfs whiteout: a character device 0:0.</summary>
    public static ComposefsNode CreateWhiteout(uint permissions = 0x1A4) => CreateSpecial(UnixMode.CharDevice, permissions);

    /// <summary>A hard link to <paramref name="target"/>, to be added to a directory.</summary>
    public static ComposefsNode CreateHardLink(ComposefsNode target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var n = new ComposefsNode(target.Mode);
        n.SetHardLinkTarget(target);
        return n;
    }

    /// <summary>Makes this node a hard link to <paramref name="target"/>.</summary>
    public void SetHardLinkTarget(ComposefsNode target)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (ReferenceEquals(target, this))
        {
            throw new ComposefsException("a node cannot be a hard link to itself", PathOrNull());
        }

        if (children is { Count: > 0 })
        {
            throw new ComposefsException("a directory with entries cannot become a hard link", PathOrNull());
        }

        // Refuse cycles right away (libcomposefs only finds them when writing).
        for (var t = target; t is not null; t = t.HardLinkTarget)
        {
            if (ReferenceEquals(t, this))
            {
                throw new ComposefsException("hard link cycle", PathOrNull());
            }
        }

        HardLinkTarget = target;
    }

    /// <summary>Follows hard links to the entry that holds the metadata.</summary>
    public ComposefsNode ResolveHardLink()
    {
        var n = this;
        int guard = 0;
        while (n.HardLinkTarget is not null)
        {
            n = n.HardLinkTarget;
            if (++guard > 1_000_000 || ReferenceEquals(n, this))
            {
                throw new ComposefsException("hard link cycle", PathOrNull());
            }
        }

        return n;
    }

    /// <summary>Stores <paramref name="data"/> inline (at most <see cref="MaxInlineContentLength"/> bytes) and sets the size to its length.</summary>
    public void SetContent(ReadOnlySpan<byte> data)
    {
        if (data.Length > MaxInlineContentLength)
        {
            throw new ComposefsLimitException($"inline content of {data.Length} bytes is larger than {MaxInlineContentLength}", PathOrNull());
        }

        content = data.IsEmpty ? null : data.ToArray();
        size = (ulong)data.Length;
    }

    /// <summary>Sets <see cref="FsVerityDigest"/> to the fs-verity digest of the rest of <paramref name="data"/>.</summary>
    public void SetFsVerityDigestFromContent(Stream data) => FsVerityDigest = FsVerityHasher.Compute(data);

    /// <summary>Adds <paramref name="child"/> under <paramref name="name"/>, keeping children sorted by name bytes.</summary>
    public void AddChild(ReadOnlySpan<byte> name, ComposefsNode child)
    {
        ArgumentNullException.ThrowIfNull(child);
        if (!IsDirectory)
        {
            throw new ComposefsException("cannot add an entry to a non-directory", PathOrNull());
        }

        if (name.IsEmpty)
        {
            throw new ComposefsException("empty file name", PathOrNull());
        }

        if (name.Length > MaxNameLength)
        {
            throw new ComposefsLimitException($"file name of {name.Length} bytes is longer than {MaxNameLength}", ChildPath(name));
        }

        if (name.IndexOfAny((byte)'/', (byte)0) >= 0 || name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
        {
            throw new ComposefsException("invalid file name", ChildPath(name));
        }

        if (child.Name is not null || child.Parent is not null)
        {
            throw new ComposefsException("node is already in a directory", ChildPath(name));
        }

        if (ReferenceEquals(child, this) || IsAncestor(child))
        {
            throw new ComposefsException("cannot add a directory below itself", ChildPath(name));
        }

        children ??= [];
        int pos = FindChild(name);
        if (pos >= 0)
        {
            throw new ComposefsException("file already exists", ChildPath(name));
        }

        child.Name = name.ToArray();
        child.Parent = this;
        children.Insert(~pos, child);
    }

    /// <summary>Adds <paramref name="child"/> under a UTF-8 <paramref name="name"/>.</summary>
    public void AddChild(string name, ComposefsNode child) => AddChild(Encoding.UTF8.GetBytes(name), child);

    /// <summary>The child called <paramref name="name"/>, or null.</summary>
    public ComposefsNode? GetChild(ReadOnlySpan<byte> name)
    {
        int pos = FindChild(name);
        return pos >= 0 ? children![pos] : null;
    }

    /// <summary>The child called <paramref name="name"/> (UTF-8), or null.</summary>
    public ComposefsNode? GetChild(string name) => GetChild(Encoding.UTF8.GetBytes(name));

    /// <summary>Removes and returns the child called <paramref name="name"/>, or returns null.</summary>
    public ComposefsNode? RemoveChild(ReadOnlySpan<byte> name)
    {
        int pos = FindChild(name);
        if (pos < 0)
        {
            return null;
        }

        var c = children![pos];
        children.RemoveAt(pos);
        c.Parent = null;
        c.Name = null;
        return c;
    }

    /// <summary>
    /// Sets an xattr, replacing any value of the same name, with libcomposefs's checks: a name of
    /// 1 to 255 bytes without NUL, a value of at most 65535 bytes, and the node's total within
    /// <see cref="MaxXattrAccountedSize"/>.
    /// </summary>
    public void SetXattr(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (name.IndexOf((byte)0) >= 0)
        {
            throw new ComposefsException("xattr name contains a NUL byte", PathOrNull());
        }

        xattrs ??= [];
        XattrOps.Set(xattrs, ref xattrAccounted, name.ToArray(), value.ToArray(), MaxXattrAccountedSize, this);
    }

    /// <summary>Sets an xattr with a UTF-8 name.</summary>
    public void SetXattr(string name, ReadOnlySpan<byte> value) => SetXattr(Encoding.UTF8.GetBytes(name), value);

    /// <summary>The value of xattr <paramref name="name"/>, or null.</summary>
    public byte[]? GetXattr(ReadOnlySpan<byte> name)
    {
        if (xattrs is null)
        {
            return null;
        }

        int i = XattrOps.Find(xattrs, name);
        return i >= 0 ? xattrs[i].Value : null;
    }

    /// <summary>The value of xattr <paramref name="name"/> (UTF-8), or null.</summary>
    public byte[]? GetXattr(string name) => GetXattr(Encoding.UTF8.GetBytes(name));

    /// <summary>Removes xattr <paramref name="name"/>; false if it was not set.</summary>
    public bool RemoveXattr(ReadOnlySpan<byte> name) =>
        xattrs is not null && XattrOps.Remove(xattrs, ref xattrAccounted, name);

    /// <summary>The absolute path of this node from the root it hangs from ("/" for the root).</summary>
    public string GetPath()
    {
        if (Parent is null)
        {
            return Name is null ? "/" : "/" + Encoding.UTF8.GetString(Name);
        }

        var parts = new List<byte[]>();
        for (var n = this; n.Parent is not null; n = n.Parent)
        {
            parts.Add(n.Name!);
        }

        var sb = new StringBuilder();
        for (int i = parts.Count - 1; i >= 0; i--)
        {
            sb.Append('/').Append(Encoding.UTF8.GetString(parts[i]));
        }

        return sb.ToString();
    }

    /// <summary>Sorts children after names were inserted out of order (never needed through <see cref="AddChild(ReadOnlySpan{byte}, ComposefsNode)"/>).</summary>
    internal void SortChildren() => children?.Sort(NameOrder);

    internal string? PathOrNull() => Parent is null && Name is null ? null : GetPath();

    private string ChildPath(ReadOnlySpan<byte> name)
    {
        var p = Parent is null && Name is null ? string.Empty : GetPath();
        return (p == "/" ? string.Empty : p) + "/" + Encoding.UTF8.GetString(name);
    }

    private bool IsAncestor(ComposefsNode candidate)
    {
        for (var p = Parent; p is not null; p = p.Parent)
        {
            if (ReferenceEquals(p, candidate))
            {
                return true;
            }
        }

        return false;
    }

    // Binary search; like libcomposefs, try the end first since children usually arrive sorted.
    private int FindChild(ReadOnlySpan<byte> name)
    {
        if (children is null || children.Count == 0)
        {
            return ~0;
        }

        int hi = children.Count;
        int c = name.SequenceCompareTo(children[hi - 1].Name);
        if (c == 0)
        {
            return hi - 1;
        }

        if (c > 0)
        {
            return ~hi;
        }

        int lo = 0;
        hi--;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            c = name.SequenceCompareTo(children[mid].Name);
            if (c == 0)
            {
                return mid;
            }

            if (c < 0)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return ~lo;
    }
}

/// <summary>lcfs_node_set_xattr / unset_xattr, including the size accounting that decides ERANGE.</summary>
internal static class XattrOps
{
    public static int Find(List<Xattr> list, ReadOnlySpan<byte> name)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (name.SequenceEqual(list[i].Name))
            {
                return i;
            }
        }

        return -1;
    }

    public static bool Remove(List<Xattr> list, ref ulong accounted, ReadOnlySpan<byte> name)
    {
        int i = Find(list, name);
        if (i < 0)
        {
            return false;
        }

        int valueLen = list[i].Value.Length;
        list[i] = list[^1];
        list.RemoveAt(list.Count - 1);

        // libcomposefs subtracts the worst case (two entry headers minus one) for the name being
        // removed, or resets to zero when the last xattr goes. The count is a size_t: when it was
        // never added up (see ComposefsWriter) the subtraction wraps around.
        accounted = list.Count > 0 ? unchecked(accounted - (ulong)(7 + name.Length + valueLen)) : 0;
        return true;
    }

    public static void Set(List<Xattr> list, ref ulong accounted, byte[] name, byte[] value, ulong limit, ComposefsNode? node, Func<string?>? path = null)
    {
        if (name.Length == 0 || name.Length > ComposefsNode.MaxXattrNameLength)
        {
            throw new ComposefsLimitException($"xattr name of {name.Length} bytes is not within 1..{ComposefsNode.MaxXattrNameLength}", path?.Invoke() ?? node?.PathOrNull());
        }

        if (value.Length > ComposefsNode.MaxXattrValueLength)
        {
            throw new ComposefsLimitException($"xattr {Encoding.UTF8.GetString(name)} value of {value.Length} bytes is larger than {ComposefsNode.MaxXattrValueLength}", path?.Invoke() ?? node?.PathOrNull());
        }

        Remove(list, ref accounted, name);
        ulong entry = (ulong)(7 + name.Length + value.Length);
        if (list.Count == 0)
        {
            entry += 12;
        }

        if (unchecked(accounted + entry) > limit)
        {
            var message = accounted > limit
                ? $"xattr {Encoding.UTF8.GetString(name)} cannot replace a longer value here: libcomposefs 1.0.8 fails with ERANGE (its xattr size count wraps around)"
                : $"xattrs take more than {limit} bytes (adding {Encoding.UTF8.GetString(name)})";
            throw new ComposefsLimitException(message, path?.Invoke() ?? node?.PathOrNull());
        }

        list.Add(new Xattr(name, value));
        accounted = unchecked(accounted + entry);
    }
}
