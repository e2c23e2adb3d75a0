// Walking what a commit references: used by fsck, prune and pull-local.
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>An object reference with the first tree path found to use it.</summary>
public readonly record struct ObjectRef(Checksum Checksum, ObjectType Type, string Path);

/// <summary>Enumerates the objects a commit or tree references.</summary>
internal static class Reachability
{
    /// <summary>
    /// Walks the tree of <paramref name="commit"/>; calls <paramref name="visit"/> for every object once
    /// (as recorded in <paramref name="seen"/>) and, for missing metadata, <paramref name="missing"/> instead of descending.
    /// A dirtree that does not parse (bad names, order or bytes) is passed to <paramref name="corrupt"/> when given
    /// (fsck reports it; its subtree is skipped); without one the walk fails with the object named.
    /// </summary>
    /// <exception cref="ObjectCorruptedException">A dirtree does not parse and no <paramref name="corrupt"/> was given.</exception>
    public static void WalkCommitTree(OstreeRepo repo, Commit commit, HashSet<(Checksum, ObjectType)> seen, Action<ObjectRef> visit, Action<ObjectRef>? missing = null, Action<ObjectRef>? corrupt = null)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(commit);

        // Depth-first, each folder's files before its subfolders, as a recursion would go; an explicit stack, since a
        // tree thousands of folders deep must not overflow ours.
        var stack = new Stack<(Checksum Tree, Checksum Meta, string Path)>();
        stack.Push((commit.RootTree, commit.RootMeta, "/"));
        while (stack.Count > 0)
        {
            var (tree, meta, path) = stack.Pop();
            if (seen.Add((meta, ObjectType.DirMeta)))
            {
                Visit(repo, new ObjectRef(meta, ObjectType.DirMeta, path), visit, missing);
            }

            if (!seen.Add((tree, ObjectType.DirTree)))
            {
                continue;
            }

            var treeRef = new ObjectRef(tree, ObjectType.DirTree, path);
            if (!repo.HasObject(tree, ObjectType.DirTree))
            {
                (missing ?? throw new ObjectNotFoundException($"Missing dirtree {tree} (path {path})"))(treeRef);
                continue;
            }

            DirTree dt;
            try
            {
                dt = repo.LoadDirTree(tree);
            }
            catch (ObjectCorruptedException) when (corrupt is not null)
            {
                visit(treeRef);
                corrupt(treeRef);
                continue;
            }

            visit(treeRef);
            foreach (var f in dt.Files)
            {
                if (seen.Add((f.Checksum, ObjectType.File)))
                {
                    Visit(repo, new ObjectRef(f.Checksum, ObjectType.File, Join(path, f.Name)), visit, missing);
                }
            }

            for (int i = dt.Dirs.Count - 1; i >= 0; i--)
            {
                var d = dt.Dirs[i];
                stack.Push((d.TreeChecksum, d.MetaChecksum, Join(path, d.Name)));
            }
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
