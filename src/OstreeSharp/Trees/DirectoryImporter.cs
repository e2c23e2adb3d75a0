// Importing a directory into a MutableTree: the tree walk, then content objects written in
// parallel (hashing and, in archive mode, compression on every core), then dirtrees bottom-up.
using System.Collections.Concurrent;
using OstreeSharp.Objects;
using OstreeSharp.Platform;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>Progress of a long tree operation.</summary>
public readonly record struct TreeProgress(long FilesDone, long FilesTotal, long BytesDone, long BytesTotal);

/// <summary>Writes the contents of a directory on disk into a repository transaction.</summary>
public sealed class DirectoryImporter(RepoTransaction tx, CommitModifier modifier)
{
    private sealed record FileJob(string Path, string TreePath, FileHeader Header, long Size, MutableTree Parent, string Name, (ulong Dev, ulong Ino)? DevIno);

    /// <summary>Reports progress now and then.</summary>
    public IProgress<TreeProgress>? Progress { get; init; }

    /// <summary>Degree of parallelism for content objects (default: processor count).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Imports <paramref name="dir"/> as the contents of <paramref name="into"/> (overlaying what is there).</summary>
    public void Import(string dir, MutableTree into, CancellationToken cancellationToken = default)
    {
        var st = Native.LStat(dir);
        if ((st.Mode & UnixMode.TypeMask) != UnixMode.Directory)
        {
            throw new OstreeException($"{dir}: not a directory");
        }

        into.MetaChecksum = WriteDirMeta(dir, "/", st);
        into.Invalidate();
        var jobs = new List<FileJob>();
        Walk(dir, "/", into, jobs, cancellationToken);
        WriteFiles(jobs, cancellationToken);
    }

    private Checksum WriteDirMeta(string path, string treePath, FileStatus st)
    {
        var (uid, gid, mode, xattrs) = modifier.Apply(treePath, st.Uid, st.Gid, st.Mode, ReadXattrs(path));
        return tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(uid, gid, mode, xattrs).ToBytes());
    }

    private Xattrs ReadXattrs(string path) =>
        modifier.NoXattrs ? Xattrs.Empty : Xattrs.Create(Native.ListXattrs(path).Select(x => Xattr.Create(x.Name, x.Value)));

    private void Walk(string dir, string treePath, MutableTree tree, List<FileJob> jobs, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var names = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            var path = Path.Combine(dir, name!);
            var childTreePath = treePath == "/" ? "/" + name : treePath + "/" + name;
            if (modifier.SkipList.Contains(childTreePath))
            {
                continue;
            }

            var st = Native.LStat(path);
            switch (st.Type)
            {
                case UnixMode.Directory:
                    {
                        var sub = tree.EnsureDir(name!, WriteDirMeta(path, childTreePath, st));
                        Walk(path, childTreePath, sub, jobs, ct);
                        break;
                    }

                case UnixMode.Regular or UnixMode.Symlink:
                    {
                        var (uid, gid, mode, xattrs) = modifier.Apply(childTreePath, st.Uid, st.Gid, st.Mode, ReadXattrs(path));
                        bool isLink = st.Type == UnixMode.Symlink;
                        var target = isLink ? new FileInfo(path).LinkTarget ?? string.Empty : string.Empty;
                        var header = new FileHeader(uid, gid, mode, target, xattrs);
                        bool sharedInode = !isLink && st.NLink > 1 && !modifier.StatOverrides.ContainsKey(childTreePath);
                        jobs.Add(new FileJob(path, childTreePath, header, isLink ? 0 : (long)st.Size, tree, name!, sharedInode ? (st.Device, st.Inode) : null));
                        tree.Invalidate();
                        break;
                    }

                default:
                    throw new OstreeException($"{path}: unsupported file type 0{Convert.ToString(st.Type, 8)} (only regular files, symlinks and directories can be committed)");
            }
        }
    }

    private void WriteFiles(List<FileJob> jobs, CancellationToken ct)
    {
        long total = jobs.Sum(j => j.Size);
        long done = 0, bytes = 0;
        var results = new Checksum[jobs.Count];
        var byInode = new ConcurrentDictionary<(ulong, ulong), Lazy<Checksum>>();
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Parallelism), CancellationToken = ct };

        // Large files first so that both cores stay busy to the end.
        var order = Enumerable.Range(0, jobs.Count).OrderByDescending(i => jobs[i].Size).ToArray();
        Parallel.ForEach(Partitioner.Create(order, EnumerablePartitionerOptions.NoBuffering), options, i =>
        {
            var j = jobs[i];
            Checksum c;
            if (j.DevIno is { } key)
            {
                c = byInode.GetOrAdd(key, _ => new Lazy<Checksum>(() => Write(j))).Value;
            }
            else
            {
                c = Write(j);
            }

            results[i] = c;
            long d = Interlocked.Increment(ref done);
            long b = Interlocked.Add(ref bytes, j.Size);
            if (Progress is not null && (d % 256 == 0 || d == jobs.Count))
            {
                Progress.Report(new TreeProgress(d, jobs.Count, b, total));
            }
        });

        for (int i = 0; i < jobs.Count; i++)
        {
            jobs[i].Parent.Files[jobs[i].Name] = results[i];
        }
    }

    private Checksum Write(FileJob j)
    {
        try
        {
            return tx.WriteContentFromFile(j.Path, j.Header, j.Size);
        }
        catch (IOException e)
        {
            throw new OstreeException($"{j.Path}: {e.Message}", e);
        }
    }
}
