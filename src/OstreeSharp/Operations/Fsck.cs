// fsck: re-hash every object and check that every commit's tree is complete.
using System.Collections.Concurrent;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>One problem fsck found.</summary>
public sealed record FsckProblem(Checksum Checksum, ObjectType Type, string Kind, string Message, string? TreePath, string? Commit)
{
    /// <summary>
    /// The problem in libostree's words (<c>In commits C: ID.TYPE: MESSAGE</c>, <c>Object missing in commits C:
    /// ID.TYPE</c>), followed by the path in the commit's tree where it was found.
    /// </summary>
    public override string ToString()
    {
        var where = TreePath is null ? string.Empty : $" (path {TreePath})";
        return Kind == "Missing"
            ? (Commit is null ? $"Object missing: {Checksum}.{Type.ToName()}{where}" : $"Object missing in commits {Commit}: {Checksum}.{Type.ToName()}{where}")
            : $"{(Commit is null ? string.Empty : $"In commits {Commit}: ")}{Checksum}.{Type.ToName()}: {Message}{where}";
    }
}

/// <summary>Result of fsck.</summary>
/// <param name="Commits">The commits whose trees were verified (partial commits are not).</param>
/// <param name="Objects">The objects hashed.</param>
/// <param name="Problems">Corrupt and missing objects.</param>
/// <param name="Deleted">Corrupt objects removed (<c>--delete</c>).</param>
public sealed record FsckResult(int Commits, int Objects, IReadOnlyList<FsckProblem> Problems, int Deleted)
{
    /// <summary>Refs that name no commit here (garbage in the ref file, or a missing commit), in ostree's words.</summary>
    public IReadOnlyList<string> RefProblems { get; init; } = [];

    /// <summary>Commits marked partial before this run, whose trees were not verified.</summary>
    public int PartialCommits { get; init; }

    /// <summary>Of those, the commits an earlier fsck marked partial: the repository stays in error until they are pulled again.</summary>
    public int FsckPartialCommits { get; init; }

    /// <summary>Commits this run marked partial because part of their tree is missing or was deleted.</summary>
    public IReadOnlyList<Checksum> MarkedPartial { get; init; } = [];
}

/// <summary>Verifies a repository.</summary>
public static class Fsck
{
    /// <summary>
    /// <c>fsck --verify-bindings</c>: every ref's commit names that ref in its <c>ostree.ref-binding</c> (when it has
    /// bindings at all); with <paramref name="backRefs"/> (<c>--verify-back-refs</c>), every ref a commit binds
    /// resolves back to that commit.
    /// </summary>
    /// <exception cref="OstreeException">The first binding that does not hold, in libostree's words.</exception>
    public static void VerifyBindings(OstreeRepo repo, bool backRefs)
    {
        ArgumentNullException.ThrowIfNull(repo);
        Commit Load(Checksum checksum, string what)
        {
            try
            {
                return repo.LoadCommit(checksum);
            }
            catch (OstreeException e)
            {
                throw new OstreeException(OstreeErrorCodes.Of(e, OstreeErrorCode.Failed), $"Loading commit for ref {what}: {e.Message}", e);
            }
        }

        // Each ref's commit must name the ref, and a collection ref's commit its collection too.
        foreach (var (refspec, checksum) in repo.ListRefs())
        {
            var name = OstreeRepo.ParseRefspec(refspec).Ref;
            CommitBindings.Verify(checksum, Load(checksum, name), name, null);
        }

        foreach (var ((collection, name), checksum) in repo.ListCollectionRefs(excludeRemotes: true))
        {
            CommitBindings.Verify(checksum, Load(checksum, $"({collection}, {name})"), name, collection);
        }

        if (!backRefs)
        {
            return;
        }

        // And every ref a commit binds to must exist and point back at it.
        foreach (var (c, type) in repo.EnumerateObjects())
        {
            if (type != ObjectType.Commit)
            {
                continue;
            }

            var metadata = repo.LoadCommit(c).Metadata;
            if (metadata.Lookup("ostree.ref-binding") is not { Type.Text: "as" } binding)
            {
                continue;
            }

            var collection = metadata.Lookup("ostree.collection-binding") is { Type.Text: "s" } cb ? cb.GetString() : null;
            foreach (var name in binding.GetChildren().Select(v => v.GetString()))
            {
                var what = collection is null ? $"Ref \u2018{name}\u2019" : $"Collection\u2013ref ({collection}, {name})";
                Checksum? target = collection is null
                    ? repo.ResolveRev(name, allowMissing: true)
                    : repo.ListCollectionRefs(collection).TryGetValue((collection, name), out var t) ? t : null;
                if (target is null)
                {
                    throw new OstreeException(OstreeErrorCode.CommitBindingMismatch, $"{what} in bindings for commit {c} does not exist");
                }

                if (target != c)
                {
                    throw new OstreeException(OstreeErrorCode.CommitBindingMismatch, $"{what} in bindings for commit {c} does not resolve to that commit");
                }
            }
        }
    }

