// pull-local: copy commits and their objects from another repository, verifying every object.
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>Copies commits between local repositories of any modes.</summary>
public static class PullLocal
{
    /// <summary>Copies <paramref name="refs"/> (all refs when empty) from <paramref name="source"/>; returns objects copied.</summary>
    public static int Run(OstreeRepo source, OstreeRepo dest, IReadOnlyList<string> refs, string? remote, int depth = 0, IProgress<TreeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var wanted = refs.Count == 0
            ? source.ListRefs(includeRemotes: false).Select(kv => (Name: kv.Key, Commit: kv.Value)).ToList()
            : refs.Select(r => (Name: r, Commit: source.Resolve(r))).ToList();
        using var tx = dest.BeginTransaction();
        int copied = 0;
        var seen = new HashSet<(Checksum, ObjectType)>();
        foreach (var (name, commit) in wanted)
        {
            Checksum? c = commit;
            for (int d = 0; c is { } cc && (depth < 0 || d <= depth); d++)
            {
                if (!source.HasObject(cc, ObjectType.Commit))
                {
                    break;
                }

                var bytes = source.ReadMetadataBytes(ObjectType.Commit, cc);
                Commit parsed;
                try
                {
                    parsed = Commit.Parse(bytes);
                }
                catch (OstreeFormatException e)
                {
                    throw new ObjectCorruptedException($"{cc}.commit", e.Message, e);
                }

                var contents = new List<Checksum>();
                Reachability.WalkCommitTree(source, parsed, seen, r =>
                {
                    if (tx.HasObject(r.Checksum, r.Type))
                    {
                        return;
                    }

                    if (r.Type == ObjectType.File)
                    {
                        contents.Add(r.Checksum);
                    }
                    else
                    {
                        tx.WriteMetadataTrusted(r.Type, r.Checksum, source.ReadMetadataBytes(r.Type, r.Checksum));
                        copied++;
                    }
                });
                long done = 0;
                Parallel.ForEach(contents, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, cs =>
                {
                    var obj = source.LoadContent(cs);
                    using var data = obj.OpenData();
                    tx.WriteContent(obj.Header, data, obj.Size, cs);
                    long n = Interlocked.Increment(ref done);
                    if (progress is not null && n % 256 == 0)
                    {
                        progress.Report(new TreeProgress(n, contents.Count, 0, 0));
                    }
                });
                copied += contents.Count;
                if (!tx.HasObject(cc, ObjectType.Commit))
                {
                    tx.WriteMetadataTrusted(ObjectType.Commit, cc, bytes);
                    copied++;
                }

                if (source.LoadDetachedMetadata(cc) is { } meta)
                {
                    tx.WriteCommitDetachedMetadata(cc, meta);
                }

                c = parsed.Parent;
            }

            tx.SetRef(remote is null ? name : $"{remote}:{name}", commit);
        }

        tx.Commit();
        return copied;
    }
}
