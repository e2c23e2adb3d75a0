using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>A path resolved inside a commit: a file (content id) or a directory (tree and meta ids).</summary>
public sealed record TreeEntry(string Path, bool IsFile, Checksum File, Checksum Tree, Checksum Meta);

/// <summary>Finds paths inside committed trees.</summary>
public static class TreeLookup
{
    /// <summary>The entry at <paramref name="path"/>, or null when it does not exist.</summary>
    public static TreeEntry? Find(OstreeRepo repo, Commit commit, string path)
    {
        Checksum tree = commit.RootTree, meta = commit.RootMeta;
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        string current = "/";
        for (int i = 0; i < parts.Length; i++)
        {
            var dt = repo.LoadDirTree(tree);
            current = Reachability.Join(current, parts[i]);
            if (dt.Dirs.FirstOrDefault(d => d.Name == parts[i]) is { } d)
            {
                tree = d.TreeChecksum;
                meta = d.MetaChecksum;
                continue;
            }

            if (i == parts.Length - 1 && dt.Files.FirstOrDefault(f => f.Name == parts[i]) is { } f)
            {
                return new TreeEntry(current, true, f.Checksum, default, default);
            }

            return null;
        }

        return new TreeEntry(current, false, default, tree, meta);
    }
}