    /// <summary>
    /// <c>fsck --add-tombstones</c>, as libostree does it: each commit whose parent is not stored is itself deleted and
    /// replaced by a tombstone (turning <c>core.tombstone-commits</c> on). Returns those commits.
    /// </summary>
    public static IReadOnlyList<Checksum> AddTombstones(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var orphans = repo.EnumerateObjects()
            .Where(o => o.Type == ObjectType.Commit && repo.LoadCommit(o.Checksum).Parent is { } p && !repo.HasObject(p, ObjectType.Commit))
            .Select(o => o.Checksum).ToList();
        if (orphans.Count > 0)
        {
            Prune.EnableTombstones(repo);
        }

        foreach (var c in orphans)
        {
            Prune.DeleteCommit(repo, c);
        }

        return orphans;
    }

    /// <summary>Re-hashes every object, walks every commit; with <paramref name="delete"/> removes corrupt objects.</summary>
    public static FsckResult Run(OstreeRepo repo, bool delete, IProgress<TreeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var objects = repo.EnumerateObjects().ToList();
        var problems = new ConcurrentBag<FsckProblem>();
        var corrupt = new ConcurrentDictionary<(Checksum, ObjectType), string>();
        long done = 0;
        var po = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        Parallel.ForEach(objects, po, o =>
        {
            var err = Verify(repo, o.Checksum, o.Type);
            if (err is not null)
            {
                corrupt[(o.Checksum, o.Type)] = err;
            }

            long d = Interlocked.Increment(ref done);
            if (progress is not null && (d % 512 == 0 || d == objects.Count))
            {
                progress.Report(new TreeProgress(d, objects.Count, 0, 0));
            }
        });

        // As libostree, partial commits are counted, not walked: their trees are incomplete on purpose.
        var allCommits = objects.Where(o => o.Type == ObjectType.Commit).Select(o => o.Checksum).ToList();
        var partialCommits = allCommits.Where(repo.IsCommitPartial).ToList();
        int fsckPartial = partialCommits.Count(repo.IsCommitFsckPartial);
        var commits = allCommits.Except(partialCommits).ToList();
        var located = new HashSet<(Checksum, ObjectType)>();
        var markPartial = new SortedSet<Checksum>();
        foreach (var c in commits)
        {
            if (corrupt.ContainsKey((c, ObjectType.Commit)))
            {
                continue;
            }

            var commit = repo.LoadCommit(c);
            var seen = new HashSet<(Checksum, ObjectType)>();
            Reachability.WalkCommitTree(repo, commit, seen,
                r =>
                {
                    if (corrupt.TryGetValue((r.Checksum, r.Type), out var msg))
                    {
                        if (located.Add((r.Checksum, r.Type)))
                        {
                            problems.Add(new FsckProblem(r.Checksum, r.Type, "Corrupted", msg, r.Path, c.ToHex()));
                        }

                        if (delete)
                        {
                            markPartial.Add(c); // its object is deleted below
                        }
                    }
                },
                r =>
                {
                    problems.Add(new FsckProblem(r.Checksum, r.Type, "Missing", "not found", r.Path, c.ToHex()));
                    markPartial.Add(c);
                },
                _ => { }); // found corrupt by the object pass and reported through the visitor
        }

        foreach (var ((c, t), msg) in corrupt)
        {
            if (!located.Contains((c, t)))
            {
                problems.Add(new FsckProblem(c, t, "Corrupted", msg, null, null));
            }
        }

        int deleted = 0;
        if (delete)
        {
            foreach (var (c, t) in corrupt.Keys)
            {
                File.Delete(repo.ObjectPath(c, t));
                deleted++;
            }
        }

        // As libostree: a commit whose tree lost an object is marked partial, so that a later pull fetches it again
        // and fsck keeps failing until then.
        foreach (var c in markPartial)
        {
            repo.MarkCommitPartial(c, byFsck: true);
        }

        var ordered = problems.OrderBy(p => p.Kind, StringComparer.Ordinal).ThenBy(p => p.Checksum).ThenBy(p => p.Type).ToList();
        return new FsckResult(commits.Count, objects.Count, ordered, deleted)
        {
            RefProblems = CheckRefs(repo),
            PartialCommits = partialCommits.Count,
            FsckPartialCommits = fsckPartial,
            MarkedPartial = [.. markPartial],
        };
    }

