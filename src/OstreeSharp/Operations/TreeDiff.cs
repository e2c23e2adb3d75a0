// diff between two trees, or a tree and a directory, printed as `ostree diff` prints it.
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>Changes between two trees: modified, removed and added paths.</summary>
public sealed record TreeDiffResult(IReadOnlyList<string> Modified, IReadOnlyList<string> Removed, IReadOnlyList<string> Added);

/// <summary>Compares trees.</summary>
public static class TreeDiff
{
    internal abstract class Node
    {
        public abstract IReadOnlyDictionary<string, Func<Checksum>> Files { get; }

        public abstract IReadOnlyDictionary<string, Node> Dirs { get; }

        public abstract Checksum? Meta { get; }

        public abstract Checksum? Tree { get; }

        /// <summary>Children in the order a walk meets them (dirtree order, or readdir order on disk).</summary>
        public abstract IEnumerable<string> Names { get; }

        /// <summary>True for a directory on disk: ostree prints paths added there relative, without the leading slash.</summary>
        public virtual bool IsDisk => false;
    }

    private sealed class RepoNode(OstreeRepo repo, Checksum tree, Checksum meta, bool noXattrs) : Node
    {
        private DirTree? _t;

        private DirTree T => _t ??= repo.LoadDirTree(tree);

        public override IReadOnlyDictionary<string, Func<Checksum>> Files => T.Files.ToDictionary(f => f.Name, f => (Func<Checksum>)(() => noXattrs ? WithoutXattrs(repo, f.Checksum) : f.Checksum), StringComparer.Ordinal);

        public override IReadOnlyDictionary<string, Node> Dirs => T.Dirs.ToDictionary(d => d.Name, d => (Node)new RepoNode(repo, d.TreeChecksum, d.MetaChecksum, noXattrs), StringComparer.Ordinal);

        public override Checksum? Meta => meta;

        public override Checksum? Tree => tree;

        public override IEnumerable<string> Names => T.Files.Select(f => f.Name).Concat(T.Dirs.Select(d => d.Name));
    }

    private static Checksum WithoutXattrs(OstreeRepo repo, Checksum c)
    {
        var obj = repo.LoadContent(c);
        if (obj.Header.Xattrs.Count == 0)
        {
            return c;
        }

        using var data = obj.OpenData();
        return (obj.Header with { Xattrs = Xattrs.Empty }).ComputeChecksum(data);
    }

    private sealed class DiskNode(string path, bool noXattrs, DiffOwner owner) : Node
    {
        private List<(string Name, FileStatus St)>? _entries;

        private List<(string Name, FileStatus St)> Entries => _entries ??= Directory.EnumerateFileSystemEntries(path)
            .Select(p => (Path.GetFileName(p), Native.LStat(p))).ToList();

        public override IEnumerable<string> Names => Entries.Select(e => e.Name);

        public override bool IsDisk => true;

        public override IReadOnlyDictionary<string, Func<Checksum>> Files => Entries.Where(e => e.St.Type != UnixMode.Directory)
            .ToDictionary(e => e.Name, e => (Func<Checksum>)(() => FileChecksum.Compute(Path.Combine(path, e.Name), noXattrs, owner.Uid, owner.Gid)), StringComparer.Ordinal);

        public override IReadOnlyDictionary<string, Node> Dirs => Entries.Where(e => e.St.Type == UnixMode.Directory)
            .ToDictionary(e => e.Name, e => (Node)new DiskNode(Path.Combine(path, e.Name), noXattrs, owner), StringComparer.Ordinal);

        // The folder's dirmeta as a commit would store it, with the owner the diff was told to assume.
        public override Checksum? Meta
        {
            get
            {
                var st = Native.LStat(path);
                var xattrs = noXattrs ? Xattrs.Empty : Xattrs.Create(Native.ListXattrs(path).Select(x => Xattr.Create(x.Name, x.Value)));
                return Checksum.Compute(new DirMeta(owner.Uid ?? st.Uid, owner.Gid ?? st.Gid, st.Mode, xattrs).ToBytes());
            }
        }

        public override Checksum? Tree => null;
    }

    /// <summary>Diff of two commits.</summary>
    public static TreeDiffResult Compare(OstreeRepo repo, Commit a, Commit b) =>
        Run(new RepoNode(repo, a.RootTree, a.RootMeta, false), new RepoNode(repo, b.RootTree, b.RootMeta, false));

    /// <summary>
    /// Diff of a commit against a directory on disk; <paramref name="noXattrs"/> ignores xattrs on both sides, as they
    /// are ignored anyway when the repository has none (bare-user-only, or <c>core.disable-xattrs</c>, as libostree
    /// decides it); the files on disk are taken as owned by <paramref name="owner"/> where it says so (ostree's
    /// <c>--owner-uid</c>, <c>--owner-gid</c>).
    /// </summary>
    public static TreeDiffResult Compare(OstreeRepo repo, Commit a, string directory, bool noXattrs = false, DiffOwner owner = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        noXattrs |= repo.DisableXattrs || repo.Mode == RepoMode.BareUserOnly;
        return Run(new RepoNode(repo, a.RootTree, a.RootMeta, noXattrs), new DiskNode(directory, noXattrs, owner));
    }

    /// <summary>Diff of two directories on disk (the second one's owner taken as <paramref name="owner"/> says).</summary>
    public static TreeDiffResult Compare(string a, string b, bool noXattrs, DiffOwner owner) =>
        Run(new DiskNode(a, noXattrs, default), new DiskNode(b, noXattrs, owner));

    private static TreeDiffResult Run(Node a, Node b)
    {
        var m = new List<string>();
        var r = new List<string>();
        var ad = new List<string>();
        Walk(a, b, "/", string.Empty, m, r, ad);
        return new TreeDiffResult(m, r, ad);
    }

