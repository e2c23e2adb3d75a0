// fsck: re-hash every object and check that every commit's tree is complete.
using System.Collections.Concurrent;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>One problem fsck found.</summary>
public sealed record FsckProblem(Checksum Checksum, ObjectType Type, string Kind, string Message, string? TreePath, string? Commit)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Kind} object {Checksum}.{Type.ToName()}{(TreePath is null ? string.Empty : $" (path {TreePath}")}{(Commit is null ? string.Empty : $" in commit {Commit}")}{(TreePath is null ? string.Empty : ")")}: {Message}";
}

/// <summary>Result of fsck.</summary>
public sealed record FsckResult(int Commits, int Objects, IReadOnlyList<FsckProblem> Problems, int Deleted)
{
    /// <summary>Refs that name no commit here (garbage in the ref file, or a missing commit), in ostree's words.</summary>
    public IReadOnlyList<string> RefProblems { get; init; } = [];
}

/// <summary>Verifies a repository.</summary>
public static class Fsck
{
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

        var commits = objects.Where(o => o.Type == ObjectType.Commit).Select(o => o.Checksum).ToList();
        var located = new HashSet<(Checksum, ObjectType)>();
        foreach (var c in commits)
        {
            if (corrupt.ContainsKey((c, ObjectType.Commit)))
            {
                continue;
            }

            var commit = repo.LoadCommit(c);
            bool partial = repo.IsCommitPartial(c);
            var seen = new HashSet<(Checksum, ObjectType)>();
            Reachability.WalkCommitTree(repo, commit, seen,
                r =>
                {
                    if (corrupt.TryGetValue((r.Checksum, r.Type), out var msg) && located.Add((r.Checksum, r.Type)))
                    {
                        problems.Add(new FsckProblem(r.Checksum, r.Type, "Corrupted", msg, r.Path, c.ToHex()));
                    }
                },
                r =>
                {
                    if (!partial)
                    {
                        problems.Add(new FsckProblem(r.Checksum, r.Type, "Missing", "not found", r.Path, c.ToHex()));
                    }
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

        var ordered = problems.OrderBy(p => p.Kind, StringComparer.Ordinal).ThenBy(p => p.Checksum).ThenBy(p => p.Type).ToList();
        return new FsckResult(commits.Count, objects.Count, ordered, deleted) { RefProblems = CheckRefs(repo) };
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
            return e.Message[(e.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..];
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
