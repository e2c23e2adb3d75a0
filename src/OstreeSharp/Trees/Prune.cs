// prune: delete objects no ref (or, by default, no commit) reaches.
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>Options of prune, named as the ostree CLI names them.</summary>
public sealed class PruneOptions
{
    /// <summary>Only keep what refs reach (<c>--refs-only</c>); otherwise every commit is a root.</summary>
    public bool RefsOnly { get; init; }

    /// <summary>How many parents to keep from each ref (-1: all).</summary>
    public int Depth { get; init; } = -1;

    /// <summary>Also keep commits newer than this (<c>--keep-younger-than</c>).</summary>
    public DateTimeOffset? KeepYoungerThan { get; init; }

    /// <summary>Only report (<c>--no-prune</c>).</summary>
    public bool DryRun { get; init; }

    /// <summary>Commits to delete outright (<c>--delete-commit</c>).</summary>
    public IReadOnlyList<Checksum> DeleteCommits { get; init; } = [];

    /// <summary>Extra roots that must be kept whatever refs say (e.g. deployments).</summary>
    public IReadOnlyList<Checksum> ExtraRoots { get; init; } = [];
}

/// <summary>Result of prune.</summary>
public sealed record PruneResult(int TotalObjects, int Deleted, long BytesFreed);

/// <summary>Deletes unreachable objects.</summary>
public static class Prune
{
    /// <summary>Runs prune under an exclusive repository lock.</summary>
    public static PruneResult Run(OstreeRepo repo, PruneOptions options)
    {
        using var _ = repo.Lock(exclusive: true);
        foreach (var c in options.DeleteCommits)
        {
            if (repo.ListRefs(includeMirrors: true).Any(r => r.Value == c))
            {
                throw new OstreeException($"Commit {c} is referenced by a ref; delete the ref first");
            }

            if (!options.DryRun)
            {
                DeleteCommit(repo, c);
            }
        }

        var all = repo.EnumerateObjects().ToList();
        var commitSet = all.Where(o => o.Type == ObjectType.Commit).Select(o => o.Checksum).ToHashSet();
        var keepCommits = new HashSet<Checksum>();
        foreach (var root in repo.ListRefs(includeMirrors: true).Values.Concat(options.ExtraRoots))
        {
            var c = (Checksum?)root;
            for (int depth = 0; c is { } cc && (options.Depth < 0 || depth <= options.Depth) && commitSet.Contains(cc); depth++)
            {
                if (!keepCommits.Add(cc))
                {
                    break;
                }

                c = repo.LoadCommit(cc).Parent;
            }
        }

        foreach (var c in commitSet)
        {
            if (!options.RefsOnly || (options.KeepYoungerThan is { } t && repo.LoadCommit(c).Time > t))
            {
                keepCommits.Add(c);
            }
        }

        keepCommits.ExceptWith(options.DeleteCommits);
        var reachable = new HashSet<(Checksum, ObjectType)>();
        foreach (var c in keepCommits)
        {
            reachable.Add((c, ObjectType.Commit));
            reachable.Add((c, ObjectType.CommitMeta));
            // Missing objects (partial commits) are simply not there to keep.
            Reachability.WalkCommitTree(repo, repo.LoadCommit(c), reachable, _ => { }, _ => { });
        }

        int deleted = 0;
        long freed = 0;
        foreach (var (c, t) in all)
        {
            if (t == ObjectType.TombstoneCommit || reachable.Contains((c, t)))
            {
                continue;
            }

            if (t == ObjectType.CommitMeta && keepCommits.Contains(c))
            {
                continue;
            }

            var path = repo.ObjectPath(c, t);
            freed += Platform.Native.TryLStat(path, out var st) ? (long)st.Size : 0;
            deleted++;
            if (!options.DryRun)
            {
                File.Delete(path);
            }
        }

        return new PruneResult(all.Count, deleted, freed);
    }

    private static void DeleteCommit(OstreeRepo repo, Checksum c)
    {
        if (!repo.HasObject(c, ObjectType.Commit))
        {
            throw new ObjectNotFoundException($"No such commit {c}");
        }

        if (repo.Config.GetBoolean("core", "tombstone-commits", false))
        {
            var tomb = GVariant.GVariantValue.FromVarDict([new("commit", GVariant.GVariantValue.FromByteString(c.ToHex()))]);
            FileUtil.WriteAtomic(repo.ObjectPath(c, ObjectType.TombstoneCommit), tomb.ToBytes(), repo.Fsync);
        }

        File.Delete(repo.ObjectPath(c, ObjectType.Commit));
        File.Delete(repo.ObjectPath(c, ObjectType.CommitMeta));
    }

    /// <summary>GLib's <c>g_format_size</c>: decimal units with one decimal.</summary>
    public static string FormatSize(long bytes) => bytes switch
    {
        1 => "1 byte",
        < 1000 => $"{bytes} bytes",
        < 1000 * 1000 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1000.0:0.0} kB"),
        < 1000L * 1000 * 1000 => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1e6:0.0} MB"),
        _ => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes / 1e9:0.0} GB"),
    };
}
