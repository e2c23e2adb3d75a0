// Writes a composefs image: an EROFS filesystem (kernel Documentation/filesystems/erofs.rst)
// preceded by a small composefs header, laid out exactly as libcomposefs 1.0.8 lays it out so
// that the bytes (and so the fs-verity digest ostree checks) are identical. See docs/composefs.md.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using OstreeSharp.Objects;

namespace OstreeSharp.Composefs;

/// <summary>Writes a <see cref="ComposefsNode"/> tree as a composefs EROFS image.</summary>
internal static class ComposefsWriter
{
    internal const int BlockSize = 4096;
    internal const int SlotSize = 32;
    internal const int SuperblockOffset = 1024;
    internal const int SuperblockSize = 128;
    internal const uint ComposefsMagic = 0xd078629a;
    internal const uint ErofsMagic = 0xE0F5E1E2;

    private const int CompactInodeSize = 32;
    private const int ExtendedInodeSize = 64;
    private const int XattrHeaderSize = 12;
    private const int DirentSize = 12;
    private const int MaxSharedPerInode = 128; // EROFS_XATTR_LONG_PREFIX
    private const uint XattrFilterSeed = 0x25BBE08F;
    private const ushort LayoutFlatPlain = 0;
    private const ushort LayoutFlatInline = 2;
    private const ushort LayoutChunkBased = 4;

