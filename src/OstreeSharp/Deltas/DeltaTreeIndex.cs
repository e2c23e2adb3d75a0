// What delta generators need to know of a commit's tree: its metadata objects, a path for each file, every file's
// path, and which file of it is "the same file" as a new one (to send a patch against).
using System.Text;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Deltas;

/// <summary>The objects of one commit's tree: its metadata, its files (with one path each) and every file path.</summary>
internal sealed class DeltaTreeIndex
{
    private const int SimilarityPercent = 30;
    private Dictionary<string, List<Checksum>>? _byStem;

    /// <summary>The index of no tree (a delta from nothing).</summary>
    public static readonly DeltaTreeIndex Empty = new();

    /// <summary>The dirtree and dirmeta objects.</summary>
    public HashSet<DeltaObject> Metadata { get; } = [];

    /// <summary>Each content object, with one path that uses it.</summary>
    public Dictionary<Checksum, string> Files { get; } = [];

    /// <summary>Every file path (of trees walked once) and its content object.</summary>
    public Dictionary<string, Checksum> Paths { get; } = new(StringComparer.Ordinal);

    /// <summary>Each dirtree and dirmeta object, with one folder path that uses it.</summary>
    public Dictionary<DeltaObject, string> Folders { get; } = [];

    /// <summary>Every folder path (of trees walked once) and its dirtree and dirmeta objects.</summary>
    public Dictionary<string, (Checksum Tree, Checksum Meta)> FolderPaths { get; } = new(StringComparer.Ordinal);

    /// <summary>The objects of the tree, content and metadata, sorted by id: the table container deltas index into.</summary>
    public IReadOnlyList<DeltaObject> SortedObjects() => Sorted([.. Files.Keys.Select(c => new DeltaObject(ObjectType.File, c)).Concat(Metadata)]);

    /// <summary>
    /// <see cref="SortedObjects"/> of <paramref name="commit"/>'s tree without the paths an index keeps: what a client
    /// applying a container delta needs, in a fraction of the time and memory.
    /// </summary>
    public static DeltaObject[] SortedObjectsOf(OstreeRepo repo, Commit commit)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(commit);
        var objects = new HashSet<DeltaObject>();
        var pending = new Stack<(Checksum Tree, Checksum Meta)>();
        pending.Push((commit.RootTree, commit.RootMeta));
        while (pending.TryPop(out var at))
        {
            objects.Add(new DeltaObject(ObjectType.DirMeta, at.Meta));
            if (!objects.Add(new DeltaObject(ObjectType.DirTree, at.Tree)))
            {
                continue;
            }

            var dt = repo.LoadDirTree(at.Tree);
            foreach (var f in dt.Files)
            {
                objects.Add(new DeltaObject(ObjectType.File, f.Checksum));
            }

            foreach (var d in dt.Dirs)
            {
                pending.Push((d.TreeChecksum, d.MetaChecksum));
            }
        }

        return Sorted([.. objects]);
    }

    /// <summary>The order of the table: by id, then by type.</summary>
    public static IComparer<DeltaObject> TableOrder { get; } = Comparer<DeltaObject>.Create(static (a, b) => a.Checksum.CompareTo(b.Checksum) is var c and not 0 ? c : a.Type.CompareTo(b.Type));

    private static DeltaObject[] Sorted(DeltaObject[] objects)
    {
        Array.Sort(objects, TableOrder);
        return objects;
    }

    /// <summary>Walks the tree of <paramref name="commit"/>.</summary>
    public static DeltaTreeIndex Of(OstreeRepo repo, Commit commit)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(commit);
        var index = new DeltaTreeIndex();
        index.Walk(repo, commit.RootTree, commit.RootMeta, string.Empty);
        return index;
    }

    private void Walk(OstreeRepo repo, Checksum tree, Checksum meta, string path)
    {
        // Depth first in name order with an explicit stack (a tree's depth is the input's to choose): the first path
        // seen of an object is the one kept.
        var pending = new Stack<(Checksum Tree, Checksum Meta, string Path)>();
        pending.Push((tree, meta, path));
        while (pending.TryPop(out var at))
        {
            VisitFolder(repo, at.Tree, at.Meta, at.Path, pending);
        }
    }

    private void VisitFolder(OstreeRepo repo, Checksum tree, Checksum meta, string path, Stack<(Checksum Tree, Checksum Meta, string Path)> pending)
    {
        Metadata.Add(new DeltaObject(ObjectType.DirMeta, meta));
        FolderPaths[path.Length == 0 ? "/" : path] = (tree, meta);
        Folders.TryAdd(new DeltaObject(ObjectType.DirMeta, meta), path.Length == 0 ? "/" : path);
        Folders.TryAdd(new DeltaObject(ObjectType.DirTree, tree), path.Length == 0 ? "/" : path);
        if (!Metadata.Add(new DeltaObject(ObjectType.DirTree, tree)))
        {
            return; // a subtree seen before: its files are listed (under another path, which is enough)
        }

        var dt = repo.LoadDirTree(tree);
        foreach (var f in dt.Files)
        {
            var p = path + "/" + f.Name;
            Files.TryAdd(f.Checksum, p);
            Paths[p] = f.Checksum;
        }

        for (int i = dt.Dirs.Count - 1; i >= 0; i--)
        {
            var d = dt.Dirs[i];
            pending.Push((d.TreeChecksum, d.MetaChecksum, path + "/" + d.Name));
        }
    }

    /// <summary>
    /// The regular file of this tree a new file at <paramref name="path"/> of <paramref name="size"/> bytes is most
    /// likely a version of: the file at the same path, else one in the same folder whose name differs only in its digits
    /// (<c>libfoo.so.3.0.2</c> and <c>libfoo.so.3.0.5</c>) and whose size is within 30%. It must be world-readable (a
    /// client may read it unprivileged) and the two sizes must sum to at most <paramref name="maxTotal"/>.
    /// </summary>
    public ContentObject? FindSimilar(OstreeRepo repo, string path, long size, long maxTotal)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ContentObject? best = null;
        if (Paths.TryGetValue(path, out var same))
        {
            best = repo.LoadContent(same);
        }
        else if ((_byStem ??= Paths.GroupBy(kv => Stem(kv.Key)).ToDictionary(g => g.Key, g => g.Select(kv => kv.Value).ToList(), StringComparer.Ordinal))
            .TryGetValue(Stem(path), out var candidates))
        {
            best = candidates.Select(repo.LoadContent)
                .Where(c => !c.Header.IsSymlink && Math.Abs(c.Size - size) * 100 <= SimilarityPercent * Math.Max(c.Size, size))
                .OrderBy(c => Math.Abs(c.Size - size)).FirstOrDefault();
        }

        return best is { Header.IsSymlink: false } && (best.Header.Mode & 4) != 0 && best.Size + size <= maxTotal ? best : null;
    }

    // A path with the digits of its last component removed: libfoo.so.3.0.2 and libfoo.so.3.0.5 share one.
    private static string Stem(string path)
    {
        int slash = path.LastIndexOf('/');
        var sb = new StringBuilder(path.Length);
        sb.Append(path, 0, slash + 1);
        foreach (var ch in path.AsSpan(slash + 1))
        {
            if (!char.IsAsciiDigit(ch))
            {
                sb.Append(ch);
            }
        }

        return sb.ToString();
    }
}
