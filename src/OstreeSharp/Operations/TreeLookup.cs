using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>A path resolved inside a commit: a file (content id) or a directory (tree and meta ids).</summary>
public sealed record TreeEntry(string Path, bool IsFile, Checksum File, Checksum Tree, Checksum Meta);

/// <summary>Finds paths inside committed trees.</summary>
public static class TreeLookup
{
    /// <summary>The entry at <paramref name="path"/>, or null when it does not exist.</summary>
    public static TreeEntry? Find(OstreeRepo repo, Commit commit, string path) => Find(repo, commit, path, out _);

    /// <summary>libostree's words when a file stands where a path needs a folder.</summary>
    public const string NotADirectory = "Not a directory";

    /// <summary>The entry at <paramref name="path"/>, which must exist.</summary>
    /// <exception cref="ObjectNotFoundException">
    /// It does not, in libostree's words: <c>No such file or directory: /first/missing</c>, or <c>Not a directory</c>
    /// when a file stands where the path needs a folder.
    /// </exception>
    public static TreeEntry Require(OstreeRepo repo, Commit commit, string path) =>
        Find(repo, commit, path, out var error) ?? throw new ObjectNotFoundException(error!);

    /// <summary>
    /// The entry at <paramref name="path"/>, or null with <paramref name="error"/> saying why in libostree's words
    /// (<c>No such file or directory: /first/missing</c>, or <see cref="NotADirectory"/>).
    /// </summary>
    public static TreeEntry? Find(OstreeRepo repo, Commit commit, string path, out string? error)
    {
        error = null;
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

            if (dt.Files.FirstOrDefault(f => f.Name == parts[i]) is { } f)
            {
                if (i == parts.Length - 1)
                {
                    return new TreeEntry(current, true, f.Checksum, default, default);
                }

                error = NotADirectory;
                return null;
            }

            error = $"No such file or directory: {current}";
            return null;
        }

        return new TreeEntry(current, false, default, tree, meta);
    }
}