    private static readonly byte[] Dot = "."u8.ToArray();
    private static readonly byte[] DotDot = ".."u8.ToArray();
    private static readonly byte[] TrustedOverlay = "trusted.overlay."u8.ToArray();
    private static readonly byte[] TrustedOverlayOverlay = "trusted.overlay.overlay."u8.ToArray();
    private static readonly byte[] Metacopy = "trusted.overlay.metacopy"u8.ToArray();
    private static readonly byte[] Redirect = "trusted.overlay.redirect"u8.ToArray();
    private static readonly byte[] Opaque = "trusted.overlay.opaque"u8.ToArray();
    private static readonly byte[] EscapedWhiteout = "trusted.overlay.overlay.whiteout"u8.ToArray();
    private static readonly byte[] EscapedWhiteouts = "trusted.overlay.overlay.whiteouts"u8.ToArray();
    private static readonly byte[] EscapedOpaque = "trusted.overlay.overlay.opaque"u8.ToArray();
    private static readonly byte[] UserWhiteout = "user.overlay.whiteout"u8.ToArray();
    private static readonly byte[] UserWhiteouts = "user.overlay.whiteouts"u8.ToArray();
    private static readonly byte[] UserOpaque = "user.overlay.opaque"u8.ToArray();
    private static readonly byte[] Selinux = "security.selinux"u8.ToArray();
    private static readonly byte[] ValueX = "x"u8.ToArray();
    private static readonly byte[] ValueY = "y"u8.ToArray();
    private static readonly byte[][] RootWhiteoutNames = Enumerable.Range(0, 256).Select(i => Encoding.ASCII.GetBytes(i.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))).ToArray();

    private static readonly (byte[] Prefix, byte Index)[] XattrPrefixes =
    [
        ("user."u8.ToArray(), 1),
        ("system.posix_acl_access"u8.ToArray(), 2),
        ("system.posix_acl_default"u8.ToArray(), 3),
        ("trusted."u8.ToArray(), 4),
        ("security."u8.ToArray(), 6),
    ];

    /// <summary>
    /// Writes the image of the tree at <paramref name="root"/> (which must be a directory; its own
    /// parent, if any, is ignored) to <paramref name="output"/>, or only computes the result when
    /// <paramref name="output"/> is null. The tree is not modified.
    /// </summary>
    public static ComposefsWriteResult Write(ComposefsNode root, Stream? output, ComposefsWriteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        options ??= ComposefsWriteOptions.Default;
        if (options.Version > 1 || options.MaxVersion > 1)
        {
            throw new ComposefsException($"unsupported composefs format version {Math.Max(options.Version, options.MaxVersion)} (at most 1)");
        }

        if (!root.IsDirectory)
        {
            throw new ComposefsException("the root must be a directory", "/");
        }

        var image = new Image(root, options);
        image.Build();
        image.Layout();
        using var sink = new Sink(output, options.ComputeFsVerityDigest);
        image.Emit(sink);
        var digest = sink.Finish();
        return new ComposefsWriteResult(image.FormatVersion, sink.Position, image.Inodes.Count, digest);
    }

    /// <summary>The image of <paramref name="root"/> as a byte array.</summary>
    public static byte[] ToArray(ComposefsNode root, ComposefsWriteOptions? options = null)
    {
        using var ms = new MemoryStream();
        Write(root, ms, options);
        return ms.ToArray();
    }

    /// <summary>The fs-verity digest the image of <paramref name="root"/> would have, without keeping the image.</summary>
    public static byte[] ComputeFsVerityDigest(ComposefsNode root, ComposefsWriteOptions? options = null) =>
        Write(root, null, (options ?? ComposefsWriteOptions.Default) with { ComputeFsVerityDigest = true }).FsVerityDigest!;

    // Index into the erofs xattr prefix table, and the name without that prefix.
    private static byte PrefixIndex(byte[] name, out int suffixStart)
    {
        foreach (var (prefix, index) in XattrPrefixes)
        {
            if (name.AsSpan().StartsWith(prefix))
            {
                suffixStart = prefix.Length;
                return index;
            }
        }

        suffixStart = 0;
        return 0;
    }

    private static int XattrEntrySize(Xattr x)
    {
        PrefixIndex(x.Name, out int s);
        return RoundUp(4 + x.Name.Length - s + x.Value.Length, 4);
    }

    private static int RoundUp(int v, int a) => (v + a - 1) & ~(a - 1);

    private static long RoundUp(long v, long a) => (v + a - 1) & ~(a - 1);

    private static int CompareBytes(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    private static bool StartsWith(byte[] a, byte[] prefix) => a.AsSpan().StartsWith(prefix);

    private static uint ChunkBits(ulong size)
    {
        // ilog2(size - 1) + 1, at least one block, at most 31 + 12 (EROFS_CHUNK_FORMAT_BLKBITS_MASK).
        uint bits = (uint)(size - 1 == 0 ? 0 : 63 - System.Numerics.BitOperations.LeadingZeroCount(size - 1)) + 1;
        return Math.Clamp(bits, 12u, 43u);
    }

    private static ulong ChunkCount(ulong size, uint bits) => ((size - 1) >> (int)bits) + 1;

    /// <summary>One inode in the order the image stores them (breadth first, children by name).</summary>
    private sealed class Inode
    {
        public ComposefsNode? Node; // null for a whiteout the writer adds to the root
        public byte[] Name = [];
        public int Parent;
        public uint InodeNumber;
        public uint Mode;
        public uint Uid;
        public uint Gid;
        public uint Nlink;
        public uint Rdev;
        public ulong Size;
        public long MtimeSec;
        public uint MtimeNsec;
        public byte[]? Content;
        public byte[]? Payload;

        // Xattrs while the overlay rewrite runs (lcfs_node_set_xattr semantics), then frozen, sorted.
        public List<Xattr>? Work;

        // lcfs_node_clone does not copy a node's xattr size count, so on the copy libcomposefs
        // rewrites it starts from zero (and replacing an xattr can wrap it around: ERANGE).
        public ulong Accounted;
        public Xattr[] Xattrs = [];
        public int[] XattrShared = []; // offset in the shared table, or -1 when stored in the inode

        // Directory entries including "." and "..", sorted by name.
        public byte[][]? EntryNames;
        public int[]? EntryInodes;

        // Layout.
        public bool Compact;
        public int Pad;
        public int XattrSize;
        public int SharedCount;
        public long InodeBytes; // inode + xattrs + tail
        public long Nid;
        public long Blocks;
        public int Tail;
        public bool ChunkBased;
        public uint ChunkBitsValue;
        public long ChunkCountValue;

        public uint Type => Mode & UnixMode.TypeMask;
    }

    private sealed class XattrComparer : IEqualityComparer<Xattr>
    {
        public static readonly XattrComparer Instance = new();

        public bool Equals(Xattr? x, Xattr? y) =>
            x!.Name.AsSpan().SequenceEqual(y!.Name) && x.Value.AsSpan().SequenceEqual(y.Value);

        public int GetHashCode(Xattr obj)
        {
            var h = new HashCode();
            h.AddBytes(obj.Name);
            h.Add(obj.Name.Length);
            h.AddBytes(obj.Value);
            return h.ToHashCode();
        }
    }

    private sealed class Image(ComposefsNode root, ComposefsWriteOptions options)
    {
        public readonly List<Inode> Inodes = [];
        private readonly List<Xattr> shared = [];
        private bool hasAcl;
        private long minSec;
        private uint minNsec;
        private long inodesEnd;
        private long sharedSize;
        private long dataBlocks;
        private long dataStart;

        public uint FormatVersion { get; private set; } = options.Version;

        public void Build()
        {
            uint maxVersion = Math.Max(options.Version, options.MaxVersion);
            bool hasWhiteout = false;
            List<(int Dir, int Entry, ComposefsNode Link)>? links = null;

            var rootInode = NewInode(root, [], 0);
            Inodes.Add(rootInode);
            for (int i = 0; i < Inodes.Count; i++)
            {
                var ino = Inodes[i];
                var node = ino.Node;
                if (node is null)
                {
                    continue;
                }

                if (node.FileType == UnixMode.CharDevice && node.Rdev == 0)
                {
                    hasWhiteout = true;
                }

                var kids = node.ChildList;
                if (ino.Type != UnixMode.Directory)
                {
                    if (kids is { Count: > 0 })
                    {
                        throw new ComposefsException("only directories can have entries", PathOf(i));
                    }

                    continue;
                }

                // Entries: the children, the 00..ff whiteouts the root gets, "." and "..".
                int n = (kids?.Count ?? 0) + 2;
                bool[]? addWhiteout = null;
                if (i == 0)
                {
                    addWhiteout = new bool[256];
                    for (int w = 0; w < 256; w++)
                    {
                        if (node.GetChild(RootWhiteoutNames[w]) is null)
                        {
                            addWhiteout[w] = true;
                            n++;
                        }
                    }
                }

                var names = new byte[n][];
                var targets = new int[n];
                int k = 0;
                int wi = 0;
                bool dotDone = false;
                bool dotDotDone = false;
                int ci = 0;
                int childCount = kids?.Count ?? 0;
                while (k < n)
                {
                    // Pick the smallest of: next child, next whiteout name, ".", "..".
                    byte[]? best = null;
                    int which = -1;
                    if (ci < childCount)
                    {
                        best = kids![ci].Name!;
                        which = 0;
                    }

                    if (addWhiteout is not null)
                    {
                        while (wi < 256 && !addWhiteout[wi])
                        {
                            wi++;
                        }

                        if (wi < 256 && (best is null || CompareBytes(RootWhiteoutNames[wi], best) < 0))
                        {
                            best = RootWhiteoutNames[wi];
                            which = 1;
                        }
                    }

                    if (!dotDone && (best is null || CompareBytes(Dot, best) < 0))
                    {
                        best = Dot;
                        which = 2;
                    }
                    else if (dotDone && !dotDotDone && (best is null || CompareBytes(DotDot, best) < 0))
                    {
                        best = DotDot;
                        which = 3;
                    }

                    names[k] = best!;
                    switch (which)
                    {
                        case 0:
                            var child = kids![ci++];
                            if (child.HardLinkTarget is not null)
                            {
                                (links ??= []).Add((i, k, child));
                                targets[k] = -1;
                            }
                            else
                            {
                                targets[k] = Inodes.Count;
                                Inodes.Add(NewInode(child, child.Name!, i));
                            }

                            break;
                        case 1:
                            targets[k] = Inodes.Count;
                            Inodes.Add(RootWhiteout(RootWhiteoutNames[wi++]));
                            break;
                        case 2:
                            targets[k] = i;
                            dotDone = true;
                            break;
                        default:
                            targets[k] = ino.Parent;
                            dotDotDone = true;
                            break;
                    }

                    k++;
                }

                ino.EntryNames = names;
                ino.EntryInodes = targets;
            }

            if (links is not null)
            {
                ResolveLinks(links);
            }

            if (FormatVersion < 1 && maxVersion >= 1 && hasWhiteout)
            {
                FormatVersion = 1;
            }

            RewriteForOverlay();
            FreezeXattrs();
        }

        public void Layout()
        {
            ComputeSharedXattrs();

            long pos = SuperblockOffset + SuperblockSize;
            for (int i = 0; i < Inodes.Count; i++)
            {
                var ino = Inodes[i];
                ino.InodeNumber = (uint)i;
                ComputeDataSize(ino);
                ino.Compact = FitsCompact(ino);
                int inodeSize = ino.Compact ? CompactInodeSize : ExtendedInodeSize;

                int nShared = 0;
                long unshared = 0;
                for (int x = 0; x < ino.Xattrs.Length; x++)
                {
                    if (ino.XattrShared[x] >= 0)
                    {
                        nShared++;
                    }
                    else
                    {
                        unshared += XattrEntrySize(ino.Xattrs[x]);
                    }
                }

                ino.SharedCount = nShared;
                long xattrSize = nShared == 0 && unshared == 0 ? 0 : RoundUp(XattrHeaderSize + (4L * nShared) + unshared, 4);
                if (xattrSize > (ushort.MaxValue - 1) * 4L + XattrHeaderSize)
                {
                    throw new ComposefsLimitException("xattrs do not fit in an EROFS inode", PathOf(i));
                }

                ino.XattrSize = (int)xattrSize;

                long aligned = RoundUp(pos, SlotSize);
                long pad = aligned - pos;
                pos = aligned;
                long extra = TailPadding(ino, pos, inodeSize, ino.XattrSize);
                pad += extra;
                pos += extra;
                ino.Pad = (int)pad;
                if (ino.Type == UnixMode.Symlink && ino.Blocks > 0 && (ino.Size == 0 || ino.Size > (ulong)ino.Payload!.Length))
                {
                    // libcomposefs copies Size bytes of the target to the block: with a size of 0
                    // (what ostree passes for every symlink) it writes nothing and aborts on an
                    // assertion; a size beyond the target reads past it.
                    throw new ComposefsException(
                        $"symlink target of {ino.Payload!.Length} bytes does not fit in the inode's block and the symlink size is {ino.Size}, not the target length (libcomposefs 1.0.8 aborts on this tree)",
                        PathOf(i));
                }

                ino.InodeBytes = inodeSize + ino.XattrSize + ino.Tail;
                dataBlocks += ino.Blocks;
                ino.Nid = pos / SlotSize;
                pos += ino.InodeBytes;
            }

            if (Inodes[0].Nid >= ushort.MaxValue)
            {
                throw new ComposefsLimitException("root inode number does not fit the superblock", "/");
            }

            inodesEnd = RoundUp(pos, SlotSize);
            dataStart = RoundUp(inodesEnd + sharedSize, BlockSize);
            if ((dataStart / BlockSize) + dataBlocks > uint.MaxValue)
            {
                throw new ComposefsLimitException("image is larger than 16 TiB", "/");
            }
        }

        public void Emit(Sink s)
        {
            // composefs header (struct lcfs_erofs_header_s), then the EROFS superblock at 1024.
            var h = s.Reserve(32);
            BinaryPrimitives.WriteUInt32LittleEndian(h, ComposefsMagic);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 1);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], hasAcl ? 1u : 0u);
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], FormatVersion);
            s.Zeros(SuperblockOffset - 32);

            var sb = s.Reserve(SuperblockSize);
            BinaryPrimitives.WriteUInt32LittleEndian(sb, ErofsMagic);
            BinaryPrimitives.WriteUInt32LittleEndian(sb[8..], 0x2 | 0x4); // COMPAT_MTIME | COMPAT_XATTR_FILTER
            sb[12] = 12; // blkszbits
            BinaryPrimitives.WriteUInt16LittleEndian(sb[14..], (ushort)Inodes[0].Nid);
            BinaryPrimitives.WriteUInt64LittleEndian(sb[16..], (ulong)Inodes.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(sb[24..], unchecked((ulong)minSec));
            BinaryPrimitives.WriteUInt32LittleEndian(sb[32..], minNsec);
            BinaryPrimitives.WriteUInt32LittleEndian(sb[36..], (uint)((dataStart / BlockSize) + dataBlocks));
            BinaryPrimitives.WriteUInt32LittleEndian(sb[40..], (SuperblockOffset + SuperblockSize) / BlockSize);
            BinaryPrimitives.WriteUInt32LittleEndian(sb[44..], (uint)(inodesEnd / BlockSize));

            long currentEnd = dataStart;
            for (int i = 0; i < Inodes.Count; i++)
            {
                EmitInode(s, Inodes[i], ref currentEnd);
            }

            s.Align(SlotSize);
            Check(s.Position == inodesEnd, "inode table size");
            foreach (var x in shared)
            {
                EmitXattrEntry(s, x);
            }

            s.Align(BlockSize);
            Check(s.Position == dataStart, "shared xattr table size");
            foreach (var ino in Inodes)
            {
                if (ino.EntryNames is not null)
                {
                    EmitDirents(s, ino, blocks: true, tail: false);
                }

                EmitFileBlocks(s, ino);
            }

            Check(s.Position == currentEnd && s.Position == dataStart + (dataBlocks * BlockSize), "data block count");
        }

        private static void Check(bool ok, string what)
        {
            if (!ok)
            {
                throw new InvalidOperationException($"composefs writer internal error: {what}");
            }
        }

        private static Inode NewInode(ComposefsNode node, byte[] name, int parent) => new()
        {
            Node = node,
            Name = name,
            Parent = parent,
            Mode = node.Mode,
            Uid = node.Uid,
            Gid = node.Gid,
            Nlink = node.Nlink,
            Rdev = node.Rdev,
            Size = node.Size,
            MtimeSec = node.MtimeSeconds,
            MtimeNsec = node.MtimeNanoseconds,
            Content = node.Content,
            Payload = node.Payload,
        };

        private Inode RootWhiteout(byte[] name)
        {
            var r = Inodes[0];
            return new Inode
            {
                Name = name,
                Parent = 0,
                Mode = UnixMode.CharDevice | 0x1A4,
                Uid = r.Uid,
                Gid = r.Gid,
                Nlink = 1,
                MtimeSec = r.MtimeSec,
                MtimeNsec = r.MtimeNsec,
            };
        }

        private string PathOf(int index)
        {
            if (index == 0)
            {
                return "/";
            }

            var parts = new List<byte[]>();
            for (int i = index; i != 0; i = Inodes[i].Parent)
            {
                parts.Add(Inodes[i].Name);
            }

            var sb = new StringBuilder();
            for (int i = parts.Count - 1; i >= 0; i--)
            {
                sb.Append('/').Append(Encoding.UTF8.GetString(parts[i]));
            }

            return sb.ToString();
        }

        private string EntryPath(int dir, int entry)
        {
            var p = PathOf(dir);
            return (p == "/" ? string.Empty : p) + "/" + Encoding.UTF8.GetString(Inodes[dir].EntryNames![entry]);
        }

        private void ResolveLinks(List<(int Dir, int Entry, ComposefsNode Link)> links)
        {
            var index = new Dictionary<ComposefsNode, int>(Inodes.Count, ReferenceEqualityComparer.Instance);
            for (int i = 0; i < Inodes.Count; i++)
            {
                if (Inodes[i].Node is { } n)
                {
                    index[n] = i;
                }
            }

            foreach (var (dir, entry, link) in links)
            {
                var target = link.ResolveHardLink();
                if (!index.TryGetValue(target, out int t))
                {
                    throw new ComposefsException("hard link target is not in the tree", EntryPath(dir, entry));
                }

                if (Inodes[t].Type == UnixMode.Directory)
                {
                    throw new ComposefsException("hard link to a directory", EntryPath(dir, entry));
                }

                Inodes[dir].EntryInodes![entry] = t;
            }
        }

        // What libcomposefs does to its copy of the tree before laying it out: escape existing
        // trusted.overlay.* xattrs, add metacopy/redirect to external files, turn whiteouts into
        // marked regular files, mark their directories, and make the root opaque.
        private void RewriteForOverlay()
        {
            for (int i = 0; i < Inodes.Count; i++)
            {
                var ino = Inodes[i];
                if (ino.Node is null)
                {
                    continue;
                }

                Validate(i, ino);
                var own = ino.Node.XattrList;
                if (own is { Count: > 0 })
                {
                    ino.Work = new List<Xattr>(own.Count + 2);
                    foreach (var x in own)
                    {
                        if (StartsWith(x.Name, TrustedOverlay))
                        {
                            var renamed = new byte[x.Name.Length + 8];
                            TrustedOverlayOverlay.CopyTo(renamed, 0);
                            x.Name.AsSpan(TrustedOverlay.Length).CopyTo(renamed.AsSpan(TrustedOverlayOverlay.Length));
                            ino.Work.Add(new Xattr(renamed, x.Value));
                        }
                        else
                        {
                            ino.Work.Add(x);
                        }
                    }
                }

                uint type = ino.Type;
                if (type == UnixMode.Regular && ino.Size > 0 && ino.Content is null)
                {
                    byte[] meta = [];
                    if (ino.Node.FsVerityDigest is { } d)
                    {
                        // struct ovl_metacopy: version 0, length 36, flags 0, FS_VERITY_HASH_ALG_SHA256.
                        meta = new byte[4 + FsVerityHasher.DigestSize];
                        meta[1] = (byte)meta.Length;
                        meta[3] = 1;
                        d.CopyTo(meta, 4);
                    }

                    Set(i, Metacopy, meta);
                    if (ino.Payload is { Length: > 0 } p)
                    {
                        var redirect = new byte[p.Length + 1];
                        redirect[0] = (byte)'/';
                        p.CopyTo(redirect, 1);
                        Set(i, Redirect, redirect);
                    }
                }

                if (type == UnixMode.CharDevice && ino.Rdev == 0)
                {
                    ino.Size = 0;
                    ino.Mode = UnixMode.Regular | (ino.Mode & ~UnixMode.TypeMask);
                    Set(i, EscapedWhiteout, []);
                    Set(i, UserWhiteout, []);
                    int parent = ino.Parent;
                    Set(parent, EscapedWhiteouts, []);
                    Set(parent, UserWhiteouts, []);
                    if (FormatVersion >= 1)
                    {
                        Set(parent, EscapedOpaque, ValueX);
                        Set(parent, UserOpaque, ValueX);
                    }
                }
            }

            Set(0, Opaque, ValueY);
            var selinux = FindXattr(Inodes[0].Work, Selinux);
            if (selinux is not null)
            {
                for (int i = 1; i < Inodes.Count; i++)
                {
                    if (Inodes[i].Node is null)
                    {
                        Set(i, Selinux, selinux);
                    }
                }
            }
        }

        private void Validate(int i, Inode ino)
        {
            uint type = ino.Type;
            if (type is not (UnixMode.Regular or UnixMode.Directory or UnixMode.Symlink or UnixMode.BlockDevice
                or UnixMode.CharDevice or UnixMode.Socket or UnixMode.Fifo))
            {
                throw new ComposefsException($"invalid file type in mode {Convert.ToString(ino.Mode, 8)}", PathOf(i));
            }

            if (type == UnixMode.Regular && ino.Size > 0 && ino.Content is null && ino.Size > ComposefsNode.MaxExternalFileSize)
            {
                throw new ComposefsLimitException($"file size {ino.Size} is larger than {ComposefsNode.MaxExternalFileSize}", PathOf(i));
            }

            if (type == UnixMode.Symlink && ino.Payload is not { Length: > 0 })
            {
                throw new ComposefsException("symlink has no target", PathOf(i));
            }
        }

        private static byte[]? FindXattr(List<Xattr>? list, byte[] name)
        {
            if (list is null)
            {
                return null;
            }

            int i = XattrOps.Find(list, name);
            return i >= 0 ? list[i].Value : null;
        }

        private void Set(int i, byte[] name, byte[] value)
        {
            var ino = Inodes[i];
            ino.Work ??= new List<Xattr>(4);
            XattrOps.Set(ino.Work, ref ino.Accounted, name, value, ComposefsNode.MaxXattrAccountedSize, null, () => PathOf(i));
        }

        private void FreezeXattrs()
        {
            var r = Inodes[0];
            minSec = r.MtimeSec;
            minNsec = r.MtimeNsec;
            var aclAccess = "system.posix_acl_access"u8;
            var aclDefault = "system.posix_acl_default"u8;
            foreach (var ino in Inodes)
            {
                if (ino.Work is { Count: > 0 } work)
                {
                    var arr = work.ToArray();
                    if (arr.Length > 1)
                    {
                        Array.Sort(arr, static (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
                    }

                    ino.Xattrs = arr;
                    foreach (var x in arr)
                    {
                        if (x.Name.AsSpan().SequenceEqual(aclAccess) || x.Name.AsSpan().SequenceEqual(aclDefault))
                        {
                            hasAcl = true;
                        }
                    }
                }

                ino.Work = null;
                if (ino.MtimeSec < minSec || (ino.MtimeSec == minSec && ino.MtimeNsec < minNsec))
                {
                    minSec = ino.MtimeSec;
                    minNsec = ino.MtimeNsec;
                }

                if (ino.EntryInodes is { } targets)
                {
                    // 2 + subdirectories; hard links never point at directories.
                    uint nlink = 2;
                    var names = ino.EntryNames!;
                    for (int e = 0; e < targets.Length; e++)
                    {
                        if (!ReferenceEquals(names[e], Dot) && !ReferenceEquals(names[e], DotDot)
                            && Inodes[targets[e]].Type == UnixMode.Directory)
                        {
                            nlink++;
                        }
                    }

                    ino.Nlink = nlink;
                }
            }
        }

        // Xattrs used by more than one inode go to a table after the inodes (in descending
        // name, size, value order); an inode points at up to 128 of them.
        private void ComputeSharedXattrs()
        {
            var ids = new Dictionary<Xattr, int>(XattrComparer.Instance);
            var counts = new List<int>();
            var unique = new List<Xattr>();
            foreach (var ino in Inodes)
            {
                if (ino.Xattrs.Length == 0)
                {
                    continue;
                }

                var idx = new int[ino.Xattrs.Length];
                for (int x = 0; x < idx.Length; x++)
                {
                    ref int id = ref CollectionsMarshal.GetValueRefOrAddDefault(ids, ino.Xattrs[x], out bool exists);
                    if (!exists)
                    {
                        id = unique.Count;
                        unique.Add(ino.Xattrs[x]);
                        counts.Add(0);
                    }

                    counts[id]++;
                    idx[x] = id;
                }

                ino.XattrShared = idx;
            }

            var order = new int[unique.Count];
            for (int i = 0; i < order.Length; i++)
            {
                order[i] = i;
            }

            Array.Sort(order, (a, b) =>
            {
                var xa = unique[a];
                var xb = unique[b];
                int c = xb.Name.AsSpan().SequenceCompareTo(xa.Name);
                if (c != 0)
                {
                    return c;
                }

                if (xa.Value.Length != xb.Value.Length)
                {
                    return xb.Value.Length - xa.Value.Length;
                }

                return xb.Value.AsSpan().SequenceCompareTo(xa.Value);
            });

            var offsets = new long[unique.Count];
            long offset = 0;
            foreach (int id in order)
            {
                if (counts[id] > 1)
                {
                    offsets[id] = offset;
                    shared.Add(unique[id]);
                    offset += XattrEntrySize(unique[id]);
                }
                else
                {
                    offsets[id] = -1;
                }
            }

            sharedSize = offset;
            if (offset > int.MaxValue)
            {
                throw new ComposefsLimitException("shared xattr table is too large", "/");
            }

            foreach (var ino in Inodes)
            {
                int n = 0;
                var idx = ino.XattrShared;
                for (int x = 0; x < idx.Length; x++)
                {
                    long off = offsets[idx[x]];
                    if (off >= 0 && n < MaxSharedPerInode)
                    {
                        idx[x] = (int)off;
                        n++;
                    }
                    else
                    {
                        idx[x] = -1;
                    }
                }
            }
        }

        private static void ComputeDataSize(Inode ino)
        {
            ino.Blocks = 0;
            ino.Tail = 0;
            switch (ino.Type)
            {
                case UnixMode.Directory:
                    long blocks = 0;
                    int used = 0;
                    foreach (var name in ino.EntryNames!)
                    {
                        int len = DirentSize + name.Length;
                        if (used + len > BlockSize)
                        {
                            blocks++;
                            used = 0;
                        }

                        used += len;
                    }

                    // Never inline more than half a block.
                    if (used > BlockSize / 2)
                    {
                        blocks++;
                        used = 0;
                    }

                    ino.Blocks = blocks;
                    ino.Tail = used;
                    break;
                case UnixMode.Symlink:
                    ino.Tail = ino.Payload!.Length;
                    break;
                case UnixMode.Regular when ino.Size > 0:
                    if (ino.Content is not null)
                    {
                        ino.Blocks = (long)(ino.Size / BlockSize);
                        ino.Tail = (int)(ino.Size % BlockSize);
                        if (ino.Tail > BlockSize / 2)
                        {
                            ino.Blocks++;
                            ino.Tail = 0;
                        }
                    }
                    else
                    {
                        ino.ChunkBased = true;
                        ino.ChunkBitsValue = ChunkBits(ino.Size);
                        ino.ChunkCountValue = (long)ChunkCount(ino.Size, ino.ChunkBitsValue);
                        ino.Tail = (int)(ino.ChunkCountValue * 4);
                    }

                    break;
            }
        }

        private bool FitsCompact(Inode ino)
        {
            if (ino.MtimeSec != minSec || ino.MtimeNsec != minNsec)
            {
                return false;
            }

            if (ino.Nlink > ushort.MaxValue || ino.Uid > ushort.MaxValue || ino.Gid > ushort.MaxValue)
            {
                return false;
            }

            ulong size = ino.Type == UnixMode.Directory ? (ulong)((ino.Blocks * BlockSize) + ino.Tail) : ino.Size;
            return size <= uint.MaxValue;
        }

        // Padding in front of an inode so that its inline tail does not cross a block boundary;
        // moves the tail to a block of its own when it cannot fit.
        private static long TailPadding(Inode ino, long pos, int inodeSize, int xattrSize)
        {
            long nonTail = inodeSize + xattrSize;
            long total = nonTail + ino.Tail;
            if (ino.Type == UnixMode.Symlink)
            {
                // Inode and target should share a block; past a block the target goes out of line.
                long posBlock = pos / BlockSize;
                long endBlock = (pos + total - 1) / BlockSize;
                if (total / BlockSize > 0)
                {
                    ino.Blocks++;
                    ino.Tail = 0;
                }

                return posBlock != endBlock ? RoundUp(pos, BlockSize) - pos : 0;
            }

            long remainder = BlockSize - ((pos + nonTail) % BlockSize);
            if (remainder < ino.Tail)
            {
                long extra = RoundUp(remainder, SlotSize);
                remainder = BlockSize - ((pos + nonTail + extra) % BlockSize);
                if (ino.Tail <= remainder)
                {
                    return extra;
                }

                ino.Blocks++;
                ino.Tail = 0;
                return RoundUp(pos, BlockSize) - pos;
            }

            return 0;
        }

        private void EmitInode(Sink s, Inode ino, ref long currentEnd)
        {
            s.Zeros(ino.Pad);
            uint type = ino.Type;
            ushort layout = ino.Tail > 0 ? LayoutFlatInline : LayoutFlatPlain;
            ulong size;
            uint iu = 0;
            switch (type)
            {
                case UnixMode.Directory:
                    size = (ulong)((ino.Blocks * BlockSize) + ino.Tail);
                    break;
                case UnixMode.Regular:
                    size = ino.Size;
                    break;
                case UnixMode.Symlink:
                    size = ino.Blocks == 0 ? (ulong)ino.Tail : ino.Size;
                    break;
                default:
                    size = 0;
                    break;
            }

            if (type is UnixMode.CharDevice or UnixMode.BlockDevice)
            {
                iu = ino.Rdev;
            }
            else if ((type is UnixMode.Directory or UnixMode.Regular or UnixMode.Symlink) && ino.Blocks > 0)
            {
                iu = (uint)(currentEnd / BlockSize);
                currentEnd += BlockSize * ino.Blocks;
            }

            if (ino.ChunkBased)
            {
                layout = LayoutChunkBased;

                // i_u is a union: the chunk format overwrites the low half of any block address.
                iu = (iu & 0xFFFF0000u) | (ino.ChunkBitsValue - 12);
            }

            int icount = ino.XattrSize == 0 ? 0 : ((ino.XattrSize - XattrHeaderSize) / 4) + 1;
            ushort format = (ushort)((layout << 1) | (ino.Compact ? 0 : 1));
            if (ino.Compact)
            {
                var b = s.Reserve(CompactInodeSize);
                BinaryPrimitives.WriteUInt16LittleEndian(b, format);
                BinaryPrimitives.WriteUInt16LittleEndian(b[2..], (ushort)icount);
                BinaryPrimitives.WriteUInt16LittleEndian(b[4..], (ushort)ino.Mode);
                BinaryPrimitives.WriteUInt16LittleEndian(b[6..], (ushort)ino.Nlink);
                BinaryPrimitives.WriteUInt32LittleEndian(b[8..], (uint)size);
                BinaryPrimitives.WriteUInt32LittleEndian(b[16..], iu);
                BinaryPrimitives.WriteUInt32LittleEndian(b[20..], ino.InodeNumber);
                BinaryPrimitives.WriteUInt16LittleEndian(b[24..], (ushort)ino.Uid);
                BinaryPrimitives.WriteUInt16LittleEndian(b[26..], (ushort)ino.Gid);
            }
            else
            {
                var b = s.Reserve(ExtendedInodeSize);
                BinaryPrimitives.WriteUInt16LittleEndian(b, format);
                BinaryPrimitives.WriteUInt16LittleEndian(b[2..], (ushort)icount);
                BinaryPrimitives.WriteUInt16LittleEndian(b[4..], (ushort)ino.Mode);
                BinaryPrimitives.WriteUInt64LittleEndian(b[8..], size);
                BinaryPrimitives.WriteUInt32LittleEndian(b[16..], iu);
                BinaryPrimitives.WriteUInt32LittleEndian(b[20..], ino.InodeNumber);
                BinaryPrimitives.WriteUInt32LittleEndian(b[24..], ino.Uid);
                BinaryPrimitives.WriteUInt32LittleEndian(b[28..], ino.Gid);
                BinaryPrimitives.WriteUInt64LittleEndian(b[32..], unchecked((ulong)ino.MtimeSec));
                BinaryPrimitives.WriteUInt32LittleEndian(b[40..], ino.MtimeNsec);
                BinaryPrimitives.WriteUInt32LittleEndian(b[44..], ino.Nlink);
            }

            if (ino.XattrSize > 0)
            {
                long start = s.Position;
                var hdr = s.Reserve(XattrHeaderSize);
                BinaryPrimitives.WriteUInt32LittleEndian(hdr, NameFilter(ino.Xattrs));
                hdr[4] = (byte)ino.SharedCount;
                for (int x = 0; x < ino.Xattrs.Length; x++)
                {
                    if (ino.XattrShared[x] >= 0)
                    {
                        var v = s.Reserve(4);
                        BinaryPrimitives.WriteUInt32LittleEndian(v, (uint)(((inodesEnd % BlockSize) + ino.XattrShared[x]) / 4));
                    }
                }

                for (int x = 0; x < ino.Xattrs.Length; x++)
                {
                    if (ino.XattrShared[x] < 0)
                    {
                        EmitXattrEntry(s, ino.Xattrs[x]);
                    }
                }

                Check(s.Position - start == ino.XattrSize, "inode xattr size");
            }

            if (ino.Tail > 0)
            {
                switch (type)
                {
                    case UnixMode.Directory:
                        EmitDirents(s, ino, blocks: false, tail: true);
                        break;
                    case UnixMode.Symlink:
                        s.Bytes(ino.Payload);
                        break;
                    case UnixMode.Regular when ino.Content is not null:
                        s.Bytes(ino.Content.AsSpan(ino.Content.Length - ino.Tail));
                        break;
                    case UnixMode.Regular:
                        s.Fill(0xFF, ino.Tail); // EROFS_NULL_ADDR chunk indexes
                        break;
                }
            }
        }

        private static uint NameFilter(Xattr[] xattrs)
        {
            uint bits = 0;
            foreach (var x in xattrs)
            {
                byte index = PrefixIndex(x.Name, out int start);
                uint h = Xxh32.Hash(x.Name.AsSpan(start), XattrFilterSeed + index);
                bits |= 1u << (int)(h & 31);
            }

            return ~bits;
        }

        private static void EmitXattrEntry(Sink s, Xattr x)
        {
            byte index = PrefixIndex(x.Name, out int start);
            var e = s.Reserve(4);
            e[0] = (byte)(x.Name.Length - start);
            e[1] = index;
            BinaryPrimitives.WriteUInt16LittleEndian(e[2..], (ushort)x.Value.Length);
            s.Bytes(x.Name.AsSpan(start));
            s.Bytes(x.Value);
            s.Align(4);
        }

        // Directory entries in blocks: greedily filled 4096-byte blocks, the rest in the inode's
        // tail unless the layout moved it to a block of its own.
        private void EmitDirents(Sink s, Inode ino, bool blocks, bool tail)
        {
            var names = ino.EntryNames!;
            int used = 0;
            int first = 0;
            long written = 0;
            for (int i = 0; i < names.Length; i++)
            {
                int len = DirentSize + names[i].Length;
                if (used + len > BlockSize)
                {
                    if (blocks)
                    {
                        EmitDirentChunk(s, ino, first, i - first, BlockSize);
                    }

                    written++;
                    used = 0;
                    first = i;
                }

                used += len;
            }

            if (written < ino.Blocks)
            {
                if (blocks)
                {
                    EmitDirentChunk(s, ino, first, names.Length - first, BlockSize);
                }

                used = 0;
                first = names.Length;
            }

            if (tail && used > 0)
            {
                EmitDirentChunk(s, ino, first, names.Length - first, 1);
            }
        }

        private void EmitDirentChunk(Sink s, Inode ino, int first, int count, int align)
        {
            var names = ino.EntryNames!;
            var targets = ino.EntryInodes!;
            int nameOff = count * DirentSize;
            for (int i = first; i < first + count; i++)
            {
                var t = Inodes[targets[i]];
                var d = s.Reserve(DirentSize);
                BinaryPrimitives.WriteUInt64LittleEndian(d, (ulong)t.Nid);
                BinaryPrimitives.WriteUInt16LittleEndian(d[8..], (ushort)nameOff);
                d[10] = FileTypeCode(t.Type);
                nameOff += names[i].Length;
            }

            for (int i = first; i < first + count; i++)
            {
                s.Bytes(names[i]);
            }

            s.Align(align);
        }

        private static byte FileTypeCode(uint type) => type switch
        {
            UnixMode.Regular => 1,
            UnixMode.Directory => 2,
            UnixMode.CharDevice => 3,
            UnixMode.BlockDevice => 4,
            UnixMode.Fifo => 5,
            UnixMode.Socket => 6,
            UnixMode.Symlink => 7,
            _ => 0,
        };

        // Out-of-line data: libcomposefs writes at most the first block of a file or symlink
        // (the layout never gives a file more than one), then pads to the block end.
        private static void EmitFileBlocks(Sink s, Inode ino)
        {
            if (ino.Blocks == 0)
            {
                return;
            }

            if (ino.Type == UnixMode.Regular)
            {
                if (ino.Content is null)
                {
                    s.Fill(0xFF, BlockSize);
                    return;
                }

                s.Bytes(ino.Content.AsSpan(0, (int)Math.Min(ino.Size, BlockSize)));
                s.Align(BlockSize);
            }
            else if (ino.Type == UnixMode.Symlink)
            {
                int len = (int)Math.Min(ino.Size, BlockSize);
                var p = ino.Payload!;
                s.Bytes(p.AsSpan(0, Math.Min(len, p.Length)));
                s.Align(BlockSize);
            }
        }
    }

    /// <summary>Buffers the image, feeds the optional fs-verity hasher and tracks the position.</summary>
    private sealed class Sink(Stream? output, bool hash) : IDisposable
    {
        private readonly byte[] buf = new byte[1 << 16];
        private readonly FsVerityHasher? hasher = hash ? new FsVerityHasher() : null;
        private int used;

        public long Position { get; private set; }

        public Span<byte> Reserve(int n)
        {
            if (used + n > buf.Length)
            {
                Flush();
            }

            var span = buf.AsSpan(used, n);
            span.Clear();
            used += n;
            Position += n;
            return span;
        }

        public void Bytes(ReadOnlySpan<byte> data)
        {
            while (!data.IsEmpty)
            {
                if (used == buf.Length)
                {
                    Flush();
                }

                int n = Math.Min(buf.Length - used, data.Length);
                data[..n].CopyTo(buf.AsSpan(used));
                used += n;
                Position += n;
                data = data[n..];
            }
        }

        public void Fill(byte value, long count)
        {
            while (count > 0)
            {
                if (used == buf.Length)
                {
                    Flush();
                }

                int n = (int)Math.Min(buf.Length - used, count);
                buf.AsSpan(used, n).Fill(value);
                used += n;
                Position += n;
                count -= n;
            }
        }

        public void Zeros(long count) => Fill(0, count);

        public void Align(int alignment) => Zeros(RoundUp(Position, alignment) - Position);

        public byte[]? Finish()
        {
            Flush();
            output?.Flush();
            return hasher?.GetDigest();
        }

        public void Dispose() => hasher?.Dispose();

        private void Flush()
        {
            if (used == 0)
            {
                return;
            }

            output?.Write(buf, 0, used);
            hasher?.Append(buf.AsSpan(0, used));
            used = 0;
        }
    }
}

