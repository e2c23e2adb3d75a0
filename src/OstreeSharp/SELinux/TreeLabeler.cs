// Relabelling a tree about to be committed from a policy found inside it (merge commits of layered images).
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.SELinux;

/// <summary>Labels a <see cref="MutableTree"/> whose objects are in a repository.</summary>
public static class TreeLabeler
{
    /// <summary>
    /// The policy inside <paramref name="root"/> (its <c>usr/etc/selinux</c>, else <c>etc/selinux</c>): the config
    /// and the policy's <c>contexts/files</c> are copied to a scratch folder and loaded. No config, no policy.
    /// </summary>
    public static SePolicy LoadPolicy(OstreeRepo repo, MutableTree root)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(root);
        var selinux = Find(root, "usr", "etc", "selinux") ?? Find(root, "etc", "selinux");
        if (selinux is null || !selinux.Files.TryGetValue("config", out var config))
        {
            return SePolicy.None;
        }

        var scratch = Path.Combine(repo.Path, "tmp", "sepolicy-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var dir = Path.Combine(scratch, "etc", "selinux");
            Directory.CreateDirectory(dir);
            Extract(repo, config, Path.Combine(dir, "config"));
            foreach (var (type, sub) in selinux.Dirs)
            {
                if (Find(sub, "contexts", "files") is { } files)
                {
                    var target = Path.Combine(dir, type, "contexts", "files");
                    Directory.CreateDirectory(target);
                    foreach (var (name, checksum) in files.Files)
                    {
                        Extract(repo, checksum, Path.Combine(target, name));
                    }
                }
            }

            return SePolicy.Load(scratch);
        }
        finally
        {
            FileUtil.DeleteAny(scratch);
        }
    }

    private static MutableTree? Find(MutableTree root, params string[] path)
    {
        var t = root;
        foreach (var p in path)
        {
            if (!t.Dirs.TryGetValue(p, out t))
            {
                return null;
            }
        }

        return t;
    }

    private static void Extract(OstreeRepo repo, Checksum checksum, string dest)
    {
        var obj = repo.LoadContent(checksum);
        if (obj.Header.IsSymlink)
        {
            Native.Symlink(obj.Header.SymlinkTarget, dest);
            return;
        }

        using var input = obj.OpenData();
        using var output = File.Create(dest);
        input.CopyTo(output);
    }

    /// <summary>
    /// Gives every path of <paramref name="root"/> the label of <paramref name="policy"/>, rewriting only the objects
    /// whose xattrs change; returns how many were rewritten.
    /// </summary>
    public static int Relabel(OstreeRepo repo, RepoTransaction tx, MutableTree root, SePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(policy);
        return policy.Contexts is null ? 0 : Walk(repo, tx, root, "/", policy);
    }

    private static int Walk(OstreeRepo repo, RepoTransaction tx, MutableTree root, string rootPath, SePolicy policy)
    {
        // An explicit stack (a tree's depth is the input's to choose); each folder keeps its parent so that a change
        // deep down marks every folder above it modified.
        int changed = 0;
        var pending = new Stack<Folder>();
        pending.Push(new Folder(root, rootPath, null));
        while (pending.TryPop(out var at))
        {
            var dir = at.Tree;
            int before = changed;
            var dm = repo.LoadDirMeta(dir.MetaChecksum!.Value);
            var dx = policy.Apply(at.Path, dm.Mode, dm.Xattrs);
            if (!SameXattrs(dx, dm.Xattrs))
            {
                dir.MetaChecksum = tx.WriteMetadata(ObjectType.DirMeta, (dm with { Xattrs = dx }).ToBytes());
                changed++;
            }

            foreach (var (name, checksum) in dir.Files.ToList())
            {
                var obj = repo.LoadContent(checksum);
                var h = obj.Header;
                var x = policy.Apply(Reachability.Join(at.Path, name), h.Mode, h.Xattrs);
                if (SameXattrs(x, h.Xattrs))
                {
                    continue;
                }

                using var data = obj.OpenData();
                dir.SetFile(name, tx.WriteContent(h with { Xattrs = x }, data, obj.Size));
                changed++;
            }

            if (changed > before)
            {
                for (var f = at; f is not null && !f.Invalidated; f = f.Parent)
                {
                    f.Tree.Invalidate();
                    f.Invalidated = true;
                }
            }

            foreach (var (name, sub) in dir.Dirs.ToList())
            {
                pending.Push(new Folder(sub, Reachability.Join(at.Path, name), at));
            }
        }

        return changed;
    }

    private sealed class Folder(MutableTree tree, string path, Folder? parent)
    {
        public MutableTree Tree { get; } = tree;

        public string Path { get; } = path;

        public Folder? Parent { get; } = parent;

        public bool Invalidated { get; set; }
    }

    private static bool SameXattrs(Xattrs a, Xattrs b) =>
        a.Count == b.Count && a.Items.Zip(b.Items).All(p => p.First.Name.AsSpan().SequenceEqual(p.Second.Name) && p.First.Value.AsSpan().SequenceEqual(p.Second.Value));
}
