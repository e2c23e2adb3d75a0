// Walking what a commit references: used by fsck, prune and pull-local.
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>An object reference with the first tree path found to use it.</summary>
public readonly record struct ObjectRef(Checksum Checksum, ObjectType Type, string Path);

/// <summary>Enumerates the objects a commit or tree references.</summary>
public static class Reachability
{
    /// <summary>
    /// Walks the tree of <paramref name="commit"/>; calls <paramref name="visit"/> for every object once
    /// (as recorded in <paramref name="seen"/>) and, for missing metadata, <paramref name="missing"/> instead of descending.
    /// </summary>
    public static void WalkCommitTree(OstreeRepo repo, Commit commit, HashSet<(Checksum, ObjectType)> seen, Action<ObjectRef> visit, Action<ObjectRef>? missing = null)
    {
        WalkDir(repo, commit.RootTree, commit.RootMeta, "/", seen, visit, missing);
    }

    private static void WalkDir(OstreeRepo repo, Checksum tree, Checksum meta, string path, HashSet<(Checksum, ObjectType)> seen, Action<ObjectRef> visit, Action<ObjectRef>? missing)
    {
        if (seen.Add((meta, ObjectType.DirMeta)))
        {
            Visit(repo, new ObjectRef(meta, ObjectType.DirMeta, path), visit, missing);
        }

        if (!seen.Add((tree, ObjectType.DirTree)))
        {
            return;
        }

        var treeRef = new ObjectRef(tree, ObjectType.DirTree, path);
        if (!repo.HasObject(tree, ObjectType.DirTree))
        {
            (missing ?? throw new ObjectNotFoundException($"Missing dirtree {tree} (path {path})"))(treeRef);
            return;
        }

        visit(treeRef);
        DirTree dt;
        try
        {
            dt = repo.LoadDirTree(tree);
        }
        catch (ObjectCorruptedException)
        {
            return; // reported by the visitor
        }

        foreach (var f in dt.Files)
        {
            if (seen.Add((f.Checksum, ObjectType.File)))
            {
                Visit(repo, new ObjectRef(f.Checksum, ObjectType.File, Join(path, f.Name)), visit, missing);
            }
        }

        foreach (var d in dt.Dirs)
        {
            WalkDir(repo, d.TreeChecksum, d.MetaChecksum, Join(path, d.Name), seen, visit, missing);
        }
    }

    private static void Visit(OstreeRepo repo, ObjectRef r, Action<ObjectRef> visit, Action<ObjectRef>? missing)
    {
        if (!repo.HasObject(r.Checksum, r.Type))
        {
            (missing ?? throw new ObjectNotFoundException($"Missing {r.Type.ToName()} {r.Checksum} (path {r.Path})"))(r);
            return;
        }

        visit(r);
    }

    /// <summary>Joins a tree path and a name.</summary>
    public static string Join(string dir, string name) => dir == "/" ? "/" + name : dir + "/" + name;
}
