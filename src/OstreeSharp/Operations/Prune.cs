// prune: delete objects no ref (or, by default, no commit) reaches.
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Operations;

/// <summary>Options of prune, named as the ostree CLI names them.</summary>
public sealed record PruneOptions
{
    /// <summary>Only keep what refs reach (<c>--refs-only</c>); otherwise every commit is a root.</summary>
    public bool RefsOnly { get; init; }

    /// <summary>How many parents to keep from each ref (-1: all).</summary>
    public int Depth { get; init; } = -1;

    /// <summary>
    /// Keep of each ref its commit and the ancestors at least this recent, and no older ones (<c>--keep-younger-than</c>;
    /// implies <see cref="RefsOnly"/>).
    /// </summary>
    public DateTimeOffset? KeepYoungerThan { get; init; }

    /// <summary>How many parents to keep for these refs (<c>--retain-branch-depth=REF=DEPTH</c>; implies <see cref="RefsOnly"/>).</summary>
    public IReadOnlyDictionary<string, int> RetainBranchDepth { get; init; } = new Dictionary<string, int>();

    /// <summary>Prune only the history of these refs; every other ref keeps all of its history (<c>--only-branch</c>).</summary>
    public IReadOnlyList<string> OnlyBranches { get; init; } = [];

    /// <summary>
    /// With <see cref="DeleteCommits"/>: delete the static deltas to those commits instead of the commits
    /// (<c>--static-deltas-only</c>).
    /// </summary>
    public bool StaticDeltasOnly { get; init; }

    /// <summary>Only commits are looked at and deleted; other objects stay (<c>--commit-only</c>).</summary>
    public bool CommitOnly { get; init; }

    /// <summary>Only report (<c>--no-prune</c>).</summary>
    public bool DryRun { get; init; }

    /// <summary>Commits to delete outright (<c>--delete-commit</c>).</summary>
    public IReadOnlyList<Checksum> DeleteCommits { get; init; } = [];

    /// <summary>Extra roots that must be kept whatever refs say (e.g. deployments), with <see cref="Depth"/> parents.</summary>
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
        ArgumentNullException.ThrowIfNull(options);
        if (options.StaticDeltasOnly && options.DeleteCommits.Count == 0)
        {
            throw new ArgumentException($"{nameof(PruneOptions)}.{nameof(PruneOptions.StaticDeltasOnly)} needs {nameof(PruneOptions)}.{nameof(PruneOptions.DeleteCommits)}", nameof(options));
        }

        using var _ = repo.Lock(exclusive: true);

        foreach (var c in options.DeleteCommits)
        {
            if (options.StaticDeltasOnly)
            {
                foreach (var d in Deltas.StaticDeltas.List(repo).Where(d => d.To == c))
                {
                    Deltas.StaticDeltas.Delete(repo, d);
                }

                continue;
            }

            // libostree's check and words; deleting a commit turns tombstones on, so a pull does not fetch it again.
            if (repo.ListRefs(includeMirrors: true).FirstOrDefault(r => r.Value == c) is { Key: { } referencing })
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Commit '{c}' is referenced by '{referencing}'");
            }