    // Every ref file (local, remote, mirrored) must hold the id of a commit this repository has; ostree words the
    // failure "Loading commit for ref NAME: No such metadata object CONTENT.commit", with the ref's own name only.
    private static List<string> CheckRefs(OstreeRepo repo)
    {
        var refs = Path.Combine(repo.Path, "refs");
        var found = new List<(string Path, string Problem)>();
        foreach (var top in new[] { "heads", "remotes", "mirrors" })
        {
            foreach (var (file, name) in OstreeRepo.EnumerateRefFiles(Path.Combine(refs, top)))
            {
                // Remote and mirror refs are named without their remote (or collection) folder, as ostree names them.
                var parts = name.Split('/');
                var rel = string.Join('/', top == "heads" ? parts : parts[1..]);

                string text;
                try
                {
                    text = File.ReadAllText(file).Trim();
                }
                catch (IOException e)
                {
                    found.Add((file, $"Loading commit for ref {rel}: {e.Message}"));
                    continue;
                }

                if (!Checksum.TryParse(text, out var c) || !repo.HasObject(c, ObjectType.Commit))
                {
                    var shown = text.Length > 80 ? text[..80] + "..." : text;
                    shown = new string(shown.Select(ch => char.IsControl(ch) ? '?' : ch).ToArray());
                    found.Add((file, $"Loading commit for ref {rel}: No such metadata object {shown}.commit"));
                }
            }
        }

        return found.OrderBy(f => f.Path, StringComparer.Ordinal).Select(f => f.Problem).ToList();
    }

    /// <summary>Verifies one object; returns the problem or null.</summary>
    public static string? Verify(OstreeRepo repo, Checksum checksum, ObjectType type)
    {
        try
        {
            switch (type)
            {
                case ObjectType.Commit:
                    repo.LoadCommit(checksum);
                    break;
                case ObjectType.DirTree:
                    repo.LoadDirTree(checksum);
                    break;
                case ObjectType.DirMeta:
                    repo.LoadDirMeta(checksum);
                    break;
                case ObjectType.CommitMeta or ObjectType.TombstoneCommit:
                    GVariant.GVariantValue.Parse(GVariant.GVariantType.VarDict, repo.ReadMetadataBytes(type, checksum));
                    break;
                case ObjectType.File:
                    {
                        var obj = repo.LoadContent(checksum);
                        Checksum actual;
                        using (var data = obj.OpenData())
                        {
                            actual = obj.Header.ComputeChecksum(data);
                        }

                        if (actual != checksum)
                        {
                            return $"Corrupted file object; checksum expected='{checksum}' actual='{actual}'";
                        }

                        break;
                    }
            }

            return null;
        }
        catch (ObjectCorruptedException e)
        {
            return e.Detail;
        }
        catch (OstreeException e)
        {
            return e.Message;
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }
}