/// <summary>xxHash32 (Yann Collet's algorithm), used for the EROFS xattr name filter.</summary>
internal static class Xxh32
{
    private const uint Prime1 = 2654435761U;
    private const uint Prime2 = 2246822519U;
    private const uint Prime3 = 3266489917U;
    private const uint Prime4 = 668265263U;
    private const uint Prime5 = 374761393U;

    public static uint Hash(ReadOnlySpan<byte> data, uint seed)
    {
        int len = data.Length;
        int p = 0;
        uint h;
        unchecked
        {
            if (len >= 16)
            {
                uint v1 = seed + Prime1 + Prime2;
                uint v2 = seed + Prime2;
                uint v3 = seed;
                uint v4 = seed - Prime1;
                int limit = len - 16;
                do
                {
                    v1 = Round(v1, BinaryPrimitives.ReadUInt32LittleEndian(data[p..]));
                    v2 = Round(v2, BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 4)..]));
                    v3 = Round(v3, BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 8)..]));
                    v4 = Round(v4, BinaryPrimitives.ReadUInt32LittleEndian(data[(p + 12)..]));
                    p += 16;
                }
                while (p <= limit);

                h = uint.RotateLeft(v1, 1) + uint.RotateLeft(v2, 7) + uint.RotateLeft(v3, 12) + uint.RotateLeft(v4, 18);
            }
            else
            {
                h = seed + Prime5;
            }

            h += (uint)len;
            for (; p + 4 <= len; p += 4)
            {
                h += BinaryPrimitives.ReadUInt32LittleEndian(data[p..]) * Prime3;
                h = uint.RotateLeft(h, 17) * Prime4;
            }

            for (; p < len; p++)
            {
                h += data[p] * Prime5;
                h = uint.RotateLeft(h, 11) * Prime1;
            }

            h ^= h >> 15;
            h *= Prime2;
            h ^= h >> 13;
            h *= Prime3;
            h ^= h >> 16;
            return h;
        }
    }

    private static uint Round(uint acc, uint input)
    {
        unchecked
        {
            acc += input * Prime2;
            return uint.RotateLeft(acc, 13) * Prime1;
        }
    }
}
