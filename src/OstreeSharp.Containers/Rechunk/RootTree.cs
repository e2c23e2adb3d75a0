// The merged file tree an image or a root folder holds, as rechunking needs it: every path with its owner, mode,
// mtime, xattrs and hard-link group taken from the source (never from the host), and where its bytes are.
using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Rechunk;

/// <summary>The kinds of entry a root tree holds.</summary>
public enum RootEntryKind
{
    /// <summary>A folder.</summary>
    Directory,

    /// <summary>A regular file.</summary>
    Regular,

    /// <summary>A symbolic link.</summary>
    Symlink,

    /// <summary>A character device.</summary>
    CharDevice,

    /// <summary>A block device.</summary>
    BlockDevice,

    /// <summary>A named pipe.</summary>
    Fifo,
}

/// <summary>One path of a <see cref="RootTree"/>.</summary>
public sealed class RootEntry
{
    /// <summary>The path, relative, without a leading slash; the root is the empty string.</summary>
    public required string Path { get; init; }

    /// <summary>What it is.</summary>
    public RootEntryKind Kind { get; set; }

    /// <summary>Permission bits (07777).</summary>
    public uint Mode { get; set; }

    /// <summary>Owner.</summary>
    public uint Uid { get; set; }

    /// <summary>Group.</summary>
    public uint Gid { get; set; }

    /// <summary>Modification time, seconds.</summary>
    public long Mtime { get; set; }

    /// <summary>Extended attributes, sorted by name.</summary>
    public IReadOnlyList<Xattr> Xattrs { get; set; } = [];

    /// <summary>A symbolic link's target.</summary>
    public string LinkTarget { get; set; } = string.Empty;

    /// <summary>A regular file's size.</summary>
    public long Size { get; set; }

    /// <summary>Where a regular file's bytes are.</summary>
    public string? DataPath { get; set; }

    /// <summary>Entries of one hard-link group share this number (-1: none).</summary>
    public int LinkGroup { get; set; } = -1;

    /// <summary>A device's major number.</summary>
    public uint DevMajor { get; set; }

    /// <summary>A device's minor number.</summary>
    public uint DevMinor { get; set; }

    /// <summary>The source layer that wrote it (whiteouts remove only what lower layers wrote).</summary>
    internal int Layer { get; set; }

    /// <summary>The value of the extended attribute <paramref name="name"/>, or null.</summary>
    public byte[]? GetXattr(string name)
    {
        var n = Encoding.UTF8.GetBytes(name);
        return Xattrs.FirstOrDefault(x => x.Name.AsSpan().SequenceEqual(n))?.Value;
    }
}

/// <summary>A merged root file tree, read from image layers or from a folder.</summary>
public sealed class RootTree
{
    /// <summary>The most paths a tree may hold.</summary>
    public const int MaxEntries = 20_000_000;

    private const string Whiteout = ".wh.";
    private const string Opaque = ".wh..wh..opq";
    private readonly Dictionary<string, RootEntry> _entries = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _sorted = new(StringComparer.Ordinal);
    private int _nextGroup;

    private RootTree(string what)
    {
        What = what;
        Add(new RootEntry { Path = string.Empty, Kind = RootEntryKind.Directory, Mode = 0x1ED });
    }

    /// <summary>What the tree was read from (for messages).</summary>
    public string What { get; }

    /// <summary>The number of paths, the root included.</summary>
    public int Count => _entries.Count;

    /// <summary>The root folder.</summary>
    public RootEntry Root => _entries[string.Empty];

    /// <summary>Every entry, in ordinal path order (a folder before what it holds).</summary>
    public IEnumerable<RootEntry> Entries => _sorted.Select(p => _entries[p]);

    /// <summary>The entry at <paramref name="path"/> (relative), or null.</summary>
    public RootEntry? this[string path] => _entries.GetValueOrDefault(path);

