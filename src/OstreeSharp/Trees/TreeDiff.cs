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
        if (a.Tree is { } ta && b.Tree is { } tb && ta == tb)
        {
            return;
        }

        var af = a.Files;
        var ad = a.Dirs;
        var bf = b.Files;
        var bd = b.Dirs;
        string Rel(string name) => relative.Length == 0 ? name : relative + "/" + name;
        string Added(string name) => b.IsDisk ? Rel(name) : Reachability.Join(path, name);
        foreach (var name in a.Names)
        {
            var p = Reachability.Join(path, name);
            bool aIsFile = af.TryGetValue(name, out var fa);
            if (!bf.TryGetValue(name, out var fb) && !bd.ContainsKey(name))
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
            else if (!aIsFile && bd.TryGetValue(name, out var db))
            {
                Walk(ad[name], db, p, Rel(name), modified, removed, added);
            }
            else
            {
                removed.Add(p);
                added.Add(Added(name));
            }
        }

        foreach (var name in b.Names)
        {
            if (!af.ContainsKey(name) && !ad.ContainsKey(name))
            {
                added.Add(Added(name));
            }
        }
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
