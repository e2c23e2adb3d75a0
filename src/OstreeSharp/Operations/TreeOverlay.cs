// `commit --tree=ref=REV`: overlay an existing commit's tree; with no modifier options the
// existing objects keep their ids (subtrees are not even loaded unless something changes them).
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>Overlays committed trees onto a <see cref="MutableTree"/>.</summary>
public static class TreeOverlay
{
    /// <summary>Overlays the tree of <paramref name="commit"/> onto <paramref name="root"/>.</summary>
    public static void OverlayCommit(OstreeRepo repo, RepoTransaction tx, MutableTree root, Commit commit, CommitModifier modifier)
    {
        if (modifier.IsIdentity)
        {
            Merge(repo, root, MutableTree.FromRepo(repo, commit.RootTree, commit.RootMeta));
            return;
        }

        Rewrite(repo, tx, root, commit.RootTree, commit.RootMeta, "/", modifier);
    }

    private static void Merge(OstreeRepo repo, MutableTree into, MutableTree from)
    {
        // An explicit stack: a tree's depth is the input's to choose.
        var pending = new Stack<(MutableTree Into, MutableTree From)>();
        pending.Push((into, from));
        while (pending.TryPop(out var at))
        {
            (into, from) = at;
            into.MetaChecksum = from.MetaChecksum;
            if (into.TreeChecksum is null && into.Files.Count == 0 && into.Dirs.Count == 0)
            {
                foreach (var (k, v) in from.Files)
                {
                    into.Files[k] = v;
                }

                foreach (var (k, v) in from.Dirs)
                {
                    into.Dirs[k] = v;
                }

                continue;
            }

            foreach (var (k, v) in from.Files)
            {
                into.SetFile(k, v);
            }

            foreach (var (k, v) in from.Dirs)
            {
                pending.Push((into.EnsureDir(k, v.MetaChecksum!.Value), v));
            }
        }
    }

    private static void Rewrite(OstreeRepo repo, RepoTransaction tx, MutableTree into, Checksum tree, Checksum meta, string path, CommitModifier modifier)
    {
        // An explicit stack: a tree's depth is the input's to choose.
        var pending = new Stack<(MutableTree Into, Checksum Tree, Checksum Meta, string Path)>();
        pending.Push((into, tree, meta, path));
        while (pending.TryPop(out var at))
        {
            RewriteOne(repo, tx, at.Into, at.Tree, at.Meta, at.Path, modifier, pending);
        }
    }

    private static void RewriteOne(OstreeRepo repo, RepoTransaction tx, MutableTree into, Checksum tree, Checksum meta, string path, CommitModifier modifier,
        Stack<(MutableTree Into, Checksum Tree, Checksum Meta, string Path)> pending)
    {
        var dm = repo.LoadDirMeta(meta);
        var (u, g, m, x) = modifier.Apply(path, dm.Uid, dm.Gid, dm.Mode, dm.Xattrs);
        into.MetaChecksum = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(u, g, m, x).ToBytes());
        into.Invalidate();
        var dt = repo.LoadDirTree(tree);
        foreach (var f in dt.Files)
        {
            var p = Reachability.Join(path, f.Name);
            if (modifier.SkipList.Contains(p))
            {
                continue;
            }

            var obj = repo.LoadContent(f.Checksum);
            var h = obj.Header;
            var (fu, fg, fm, fx) = modifier.Apply(p, h.Uid, h.Gid, h.Mode, h.Xattrs);
            using var data = obj.OpenData();
            into.SetFile(f.Name, tx.WriteContent(h with { Uid = fu, Gid = fg, Mode = fm, Xattrs = fx }, data, obj.Size));
        }

        foreach (var d in dt.Dirs)
        {
            var p = Reachability.Join(path, d.Name);
            if (modifier.SkipList.Contains(p))
            {
                continue;
            }

            pending.Push((into.EnsureDir(d.Name, d.MetaChecksum), d.TreeChecksum, d.MetaChecksum, p));
        }
    }
}
