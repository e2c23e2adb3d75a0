// Checking out a commit to a directory: copies or hardlinks to objects, as `ostree checkout` does.
using OstreeSharp.Objects;
using OstreeSharp.Platform;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>What to do when a file already exists at the destination.</summary>
public enum CheckoutOverwrite
{
    /// <summary>Fail.</summary>
    None,

    /// <summary>Replace existing files (<c>--union</c>).</summary>
    UnionFiles,

    /// <summary>Keep existing files, add new ones (<c>--union-add</c>).</summary>
    AddFiles,
}

/// <summary>Options of a checkout.</summary>
public sealed class CheckoutOptions
{
    /// <summary>User mode (<c>-U</c>): no ownership, no xattrs, no setuid bits.</summary>
    public bool UserMode { get; init; }

    /// <summary>Existing files policy.</summary>
    public CheckoutOverwrite Overwrite { get; init; }

    /// <summary>Only this path of the commit.</summary>
    public string? Subpath { get; init; }

    /// <summary>Fail rather than copy when a hardlink is impossible (<c>-H</c>).</summary>
    public bool RequireHardlinks { get; init; }

    /// <summary>Never hardlink (<c>--force-copy</c>).</summary>
    public bool ForceCopy { get; init; }

    /// <summary>Degree of parallelism.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>Checks out trees from a repository.</summary>
public sealed class Checkout(OstreeRepo repo, CheckoutOptions options)
{
    private readonly bool _asRoot = Native.EffectiveUid == 0;
    private readonly Dictionary<Checksum, DirMeta> _metaCache = [];

    private sealed record DirFinish(string Path, DirMeta Meta, bool Created);

    /// <summary>Checks out commit <paramref name="commit"/> into <paramref name="destination"/>.</summary>
    public void Run(Checksum commit, string destination, CancellationToken cancellationToken = default)
    {
        var c = repo.LoadCommit(commit);
        var (kind, tree, meta, file) = ResolveSubpath(c, options.Subpath ?? "/");
        if (kind == 'f')
        {
            var jobsOne = new List<(string, Checksum)> { (destination, file) };
            RunFiles(jobsOne, cancellationToken);
            return;
        }

        var finish = new List<DirFinish>();
        var jobs = new List<(string Path, Checksum Content)>();
        MakeDir(destination, LoadMeta(meta), finish);
        Walk(tree, destination, finish, jobs, cancellationToken);
        RunFiles(jobs, cancellationToken);
        for (int i = finish.Count - 1; i >= 0; i--)
        {
            ApplyDirMeta(finish[i]);
        }
    }

    private (char Kind, Checksum Tree, Checksum Meta, Checksum File) ResolveSubpath(Commit c, string subpath)
    {
        Checksum tree = c.RootTree, meta = c.RootMeta;
        var parts = subpath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            var t = repo.LoadDirTree(tree);
            var d = t.Dirs.FirstOrDefault(x => x.Name == parts[i]);
            if (d is not null)
            {
                tree = d.TreeChecksum;
                meta = d.MetaChecksum;
                continue;
            }

            var f = t.Files.FirstOrDefault(x => x.Name == parts[i]);
            if (f is not null && i == parts.Length - 1)
            {
                return ('f', default, default, f.Checksum);
            }

            throw new ObjectNotFoundException($"No such file or directory: {subpath}");
        }

        return ('d', tree, meta, default);
    }

    private DirMeta LoadMeta(Checksum c)
    {
        lock (_metaCache)
        {
            if (!_metaCache.TryGetValue(c, out var m))
            {
                m = repo.LoadDirMeta(c);
                _metaCache[c] = m;
            }

            return m;
        }
    }

    private void MakeDir(string path, DirMeta meta, List<DirFinish> finish)
    {
        bool created = true;
        if (Native.TryLStat(path, out var st))
        {
            if (st.Type != UnixMode.Directory)
            {
                if (options.Overwrite == CheckoutOverwrite.None)
                {
                    throw new OstreeException($"{path}: File exists");
                }

                File.Delete(path);
                Directory.CreateDirectory(path);
            }
            else if (options.Overwrite == CheckoutOverwrite.None)
            {
                throw new OstreeException($"{path}: File exists");
            }
            else
            {
                created = false;
            }
        }
        else
        {
            Directory.CreateDirectory(path);
        }

        finish.Add(new DirFinish(path, meta, created));
    }

