// Importing a directory into a MutableTree: the tree walk, then content objects written in
// parallel (hashing and, in archive mode, compression on every core), then dirtrees bottom-up.
using System.Collections.Concurrent;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>Progress of a long tree operation.</summary>
public readonly record struct TreeProgress(long FilesDone, long FilesTotal, long BytesDone, long BytesTotal);

/// <summary>Writes the contents of a directory on disk into a repository transaction.</summary>
public sealed class DirectoryImporter(RepoTransaction tx, CommitModifier modifier)
{
    private sealed record FileJob(string Path, FileHeader Header, long Size, MutableTree Parent, string Name, (ulong Dev, ulong Ino)? DevIno, bool Adoptable = false);

    /// <summary>Reports progress now and then.</summary>
    public IProgress<TreeProgress>? Progress { get; init; }

    /// <summary>Degree of parallelism for content objects (default: processor count).</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Whether regular files may be moved into the repository instead of copied, for <c>commit --consume</c>: in a
    /// bare-user-only repository (their mode made canonical), and in a bare one when the file is stored as it is on
    /// disk; as libostree adopts them. A file on another filesystem is copied.
    /// </summary>
    public bool Adopt { get; init; }

    /// <summary>
    /// The repository's content objects by device and inode (<see cref="OstreeRepo.ScanHardlinks"/>), for
    /// <c>--link-checkout-speedup</c>: a file hardlinked to an object is committed as that object, unread, when its
    /// final metadata is the object's.
    /// </summary>
    public IReadOnlyDictionary<(ulong Dev, ulong Ino), Checksum>? RepoInodes { get; init; }

    /// <summary>
    /// A file that is a hardlink of a kept object is that object, without comparing its owner, mode and xattrs
    /// (<c>--devino-canonical</c>: whoever changes such a file must break the link first).
    /// </summary>
    public bool DevinoCanonical { get; init; }