            if (!options.DryRun)
            {
                EnableTombstones(repo);
                DeleteCommit(repo, c);
            }
        }

        var objects = repo.EnumerateObjects().ToList();
        var all = options.CommitOnly ? objects.Where(o => o.Type is ObjectType.Commit or ObjectType.CommitMeta).ToList() : objects;
        var commitSet = objects.Where(o => o.Type == ObjectType.Commit).Select(o => o.Checksum).ToHashSet();
        var keepCommits = new HashSet<Checksum>();
        void KeepChain(Checksum head, int maxDepth)
        {
            var c = (Checksum?)head;
            for (int depth = 0; c is { } cc && (maxDepth < 0 || depth <= maxDepth) && commitSet.Contains(cc); depth++)
            {
                keepCommits.Add(cc);
                c = repo.LoadCommit(cc).Parent;
            }
        }

        var refs = repo.ListRefs(includeMirrors: true);
        if (options.KeepYoungerThan is null && options.RetainBranchDepth.Count == 0 && options.OnlyBranches.Count == 0)
        {
            foreach (var head in refs.Values)
            {
                KeepChain(head, options.Depth);
            }

            if (!options.RefsOnly)
            {
                keepCommits.UnionWith(commitSet);
            }
        }
        else
        {
            // As libostree: per ref, its own depth, else the age limit, else the global depth.
            var retain = new Dictionary<string, int>(options.RetainBranchDepth, StringComparer.Ordinal);
            if (options.OnlyBranches.Count > 0)
            {
                foreach (var name in refs.Keys.Where(r => !options.OnlyBranches.Contains(r) && !retain.ContainsKey(r)))
                {
                    retain[name] = -1;
                }
            }

            foreach (var (name, head) in refs)
            {
                if (retain.TryGetValue(name, out var d))
                {
                    KeepChain(head, d);
                }
                else if (options.KeepYoungerThan is { } limit)
                {
                    // The ref's own commit always stays; then each ancestor while it is at least as recent.
                    KeepChain(head, 0);
                    for (Checksum? c = head; c is { } cc && commitSet.Contains(cc); )
                    {
                        var commit = repo.LoadCommit(cc);
                        if (commit.Time < limit)
                        {
                            break;
                        }

                        keepCommits.Add(cc);
                        c = commit.Parent;
                    }
                }
                else
                {
                    KeepChain(head, options.Depth);
                }
            }
        }

        foreach (var root in options.ExtraRoots)
        {
            KeepChain(root, options.Depth);
        }

        if (!options.StaticDeltasOnly)
        {
            keepCommits.ExceptWith(options.DeleteCommits);
        }
        var reachable = new HashSet<(Checksum, ObjectType)>();
        foreach (var c in keepCommits)
        {
            reachable.Add((c, ObjectType.Commit));
            reachable.Add((c, ObjectType.CommitMeta));
            // Missing objects (partial commits) are simply not there to keep.
            if (!options.CommitOnly)
            {
                Reachability.WalkCommitTree(repo, repo.LoadCommit(c), reachable, _ => { }, _ => { });
            }
        }

        int deleted = 0;
        long freed = 0;
        bool tombstones = repo.Config.GetBoolean("core", "tombstone-commits", false);
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
            freed += Native.TryLStat(path, out var st) ? (long)st.Size : 0;
            deleted++;
            if (!options.DryRun)
            {
                if (t == ObjectType.Commit && tombstones)
                {
                    WriteTombstone(repo, c);
                }

                File.Delete(path);
            }
        }

        if (!options.DryRun)
        {
            SummaryCache.RemoveStale(repo);

            // As libostree: deltas to commits no longer kept go too.
            foreach (var d in Deltas.StaticDeltas.List(repo).Where(d => !repo.HasObject(d.To, ObjectType.Commit)))
            {
                Deltas.StaticDeltas.Delete(repo, d);
            }
        }

        return new PruneResult(all.Count, deleted, freed);
    }

    internal static void DeleteCommit(OstreeRepo repo, Checksum c)
    {
        if (!repo.HasObject(c, ObjectType.Commit))
        {
            throw new ObjectNotFoundException($"No such commit {c}");
        }

        if (repo.Config.GetBoolean("core", "tombstone-commits", false))
        {
            WriteTombstone(repo, c);
        }

        File.Delete(repo.ObjectPath(c, ObjectType.Commit));
        File.Delete(repo.ObjectPath(c, ObjectType.CommitMeta));
    }

    /// <summary>Turns <c>core.tombstone-commits</c> on (written to the config only when it was off), as libostree does before deleting a commit.</summary>
    internal static void EnableTombstones(OstreeRepo repo)
    {
        if (!repo.Config.GetBoolean("core", "tombstone-commits", false))
        {
            repo.Config.Set("core", "tombstone-commits", "true");
            repo.SaveConfig();
        }
    }

    // A deleted commit's tombstone (core.tombstone-commits): {'commit': <checksum as a byte string>}.
    private static void WriteTombstone(OstreeRepo repo, Checksum c)
    {
        var tomb = GVariant.GVariantValue.FromVarDict([new("commit", GVariant.GVariantValue.FromByteString(c.ToHex()))]);
        FileUtil.WriteAtomic(repo.ObjectPath(c, ObjectType.TombstoneCommit), tomb.ToBytes(), repo.Fsync);
    }
}