    private void Walk(Checksum treeId, string dest, List<DirFinish> finish, List<(string, Checksum)> jobs, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var tree = repo.LoadDirTree(treeId);
        foreach (var f in tree.Files)
        {
            jobs.Add((Path.Combine(dest, f.Name), f.Checksum));
        }

        foreach (var d in tree.Dirs)
        {
            var sub = Path.Combine(dest, d.Name);
            MakeDir(sub, LoadMeta(d.MetaChecksum), finish);
            Walk(d.TreeChecksum, sub, finish, jobs, ct);
        }
    }

    private void ApplyDirMeta(DirFinish d)
    {
        if (!d.Created && options.Overwrite != CheckoutOverwrite.None)
        {
            return;
        }

        if (!options.UserMode)
        {
            if (_asRoot)
            {
                Native.LChown(d.Path, d.Meta.Uid, d.Meta.Gid);
            }

            foreach (var x in d.Meta.Xattrs.Items)
            {
                Native.SetXattr(d.Path, x.NameString, x.Value);
            }
        }

        Native.Chmod(d.Path, options.UserMode ? d.Meta.Mode & 0x3FF : d.Meta.Mode);
    }

    private bool CanHardlink => !options.ForceCopy && repo.Mode switch
    {
        RepoMode.Archive => false,
        RepoMode.BareUser => options.UserMode,
        RepoMode.Bare => true,
        _ => true,
    };

    private void RunFiles(List<(string Path, Checksum Content)> jobs, CancellationToken ct)
    {
        if (options.RequireHardlinks && !CanHardlink)
        {
            throw new OstreeException($"Hardlinks are not possible from a {repo.Mode.ToConfigName()} repository {(repo.Mode == RepoMode.BareUser ? "without -U" : string.Empty)}".TrimEnd());
        }

        var po = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallelism), CancellationToken = ct };
        Parallel.ForEach(jobs, po, j => CheckoutFile(j.Path, j.Content));
    }

    private void CheckoutFile(string dest, Checksum checksum)
    {
        if (Native.TryLStat(dest, out var existing))
        {
            switch (options.Overwrite)
            {
                case CheckoutOverwrite.AddFiles:
                    return;
                case CheckoutOverwrite.UnionFiles when existing.Type != UnixMode.Directory:
                    File.Delete(dest);
                    break;
                default:
                    throw new OstreeException($"{dest}: File exists");
            }
        }

        var obj = repo.LoadContent(checksum);
        var h = obj.Header;
        bool linkable = CanHardlink && !(h.IsSymlink && repo.Mode == RepoMode.BareUser);
        if (linkable && !h.IsSymlink)
        {
            int errno = Native.LinkErrno(obj.Path, dest);
            if (errno == 0)
            {
                return;
            }

            if (options.RequireHardlinks || errno is not (18 or 31 or 1))
            {
                throw new IOException($"link {obj.Path} to {dest}: errno {errno}");
            }
        }

        if (h.IsSymlink)
        {
            Native.Symlink(h.SymlinkTarget, dest);
            if (!options.UserMode)
            {
                if (_asRoot)
                {
                    Native.LChown(dest, h.Uid, h.Gid);
                }

                SetXattrs(dest, h.Xattrs);
            }

            return;
        }

        using (var input = obj.OpenData())
        using (var output = new FileStream(dest, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            input.CopyTo(output, 1 << 16);
        }

        if (!options.UserMode)
        {
            if (_asRoot)
            {
                Native.LChown(dest, h.Uid, h.Gid);
            }

            SetXattrs(dest, h.Xattrs);
            Native.Chmod(dest, h.Mode);
        }
        else
        {
            Native.Chmod(dest, h.Mode & 0x3FF);
        }
    }

    private static void SetXattrs(string path, Xattrs xattrs)
    {
        foreach (var x in xattrs.Items)
        {
            Native.SetXattr(path, x.NameString, x.Value);
        }
    }
}
