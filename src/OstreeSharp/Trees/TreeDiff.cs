// diff between two trees, or a tree and a directory, printed as `ostree diff` prints it.
using OstreeSharp.Objects;
using OstreeSharp.Platform;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

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

    private sealed class DiskNode(string path, bool noXattrs) : Node
    {
        private List<(string Name, FileStatus St)>? _entries;

        private List<(string Name, FileStatus St)> Entries => _entries ??= Directory.EnumerateFileSystemEntries(path)
            .Select(p => (Path.GetFileName(p), Native.LStat(p))).ToList();

        public override IEnumerable<string> Names => Entries.Select(e => e.Name);

        public override bool IsDisk => true;

        public override IReadOnlyDictionary<string, Func<Checksum>> Files => Entries.Where(e => e.St.Type != UnixMode.Directory)
            .ToDictionary(e => e.Name, e => (Func<Checksum>)(() => FileChecksum.Compute(Path.Combine(path, e.Name), noXattrs)), StringComparer.Ordinal);

        public override IReadOnlyDictionary<string, Node> Dirs => Entries.Where(e => e.St.Type == UnixMode.Directory)
            .ToDictionary(e => e.Name, e => (Node)new DiskNode(Path.Combine(path, e.Name), noXattrs), StringComparer.Ordinal);

        public override Checksum? Meta => null;

        public override Checksum? Tree => null;
    }

    /// <summary>Diff of two commits.</summary>
    public static TreeDiffResult Compare(OstreeRepo repo, Commit a, Commit b) =>
        Run(new RepoNode(repo, a.RootTree, a.RootMeta, false), new RepoNode(repo, b.RootTree, b.RootMeta, false));

    /// <summary>Diff of a commit against a directory on disk; <paramref name="noXattrs"/> ignores xattrs on both sides.</summary>
    public static TreeDiffResult Compare(OstreeRepo repo, Commit a, string directory, bool noXattrs = false) =>
        Run(new RepoNode(repo, a.RootTree, a.RootMeta, noXattrs), new DiskNode(directory, noXattrs));

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
                if (!Frame.Same(f.Ad[n], db))
                {
                    open.Push(new Frame(f.Ad[n], db, p, f.Rel(n)));
                }
            }
            else
            {
                removed.Add(p);
                added.Add(f.Added(n));
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

/// <summary>Content checksums of files on disk, as <c>ostree checksum</c> computes them.</summary>
public static class FileChecksum
{
    /// <summary>The content checksum of a regular file or symlink with its on-disk owner, mode and xattrs.</summary>
    public static Checksum Compute(string path, bool ignoreXattrs = false)
    {
        var st = Native.LStat(path);
        var xattrs = ignoreXattrs ? Xattrs.Empty : Xattrs.Create(Native.ListXattrs(path).Select(x => Xattr.Create(x.Name, x.Value)));
        if (st.Type == UnixMode.Symlink)
        {
            return new FileHeader(st.Uid, st.Gid, st.Mode, new FileInfo(path).LinkTarget ?? string.Empty, xattrs).ComputeChecksum([]);
        }

        if (st.Type != UnixMode.Regular)
        {
            throw new OstreeException($"{path}: not a regular file or symlink");
        }

        using var fs = File.OpenRead(path);
        return new FileHeader(st.Uid, st.Gid, st.Mode, string.Empty, xattrs).ComputeChecksum(fs);
    }
}