    // Mirrors ostree's diff_dirs: the old side is walked in its order for removed, modified and
    // (recursing into shared directories) nested changes; then the new side, in its order, for added ones.
    private static void Walk(Node a, Node b, string path, string relative, List<string> modified, List<string> removed, List<string> added)
    {
        // The folders being compared, innermost on top, each with its place in the old side's names: the recursion's
        // order, without a stack frame per level (a tree's depth is the input's to choose).
        var open = new Stack<Frame>();
        if (!Frame.Same(a, b))
        {
            open.Push(new Frame(a, b, path, relative));
        }

        while (open.TryPeek(out var f))
        {
            if (!f.Names.MoveNext())
            {
                foreach (var name in f.B.Names)
                {
                    if (!f.Af.ContainsKey(name) && !f.Ad.ContainsKey(name))
                    {
                        added.Add(f.Added(name));
                        if (f.Bd.TryGetValue(name, out var newDir))
                        {
                            AddDescendants(newDir, f.Added(name), added);
                        }
                    }
                }

                f.Names.Dispose();
                open.Pop();
                continue;
            }

            var n = f.Names.Current;
            var p = Reachability.Join(f.Path, n);
            bool aIsFile = f.Af.TryGetValue(n, out var fa);
            if (!f.Bf.TryGetValue(n, out var fb) && !f.Bd.ContainsKey(n))
            {
                removed.Add(p);
            }
            else if (aIsFile && fb is not null)
            {
                if (fa!() != fb())
                {
                    modified.Add(p);
                }
            }
            else if (!aIsFile && f.Bd.TryGetValue(n, out var db))
            {
                // A folder whose own metadata changed is modified, as ostree compares dirmeta checksums.
                if (f.Ad[n].Meta != db.Meta)
                {
                    modified.Add(p);
                }

                if (!Frame.Same(f.Ad[n], db))
                {
                    open.Push(new Frame(f.Ad[n], db, p, f.Rel(n)));
                }
            }
            else
            {
                modified.Add(p); // a file became a folder or the other way round: ostree calls it modified
            }
        }
    }

    // As ostree's diff_add_dir_recurse: everything under an added folder is added too, each folder followed by what
    // it holds, in its order (a loop over a stack: the depth is the input's).
    private static void AddDescendants(Node dir, string prefix, List<string> added)
    {
        var open = new Stack<(Node Dir, string Prefix, IEnumerator<string> Names)>();
        open.Push((dir, prefix, dir.Names.GetEnumerator()));
        while (open.TryPeek(out var top))
        {
            if (!top.Names.MoveNext())
            {
                top.Names.Dispose();
                open.Pop();
                continue;
            }

            var child = top.Prefix + "/" + top.Names.Current;
            added.Add(child);
            if (top.Dir.Dirs.TryGetValue(top.Names.Current, out var sub))
            {
                open.Push((sub, child, sub.Names.GetEnumerator()));
            }
        }
    }

    private sealed class Frame
    {
        public Frame(Node a, Node b, string path, string relative)
        {
            B = b;
            Path = path;
            Relative = relative;
            Af = a.Files;
            Ad = a.Dirs;
            Bf = b.Files;
            Bd = b.Dirs;
            Names = a.Names.GetEnumerator();
        }

        public Node B { get; }

        public string Path { get; }

        public string Relative { get; }

        public IReadOnlyDictionary<string, Func<Checksum>> Af { get; }

        public IReadOnlyDictionary<string, Node> Ad { get; }

        public IReadOnlyDictionary<string, Func<Checksum>> Bf { get; }

        public IReadOnlyDictionary<string, Node> Bd { get; }

        public IEnumerator<string> Names { get; }

        public static bool Same(Node a, Node b) => a.Tree is { } ta && b.Tree is { } tb && ta == tb;

        public string Rel(string name) => Relative.Length == 0 ? name : Relative + "/" + name;

        public string Added(string name) => B.IsDisk ? Rel(name) : Reachability.Join(Path, name);
    }
}

/// <summary>The owner a diff assumes for files on disk (null: theirs), as ostree diff's <c>--owner-uid</c> and <c>--owner-gid</c>.</summary>
public readonly record struct DiffOwner(uint? Uid, uint? Gid);

/// <summary>Content checksums of files on disk, as <c>ostree checksum</c> computes them.</summary>
public static class FileChecksum
{
    /// <summary>
    /// The content checksum of a regular file or symlink with its on-disk owner, mode and xattrs (none with
    /// <paramref name="ignoreXattrs"/>), the owner taken as <paramref name="uid"/> and <paramref name="gid"/> where given.
    /// </summary>
    public static Checksum Compute(string path, bool ignoreXattrs = false, uint? uid = null, uint? gid = null)
    {
        var st = Native.LStat(path);
        st = st with { Uid = uid ?? st.Uid, Gid = gid ?? st.Gid };
        var xattrs = ignoreXattrs ? Xattrs.Empty : Xattrs.Create(Native.ListXattrs(path).Select(x => Xattr.Create(x.Name, x.Value)));
        if (st.Type == UnixMode.Symlink)
        {
            return new FileHeader(st.Uid, st.Gid, st.Mode, new FileInfo(path).LinkTarget ?? string.Empty, xattrs).ComputeChecksum([]);
        }

        if (st.Type != UnixMode.Regular)
        {
            throw new OstreeException(OstreeErrorCode.UnsupportedFileType, $"{path}: not a regular file or symlink");
        }

        using var fs = File.OpenRead(path);
        return new FileHeader(st.Uid, st.Gid, st.Mode, string.Empty, xattrs).ComputeChecksum(fs);
    }
}