    /// <summary>Imports <paramref name="dir"/> as the contents of <paramref name="into"/> (overlaying what is there).</summary>
    /// <remarks>
    /// The walk feeds a bounded queue that the writers drain, so memory holds the tree's names and
    /// ids but never the list of every file: peak memory does not grow with the data size.
    /// </remarks>
    public void Import(string dir, MutableTree into, CancellationToken cancellationToken = default)
    {
        dir = Path.GetFullPath(dir);
        var st = Native.LStat(dir);
        if ((st.Mode & UnixMode.TypeMask) != UnixMode.Directory)
        {
            throw new OstreeException(OstreeErrorCode.IOFailed, $"{dir}: not a directory");
        }

        into.MetaChecksum = WriteDirMeta(dir, "/", st);
        into.Invalidate();
        var queue = new WorkQueue<FileJob>(capacity: 4096);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var byInode = new ConcurrentDictionary<(ulong, ulong), Lazy<Checksum>>();
        long done = 0, bytes = 0, seen = 0;
        var workers = Enumerable.Range(0, Math.Max(1, Parallelism)).Select(_ => Task.Factory.StartNew(() =>
        {
            try
            {
                foreach (var j in queue.GetConsumingEnumerable(failed.Token))
                {
                    var c = j.DevIno is { } key ? byInode.GetOrAdd(key, _ => new Lazy<Checksum>(() => Write(j))).Value : Write(j);
                    lock (j.Parent)
                    {
                        j.Parent.Files[j.Name] = c;
                    }

                    long d = Interlocked.Increment(ref done);
                    long b = Interlocked.Add(ref bytes, j.Size);
                    if (Progress is not null && d % 256 == 0)
                    {
                        Progress.Report(new TreeProgress(d, Volatile.Read(ref seen), b, 0));
                    }
                }
            }
            catch
            {
                failed.Cancel();
                throw;
            }
        }, failed.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        Exception? walkError = null;
        try
        {
            Walk(dir, "/", into, j =>
            {
                Interlocked.Increment(ref seen);
                queue.Add(j, failed.Token);
            }, failed.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A writer failed: its exception is reported below.
        }
        catch (Exception e)
        {
            walkError = e;
            failed.Cancel();
        }
        finally
        {
            queue.CompleteAdding();
        }

        // Writers always finish before this method returns: the transaction outlives none of them.
        try
        {
            Task.WaitAll(workers);
        }
        catch (AggregateException ae) when (walkError is null)
        {
            var first = ae.Flatten().InnerExceptions.FirstOrDefault(e => e is not OperationCanceledException) ?? ae.InnerExceptions[0];
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        }
        catch (AggregateException)
        {
            // The walk's own error is the one to report.
        }

        if (walkError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(walkError).Throw();
        }

        cancellationToken.ThrowIfCancellationRequested();
        Progress?.Report(new TreeProgress(done, done, bytes, bytes));
    }

    private Checksum WriteDirMeta(string path, string treePath, FileStatus st)
    {
        var (uid, gid, mode, xattrs) = modifier.Apply(treePath, st.Uid, st.Gid, st.Mode, ReadXattrs(path));
        return tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(uid, gid, mode, xattrs).ToBytes());
    }

    // As libostree: nothing is read with --no-xattrs, nor from a repository whose core.disable-xattrs is set (read once,
    // not for every file).
    private readonly bool _skipXattrs = modifier.NoXattrs || tx.Repo.DisableXattrs;

    private Xattrs ReadXattrs(string path) =>
        _skipXattrs ? Xattrs.Empty : Xattrs.Create(Native.ListXattrs(path).Select(x => Xattr.Create(x.Name, x.Value)));

    private void Walk(string dir, string treePath, MutableTree tree, Action<FileJob> emit, CancellationToken ct)
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

            // Committing a folder that holds the repository itself: this transaction's staging folder, whose files
            // come and go while it is walked, is not part of the tree.
            if (path == tx.StagingPath)
            {
                continue;
            }

            // A name that is not UTF-8 comes back with U+FFFD in it and names nothing: refused in libostree's words.
            if (!Native.TryLStat(path, out var st))
            {
                throw name!.Contains('\uFFFD', StringComparison.Ordinal)
                    ? new OstreeException(OstreeErrorCode.InvalidData, $"Invalid UTF-8 in filename {name} (in {dir})")
                    : new OstreeException(OstreeErrorCode.IOFailed, $"{path}: vanished while committing");
            }

            switch (st.Type)
            {
                case UnixMode.Directory:
                    {
                        var meta = WriteDirMeta(path, childTreePath, st);
                        MutableTree sub;
                        lock (tree)
                        {
                            sub = tree.EnsureDir(name!, meta);
                        }

                        Walk(path, childTreePath, sub, emit, ct);
                        break;
                    }

                case UnixMode.Regular when RepoInodes is not null && RepoInodes.TryGetValue((st.Device, st.Inode), out var known) && (DevinoCanonical || IsUnchangedObject(path, childTreePath, st, known)):
                    lock (tree)
                    {
                        tree.Invalidate();
                        tree.Files[name!] = known;
                    }

                    tx.CountDevinoCacheHit();

                    break;

                case UnixMode.Regular or UnixMode.Symlink:
                    {
                        var (uid, gid, mode, xattrs) = modifier.Apply(childTreePath, st.Uid, st.Gid, st.Mode, ReadXattrs(path));
                        bool isLink = st.Type == UnixMode.Symlink;
                        var target = isLink ? new FileInfo(path).LinkTarget ?? string.Empty : string.Empty;
                        var header = new FileHeader(uid, gid, mode, target, xattrs);
                        bool sharedInode = !isLink && st.NLink > 1 && !modifier.StatOverrides.ContainsKey(childTreePath);
                        lock (tree)
                        {
                            tree.Invalidate();
                        }

                        bool adoptable = Adopt && !isLink && tx.Repo.Mode switch
                        {
                            RepoMode.BareUserOnly => true,
                            RepoMode.Bare => uid == st.Uid && gid == st.Gid && mode == st.Mode && xattrs.Equals(ReadXattrs(path)),
                            _ => false,
                        };
                        emit(new FileJob(path, header, isLink ? 0 : (long)st.Size, tree, name!, sharedInode ? (st.Device, st.Inode) : null, adoptable));
                        break;
                    }

                default:
                    throw new OstreeException(OstreeErrorCode.UnsupportedFileType, $"{path}: unsupported file type 0{Convert.ToString(st.Type, 8)} (only regular files, symlinks and directories can be committed)");
            }
        }
    }

    // A checkout's hardlink to an object is that object when the commit's modifier leaves its metadata as stored. In a
    // bare-user repository the owner, mode and xattrs come from the object (its user.ostreemeta), not from the file,
    // as libostree reads them.
    private bool IsUnchangedObject(string path, string treePath, FileStatus st, Checksum known)
    {
        var stored = tx.Repo.LoadContent(known).Header;
        var (uid, gid, mode, xattrs) = tx.Repo.Mode == RepoMode.BareUser
            ? modifier.Apply(treePath, stored.Uid, stored.Gid, stored.Mode, stored.Xattrs)
            : modifier.Apply(treePath, st.Uid, st.Gid, st.Mode, ReadXattrs(path));
        return uid == stored.Uid && gid == stored.Gid && mode == stored.Mode && xattrs.Equals(stored.Xattrs);
    }

    private Checksum Write(FileJob j)
    {
        try
        {
            return j.Adoptable && tx.TryAdoptFile(j.Path, j.Header, out var adopted) ? adopted : tx.WriteContentFromFile(j.Path, j.Header, j.Size);
        }
        catch (IOException e)
        {
            throw new OstreeException(OstreeErrorCodes.Of(e, OstreeErrorCode.IOFailed), $"{j.Path}: {e.Message}", e);
        }
    }
}
