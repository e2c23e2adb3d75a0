// The summary cache of a repository (tmp/cache/summaries/REMOTE and REMOTE.sig), as libostree keeps it: a signed
// summary is kept after a pull checked it, and the next pull that fetches the same signature reuses it instead of
// fetching the summary again. OSTREE_SKIP_CACHE turns it off; file:// remotes are never cached; pull's --cache-dir
// keeps it elsewhere.
using OstreeSharp.Internal;
using OstreeSharp.Repository;

namespace OstreeSharp.Transfer;

/// <summary>The cached summaries of a repository's remotes.</summary>
internal static class SummaryCache
{
    private static string? Folder(OstreeRepo repo, string remote, string url, string? cacheDir) =>
        Environment.GetEnvironmentVariable("OSTREE_SKIP_CACHE") is not null
        || url.StartsWith("file:", StringComparison.OrdinalIgnoreCase)
        || remote.Length == 0 || remote.Contains('/', StringComparison.Ordinal) || remote is "." or ".."
            ? null
            : Path.Combine(cacheDir ?? Path.Combine(repo.Path, "tmp", "cache"), "summaries");

    /// <summary>
    /// The cached summary of <paramref name="remote"/> when its cached signature is exactly <paramref name="signature"/>,
    /// else null (a cached signature without its summary is removed).
    /// </summary>
    public static byte[]? LoadIfSameSignature(OstreeRepo repo, string remote, string url, byte[]? signature, string? cacheDir = null)
    {
        ArgumentNullException.ThrowIfNull(repo);
        if (signature is null || Folder(repo, remote, url, cacheDir) is not { } dir)
        {
            return null;
        }

        var sigPath = Path.Combine(dir, remote + ".sig");
        var summaryPath = Path.Combine(dir, remote);
        try
        {
            if (!File.Exists(sigPath) || !File.ReadAllBytes(sigPath).AsSpan().SequenceEqual(signature))
            {
                return null;
            }

            if (!File.Exists(summaryPath))
            {
                File.Delete(sigPath);
                return null;
            }

            return File.ReadAllBytes(summaryPath);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Removes the cached summaries of remotes the repository no longer has (prune does this, as libostree's).</summary>
    public static void RemoveStale(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var dir = Path.Combine(repo.Path, "tmp", "cache", "summaries");
        if (Environment.GetEnvironmentVariable("OSTREE_SKIP_CACHE") is not null || !Directory.Exists(dir))
        {
            return;
        }

        var remotes = repo.ListRemotes().ToHashSet(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFileSystemEntries(dir))
        {
            var name = Path.GetFileName(file);
            var remote = name.Length > 4 && name.EndsWith(".sig", StringComparison.Ordinal) ? name[..^4] : name;
            if (!remotes.Contains(remote))
            {
                FileUtil.DeleteAny(file);
            }
        }
    }

    /// <summary>Keeps a summary and its signature (checked by the caller) for the next pull of <paramref name="remote"/>.</summary>
    public static void Store(OstreeRepo repo, string remote, string url, byte[] summary, byte[] signature, string? cacheDir = null)
    {
        ArgumentNullException.ThrowIfNull(repo);
        if (Folder(repo, remote, url, cacheDir) is not { } dir)
        {
            return;
        }

        Directory.CreateDirectory(dir);
        FileUtil.WriteAtomic(Path.Combine(dir, remote), summary, fsync: repo.Fsync);
        FileUtil.WriteAtomic(Path.Combine(dir, remote + ".sig"), signature, fsync: repo.Fsync);
    }
}