    /// <summary>Opens a regular file's bytes.</summary>
    public static Stream OpenRead(RootEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.DataPath is { } p
            ? new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan)
            : Stream.Null;
    }

    /// <summary>
    /// The path <paramref name="path"/> names once the symbolic links among its folders are followed inside the tree
    /// (as <c>bin/ls</c> is <c>usr/bin/ls</c> on a merged-/usr system); the last part is not followed. Null when a
    /// folder is missing or the links loop.
    /// </summary>
    public string? ResolveParents(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parts = new List<string>(path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var done = new List<string>();
        int hops = 0;
        for (int i = 0; i < parts.Count - 1; i++)
        {
            var part = parts[i];
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (done.Count > 0)
                {
                    done.RemoveAt(done.Count - 1);
                }

                continue;
            }

            done.Add(part);
            var e = this[string.Join('/', done)];
            if (e is null)
            {
                return null;
            }

            if (e.Kind == RootEntryKind.Symlink)
            {
                if (++hops > 40)
                {
                    return null;
                }

                done.RemoveAt(done.Count - 1);
                var target = e.LinkTarget.Split('/', StringSplitOptions.RemoveEmptyEntries);
                if (e.LinkTarget.StartsWith('/'))
                {
                    done.Clear();
                }

                parts.RemoveAt(i);
                parts.InsertRange(i, target);
                i--;
            }
            else if (e.Kind != RootEntryKind.Directory)
            {
                return null;
            }
        }

        if (parts.Count > 0)
        {
            done.Add(parts[^1]);
        }

        return string.Join('/', done);
    }

    /// <summary>
    /// Reads a folder as a root tree: owners, modes, mtimes and xattrs as they are on disk; files that share an inode
    /// are one hard-link group. The bytes stay where they are.
    /// </summary>
    /// <exception cref="ContainerException">The folder is missing, holds a socket or more than <see cref="MaxEntries"/> paths.</exception>
    public static RootTree FromDirectory(string dir, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dir);
        dir = System.IO.Path.GetFullPath(dir);
        if (!Native.TryLStat(dir, out var rootStat) || rootStat.Type != UnixMode.Directory)
        {
            throw new ContainerException(OstreeErrorCode.IOFailed, $"{dir}: not a directory");
        }

        var tree = new RootTree(dir);
        Fill(tree.Root, dir, rootStat);
        var groups = new Dictionary<(ulong, ulong), int>();
        var pending = new Stack<string>();
        pending.Push(string.Empty);
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rel = pending.Pop();
            var full = rel.Length == 0 ? dir : System.IO.Path.Combine(dir, rel);
            IEnumerable<string> names;
            try
            {
                names = Directory.EnumerateFileSystemEntries(full).Select(System.IO.Path.GetFileName).OfType<string>().ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ContainerException(OstreeErrorCode.IOFailed, $"{full}: {e.Message}");
            }

            foreach (var name in names)
            {
                var childRel = rel.Length == 0 ? name : rel + "/" + name;
                var childFull = System.IO.Path.Combine(full, name);
                var st = Native.LStat(childFull);
                var entry = new RootEntry { Path = childRel };
                Fill(entry, childFull, st);
                switch (st.Type)
                {
                    case UnixMode.Directory:
                        entry.Kind = RootEntryKind.Directory;
                        pending.Push(childRel);
                        break;
                    case UnixMode.Regular:
                        entry.Kind = RootEntryKind.Regular;
                        entry.Size = (long)st.Size;
                        entry.DataPath = childFull;
                        if (st.NLink > 1)
                        {
                            if (!groups.TryGetValue((st.Device, st.Inode), out var g))
                            {
                                groups[(st.Device, st.Inode)] = g = tree._nextGroup++;
                            }

                            entry.LinkGroup = g;
                        }

                        break;
                    case UnixMode.Symlink:
                        entry.Kind = RootEntryKind.Symlink;
                        entry.LinkTarget = new FileInfo(childFull).LinkTarget ?? string.Empty;
                        break;
                    case UnixMode.CharDevice:
                    case UnixMode.BlockDevice:
                        entry.Kind = st.Type == UnixMode.CharDevice ? RootEntryKind.CharDevice : RootEntryKind.BlockDevice;
                        (entry.DevMajor, entry.DevMinor) = (st.RdevMajor, st.RdevMinor);
                        break;
                    case UnixMode.Fifo:
                        entry.Kind = RootEntryKind.Fifo;
                        break;
                    default:
                        throw new ContainerException(OstreeErrorCode.UnsupportedFileType, $"{childFull}: a socket or another file type an image layer cannot hold");
                }

                tree.Add(entry);
            }
        }

        return tree;
    }

    private static void Fill(RootEntry entry, string full, FileStatus st)
    {
        entry.Mode = st.Mode & 0xFFF;
        entry.Uid = st.Uid;
        entry.Gid = st.Gid;
        entry.Mtime = st.MtimeSeconds;
        // What ostree keeps for itself in bare-user repositories is not part of the tree.
        entry.Xattrs = [.. Native.ListXattrs(full).Where(x => x.Name != "user.ostreemeta").Select(x => Xattr.Create(x.Name, x.Value)).OrderBy(x => x.Name, ByteOrder.Instance)];
    }

    /// <summary>
    /// Reads the layers of <paramref name="manifest"/> in order, applying OCI whiteouts, into a tree; file bytes are
    /// kept once each, by content, under <paramref name="spoolDir"/>.
    /// </summary>
    /// <exception cref="ContainerException">A layer is not a valid tar stream of its media type.</exception>
    public static async Task<RootTree> FromImageAsync(IImageSource source, ImageManifest manifest, string spoolDir, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(manifest);
        Directory.CreateDirectory(spoolDir);
        var tree = new RootTree(source.Reference.ToString());
        for (int i = 0; i < manifest.Layers.Count; i++)
        {
            var layer = manifest.Layers[i];
            await using var blob = await source.GetBlobAsync(layer, 0, cancellationToken).ConfigureAwait(false);
            int index = i + 1;
            await Task.Run(
                () =>
                {
                    using var decompressed = new ReadAheadStream(LayerStreams.Decompress(blob, layer.MediaType));
                    try
                    {
                        tree.ApplyLayer(decompressed, index, $"layer {layer.Digest} of {source.Reference}", spoolDir, cancellationToken);
                        decompressed.CopyTo(Stream.Null);
                        blob.CopyTo(Stream.Null); // to the end, so the digest is checked
                    }
                    catch (InvalidDataException e)
                    {
                        throw new ContainerException(OstreeErrorCode.InvalidData, $"Layer {layer.Digest} of {source.Reference} is not valid {layer.MediaType}: {e.Message}");
                    }
                    catch (TarFormatException e)
                    {
                        throw new ContainerException(OstreeErrorCodes.Of(e, OstreeErrorCode.InvalidData), $"Layer {layer.Digest} of {source.Reference}: {e.Message}", e);
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }

        return tree;
    }

    private void ApplyLayer(Stream tar, int layer, string what, string spoolDir, CancellationToken ct)
    {
        using var reader = new TarReader(tar, leaveOpen: true);
        var buffer = new byte[1 << 16];
        while (reader.GetNextEntry() is { } te)
        {
            ct.ThrowIfCancellationRequested();
            var path = TarTreeImporter.Normalize(te.Name, what);
            var name = path.Contains('/', StringComparison.Ordinal) ? path[(path.LastIndexOf('/') + 1)..] : path;
            var parent = path.Length == name.Length ? string.Empty : path[..(path.Length - name.Length - 1)];
            if (name == Opaque)
            {
                EnsureParents(path, layer, what);
                RemoveBelow(parent, layer, includeSelf: false);
                continue;
            }

            if (name.StartsWith(Whiteout, StringComparison.Ordinal))
            {
                var victim = (parent.Length == 0 ? string.Empty : parent + "/") + name[Whiteout.Length..];
                RemoveBelow(victim, layer, includeSelf: true);
                continue;
            }

            if (path.Length == 0)
            {
                if (te.IsDirectory)
                {
                    FromTar(Root, te);
                }

                continue;
            }

            EnsureParents(path, layer, what);
            var entry = new RootEntry { Path = path, Layer = layer };
            FromTar(entry, te);
            if (te.Type == TarType.HardLink)
            {
                var targetPath = TarTreeImporter.Normalize(te.LinkName, what);
                if (this[targetPath] is not { Kind: RootEntryKind.Regular } target)
                {
                    throw new TarFormatException($"{what}: hard link {path} to {targetPath}, which is not a regular file the layers hold");
                }

                if (target.LinkGroup < 0)
                {
                    target.LinkGroup = _nextGroup++;
                }

                entry.Kind = RootEntryKind.Regular;
                (entry.Mode, entry.Uid, entry.Gid, entry.Mtime, entry.Xattrs) = (target.Mode, target.Uid, target.Gid, target.Mtime, target.Xattrs);
                (entry.Size, entry.DataPath, entry.LinkGroup, entry.LinkTarget) = (target.Size, target.DataPath, target.LinkGroup, string.Empty);
            }
            else if (entry.Kind == RootEntryKind.Regular)
            {
                entry.Size = te.Size;
                entry.DataPath = Spool(reader.DataStream, te.Size, spoolDir, buffer, what + ": " + path);
            }

            if (this[path] is { } old)
            {
                if (old.Kind == RootEntryKind.Directory && entry.Kind == RootEntryKind.Directory)
                {
                    // A folder written again keeps what it holds and takes the new metadata.
                    (old.Mode, old.Uid, old.Gid, old.Mtime, old.Xattrs, old.Layer) = (entry.Mode, entry.Uid, entry.Gid, entry.Mtime, entry.Xattrs, layer);
                    continue;
                }

                RemoveBelow(path, int.MaxValue, includeSelf: true);
            }

            Add(entry);
        }
    }

    private static void FromTar(RootEntry entry, TarEntry te)
    {
        entry.Mode = te.Mode & 0xFFF;
        entry.Uid = te.Uid;
        entry.Gid = te.Gid;
        entry.Mtime = te.Mtime;
        entry.Xattrs = [.. te.Xattrs.OrderBy(x => x.Name, ByteOrder.Instance)];
        entry.Kind = te.Type switch
        {
            TarType.Directory => RootEntryKind.Directory,
            TarType.Symlink => RootEntryKind.Symlink,
            TarType.CharDevice => RootEntryKind.CharDevice,
            TarType.BlockDevice => RootEntryKind.BlockDevice,
            TarType.Fifo => RootEntryKind.Fifo,
            TarType.Regular or TarType.RegularOld or TarType.Contiguous or TarType.HardLink => RootEntryKind.Regular,
            _ => throw new TarFormatException($"{te.Name}: unsupported tar entry type {TarType.Describe(te.Type)}"),
        };
        entry.LinkTarget = te.Type == TarType.Symlink ? te.LinkName : string.Empty;
        (entry.DevMajor, entry.DevMinor) = (te.DevMajor, te.DevMinor);
    }

    private static string Spool(Stream data, long size, string spoolDir, byte[] buffer, string what)
    {
        var tmp = System.IO.Path.Combine(spoolDir, ".tmp-" + Guid.NewGuid().ToString("N"));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            long left = size;
            while (left > 0)
            {
                int n = data.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                if (n == 0)
                {
                    throw new TarFormatException($"{what}: truncated file data");
                }

                hash.AppendData(buffer, 0, n);
                f.Write(buffer, 0, n);
                left -= n;
            }
        }

        var final = System.IO.Path.Combine(spoolDir, Convert.ToHexStringLower(hash.GetHashAndReset()));
        if (File.Exists(final))
        {
            File.Delete(tmp);
        }
        else
        {
            File.Move(tmp, final);
        }

        return final;
    }

    private void EnsureParents(string path, int layer, string what)
    {
        int slash = path.IndexOf('/', StringComparison.Ordinal);
        while (slash > 0)
        {
            var dir = path[..slash];
            if (this[dir] is { } e)
            {
                if (e.Kind != RootEntryKind.Directory)
                {
                    throw new TarFormatException($"{what}: {path} is below {dir}, which is not a folder");
                }
            }
            else
            {
                Add(new RootEntry { Path = dir, Kind = RootEntryKind.Directory, Mode = 0x1ED, Layer = layer });
            }

            slash = path.IndexOf('/', slash + 1);
        }
    }

    private void Add(RootEntry entry)
    {
        if (_entries.Count >= MaxEntries)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"{What}: more than {MaxEntries} paths");
        }

        _entries[entry.Path] = entry;
        _sorted.Add(entry.Path);
    }

    // Removes `path` (when includeSelf) and what it holds, of the layers below `layer`.
    private void RemoveBelow(string path, int layer, bool includeSelf)
    {
        if (includeSelf && this[path] is { } self && self.Layer < layer)
        {
            _entries.Remove(path);
            _sorted.Remove(path);
        }

        var prefix = path.Length == 0 ? string.Empty : path + "/";
        var view = prefix.Length == 0 ? _sorted.Where(p => p.Length > 0).ToList() : _sorted.GetViewBetween(prefix, path + "0").ToList();
        foreach (var p in view)
        {
            if (p.StartsWith(prefix, StringComparison.Ordinal) && _entries[p].Layer < layer)
            {
                _entries.Remove(p);
                _sorted.Remove(p);
            }
        }
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
