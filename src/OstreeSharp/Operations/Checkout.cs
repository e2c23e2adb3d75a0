// Checking out a commit to a directory: copies or hardlinks to objects, as `ostree checkout` does.
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>What to do when a file already exists at the destination.</summary>
public enum CheckoutOverwrite
{
    /// <summary>Fail.</summary>
    None,

    /// <summary>Replace existing files (<c>--union</c>).</summary>
    UnionFiles,

    /// <summary>Keep existing files, add new ones (<c>--union-add</c>).</summary>
    AddFiles,

    /// <summary>Keep an existing file that is the same object (content, and a symlink's target), fail on any other (<c>--union-identical</c>).</summary>
    UnionIdentical,
}

/// <summary>Options of a checkout.</summary>
public sealed record CheckoutOptions
{
    /// <summary>User mode (<c>-U</c>): no ownership, no xattrs, no setuid bits.</summary>
    public bool UserMode { get; init; }

    /// <summary>Existing files policy.</summary>
    public CheckoutOverwrite Overwrite { get; init; }

    /// <summary>Only this path of the commit.</summary>
    public string? Subpath { get; init; }

    /// <summary>
    /// From an archive repository in user mode, regular files are unpacked once into the repository's
    /// <c>uncompressed-objects-cache</c> and hardlinked from there (unless <c>core.enable-uncompressed-cache</c> is
    /// false), as libostree's plain <c>ostree checkout</c> does: its other options (<c>--disable-cache</c> among them)
    /// turn this off.
    /// </summary>
    public bool UseUncompressedCache { get; init; }

    /// <summary>A <see cref="Subpath"/> the commit does not have makes the checkout do nothing (<c>--allow-noent</c>).</summary>
    public bool AllowMissingSubpath { get; init; }

    /// <summary>Folders get no mode bits outside 0775 (no setuid, setgid, sticky or world-writable bit; <c>--bareuseronly-dirs</c>).</summary>
    public bool BareUserOnlyDirs { get; init; }

    /// <summary>Paths (from the root of what is checked out, with a leading <c>/</c>) left out, files or whole folders (<c>--skip-list</c>).</summary>
    public IReadOnlySet<string> SkipList { get; init; } = new HashSet<string>();

    /// <summary>Fail rather than copy when a hardlink is impossible (<c>-H</c>).</summary>
    public bool RequireHardlinks { get; init; }

    /// <summary>Never hardlink (<c>--force-copy</c>).</summary>
    public bool ForceCopy { get; init; }

    /// <summary>Copy zero-length files instead of linking them (deployments: avoids EMLINK on the one shared empty object).</summary>
    public bool ForceCopyZeroSized { get; init; }

    /// <summary>Turn <c>.ostree-wh.NAME</c> files into overlayfs whiteouts (0:0 character devices called NAME).</summary>
    public bool ProcessWhiteouts { get; init; }

    /// <summary>
    /// Docker-style whiteouts (<c>--whiteouts</c>): a file <c>.wh.NAME</c> removes NAME from the destination instead of
    /// being checked out, and a folder holding <c>.wh..wh..opq</c> replaces what the destination had there.
    /// </summary>
    public bool DockerWhiteouts { get; init; }

    /// <summary>
    /// Label what is checked out with this policy (<c>--selinux-policy</c>): each file and folder gets the
    /// <c>security.selinux</c> label of its path (not in user mode). Files are copied, never hardlinked.
    /// </summary>
    public SELinux.SePolicy? SePolicy { get; init; }

    /// <summary>The path that the checkout's root has for labelling (<c>--selinux-prefix</c>); default the subpath, else <c>/</c>.</summary>
    public string? SePolicyPrefix { get; init; }

    /// <summary>Degree of parallelism.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// A folder checked out to a path that does not exist yet is built in a hidden sibling and renamed into place at
    /// the end, so a failed checkout leaves nothing at the destination (default). Off, it is built in place (the
    /// deployer, whose cleanup removes unfinished deployment folders by name).
    /// </summary>
    public bool BuildInSibling { get; init; } = true;
}

/// <summary>Checks out trees from a repository.</summary>
public sealed class Checkout(OstreeRepo repo, CheckoutOptions options)
{
    private readonly bool _asRoot = Native.EffectiveUid == 0;

    // core.disable-xattrs: as libostree, no SELinux label is given (a bare repository's objects are read without their
    // xattrs; what an archive or bare-user object records is still written, as libostree writes it).
    private readonly bool _noLabels = repo.DisableXattrs;
    private readonly Dictionary<Checksum, DirMeta> _metaCache = [];

    private sealed record DirFinish(string Path, DirMeta Meta, bool Created, string TreePath);

    private readonly record struct FileJob(string Path, Checksum Content, string TreePath);

    /// <summary>Checks out commit <paramref name="commit"/> into <paramref name="destination"/>.</summary>
    public void Run(Checksum commit, string destination, CancellationToken cancellationToken = default)
    {
        var c = repo.LoadCommit(commit);
        if (TreeLookup.Find(repo, c, options.Subpath ?? "/", out var missing) is not { } entry)
        {
            // --allow-noent forgives a missing path, not a file where a folder should be.
            if (options.AllowMissingSubpath && missing != TreeLookup.NotADirectory)
            {
                return;
            }

            throw new ObjectNotFoundException(missing!);
        }

        if (entry.IsFile)
        {
            // As ostree, a single file goes into the destination folder (made if missing) under its own name.
            Directory.CreateDirectory(destination);
            var name = (options.Subpath ?? string.Empty).TrimEnd('/').Split('/')[^1];
            var jobsOne = new List<FileJob> { new(System.IO.Path.Combine(destination, name), entry.File, string.Empty) };
            RunFiles(jobsOne, cancellationToken);
            return;
        }

        if (!options.BuildInSibling || Native.TryLStat(destination, out _))
        {
            CheckoutTree(entry.Tree, entry.Meta, destination, cancellationToken);
            return;
        }

        // A new destination: built next to it, renamed into place once complete; on failure, nothing is left (nor the
        // parent folders this call created).
        var full = System.IO.Path.GetFullPath(destination).TrimEnd('/');
        var parent = System.IO.Path.GetDirectoryName(full) ?? "/";
        string? createdParent = null;
        for (var p = parent; !Native.TryLStat(p, out _); p = System.IO.Path.GetDirectoryName(p) ?? "/")
        {
            createdParent = p;
        }

        Directory.CreateDirectory(parent);
        var building = System.IO.Path.Combine(parent, $".ostree-checkout-{Guid.NewGuid():N}");
        try
        {
            CheckoutTree(entry.Tree, entry.Meta, building, cancellationToken);
            if (!Native.RenameNoReplace(building, full))
            {
                throw new OstreeException(OstreeErrorCode.AlreadyExists, "mkdirat: File exists"); // ostree's words
            }
        }
        catch
        {
            FileUtil.DeleteAny(building);
            if (createdParent is not null)
            {
                FileUtil.DeleteAny(createdParent);
            }

            throw;
        }
    }

    private void CheckoutTree(Checksum tree, Checksum meta, string destination, CancellationToken cancellationToken)
    {
        var finish = new List<DirFinish>();
        var loaded = options.DockerWhiteouts ? repo.LoadDirTree(tree) : null;
        MakeDir(destination, LoadMeta(meta), finish, string.Empty, IsOpaque(loaded));

        // As libostree: with -H, a destination on another filesystem than the repository is refused first.
        if (options.RequireHardlinks && Native.LStat(repo.Path).Device is var src && Native.LStat(destination).Device is var dst && src != dst)
        {
            throw new OstreeException(OstreeErrorCode.IOFailed, $"Unable to do hardlink checkout across devices (src={src} destination={dst})");
        }

        RunFilesWhileWalking(add => Walk(tree, loaded, destination, finish, add, cancellationToken), cancellationToken);
        for (int i = finish.Count - 1; i >= 0; i--)
        {
            ApplyDirMeta(finish[i]);
        }
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

    private void MakeDir(string path, DirMeta meta, List<DirFinish> finish, string treePath, bool opaque)
    {
        const int EEXIST = 17;
        if (opaque)
        {
            // An opaque folder hides everything the layers below had there.
            FileUtil.DeleteAny(path);
        }

        int errno = Native.Mkdir(path, 0x1C0);
        bool created = true;
        if (errno == EEXIST)
        {
            var st = Native.LStat(path);
            if (options.Overwrite == CheckoutOverwrite.None)
            {
                throw new OstreeException(OstreeErrorCode.AlreadyExists, "mkdirat: File exists"); // ostree's words
            }

            if (st.Type != UnixMode.Directory)
            {
                File.Delete(path);
                Directory.CreateDirectory(path);
            }
            else
            {
                created = false;
            }
        }
        else if (errno == 2 && finish.Count == 0)
        {
            Directory.CreateDirectory(path);
        }
        else if (errno != 0)
        {
            throw new IOException($"mkdir {path}: errno {errno}");
        }

        finish.Add(new DirFinish(path, meta, created, treePath));
    }

    // Depth first with an explicit stack (a tree's depth is the input's to choose): every folder is made before its
    // children, so applying folder metadata in reverse order finishes children before their parents.
    // A folder's tree is read once: ahead, by its parent, only where --whiteouts must know whether it is opaque.
    // A folder's whiteouts are applied before its files are queued (a name the layer both hides and adds is the new
    // file), and its subfolders are made after both; the files of one folder never touch another's names.
    private void Walk(Checksum rootTree, DirTree? rootLoaded, string rootDest, List<DirFinish> finish, Action<FileJob> queue, CancellationToken ct)
    {
        var pending = new Stack<(Checksum Tree, DirTree? Loaded, string Dest, string TreePath)>();
        pending.Push((rootTree, rootLoaded, rootDest, string.Empty));
        while (pending.TryPop(out var at))
        {
            ct.ThrowIfCancellationRequested();
            var tree = at.Loaded ?? repo.LoadDirTree(at.Tree);
            bool whiteouts = false;
            foreach (var f in tree.Files)
            {
                if (!IsWhiteout(f.Name) || (options.SkipList.Count > 0 && options.SkipList.Contains(at.TreePath + "/" + f.Name)))
                {
                    continue;
                }

                whiteouts = true;
                if (options.ProcessWhiteouts && f.Name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
                {
                    MakeWhiteout(Path.Combine(at.Dest, f.Name[WhiteoutPrefix.Length..]), f.Checksum);
                    continue;
                }

                var hidden = f.Name[DockerWhiteoutPrefix.Length..];
                if (hidden is "" or "." or "..")
                {
                    throw new OstreeException(OstreeErrorCode.UnsupportedFileType, $"Invalid whiteout '{at.TreePath}/{f.Name}'");
                }

                if (f.Name != OpaqueWhiteout)
                {
                    FileUtil.DeleteAny(Path.Combine(at.Dest, hidden));
                }
            }

            foreach (var f in tree.Files)
            {
                if ((whiteouts && IsWhiteout(f.Name)) || (options.SkipList.Count > 0 && options.SkipList.Contains(at.TreePath + "/" + f.Name)))
                {
                    continue;
                }

                queue(new FileJob(Path.Combine(at.Dest, f.Name), f.Checksum, at.TreePath + "/" + f.Name));
            }

            for (int i = tree.Dirs.Count - 1; i >= 0; i--)
            {
                var d = tree.Dirs[i];
                var treePath = at.TreePath + "/" + d.Name;
                if (options.SkipList.Count > 0 && options.SkipList.Contains(treePath))
                {
                    continue;
                }

                var sub = Path.Combine(at.Dest, d.Name);
                var loaded = options.DockerWhiteouts ? repo.LoadDirTree(d.TreeChecksum) : null;
                MakeDir(sub, LoadMeta(d.MetaChecksum), finish, treePath, IsOpaque(loaded));
                pending.Push((d.TreeChecksum, loaded, sub, treePath));
            }
        }
    }

    private const string WhiteoutPrefix = ".ostree-wh.";
    private const string DockerWhiteoutPrefix = ".wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";

    private bool IsWhiteout(string name) =>
        (options.ProcessWhiteouts && name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        || (options.DockerWhiteouts && name.StartsWith(DockerWhiteoutPrefix, StringComparison.Ordinal));

    // A folder holding Docker's opaque marker replaces what the layers below had there (null: whiteouts are off).
    private static bool IsOpaque(DirTree? tree) => tree is not null && tree.Files.Any(f => f.Name == OpaqueWhiteout);

    // The label path of a path of the checkout (relative to its root, with a leading slash; empty for the root).
    private string LabelPath(string treePath)
    {
        var prefix = options.SePolicyPrefix ?? options.Subpath ?? "/";
        return treePath.Length == 0 ? prefix : prefix.TrimEnd('/') + treePath;
    }

    // As libostree: a copied regular file always gets its label; folders and symlinks only on a host running SELinux
    // (libostree labels them through setfscreatecon, which does nothing elsewhere).
    // The label is written without the NUL that a commit's xattrs carry, as libostree's checkout writes it.
    private Xattrs Labelled(Xattrs xattrs, string treePath, uint mode)
    {
        if (_noLabels || options.SePolicy is not { } policy || !(UnixMode.IsRegular(mode) || HostSelinux.Value) || policy.Label(LabelPath(treePath), mode) is not { } label)
        {
            return xattrs;
        }

        return Xattrs.Create(xattrs.Items.Where(x => x.NameString != "security.selinux")
            .Append(Xattr.Create("security.selinux", System.Text.Encoding.UTF8.GetBytes(label))));
    }

    private static readonly Lazy<bool> HostSelinux = new(() => File.Exists("/sys/fs/selinux/enforce"));

    /// <summary>An overlayfs whiteout: a 0:0 character device with the marker's mode bits, owner and xattrs.</summary>
    private void MakeWhiteout(string path, Checksum marker)
    {
        var h = repo.LoadContent(marker).Header;
        Native.MakeCharDevice(path, h.Mode & 0xFFF, 0, 0);
        Native.Chmod(path, h.Mode & 0xFFF); // mknod applied the umask
        if (!options.UserMode)
        {
            if (_asRoot)
            {
                Native.LChown(path, h.Uid, h.Gid);
            }

            SetXattrs(path, h.Xattrs);
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

            SetXattrs(d.Path, Labelled(d.Meta.Xattrs, d.TreePath, d.Meta.Mode));
        }

        var mode = options.UserMode ? d.Meta.Mode & 0x3FF : d.Meta.Mode;
        // As libostree: a bare-user-only repository always checks folders out without bits outside 0775.
        Native.Chmod(d.Path, options.BareUserOnlyDirs || repo.Mode == RepoMode.BareUserOnly ? mode & 0x1FD : mode);

        // As libostree: a folder the checkout made gets mtime 0, the same in every checkout (not with copies).
        if (d.Created && !options.ForceCopy)
        {
            Native.SetMtime(d.Path, 0);
        }
    }

    private bool CanHardlink => !options.ForceCopy && options.SePolicy is null && repo.Mode switch
    {
        RepoMode.Archive => false,
        // As libostree: an object is linked only where the checkout's mode is the repository's (a bare object
        // carries real owners, a bare-user one the user's).
        RepoMode.Bare => !options.UserMode,
        _ => options.UserMode,
    };

    private void RunFiles(List<FileJob> jobs, CancellationToken ct) => RunFilesWhileWalking(queue => jobs.ForEach(queue), ct);

    // The walk runs on this thread and queues files for the workers as it goes, a few thousand at most: memory does
    // not grow with the size of the tree. The first failure, of the walk or of a worker, stops both and is thrown.
    private void RunFilesWhileWalking(Action<Action<FileJob>> walk, CancellationToken ct)
    {
        CheckHardlinksPossible();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var queue = new WorkQueue<FileJob>(capacity: 4096);
        Exception? failure = null;
        var workers = new Task[Math.Max(1, options.Parallelism)];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Factory.StartNew(
                () =>
                {
                    try
                    {
                        foreach (var j in queue.GetConsumingEnumerable(stop.Token))
                        {
                            CheckoutFile(j.Path, j.Content, j.TreePath);
                        }
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        // Stopped by another's failure or by the caller.
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref failure, e, null);
                        stop.Cancel();
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        try
        {
            walk(j => queue.Add(j, stop.Token));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // A worker failed: its failure is the one to throw.
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref failure, e, null);
            stop.Cancel();
        }
        finally
        {
            queue.CompleteAdding();
            Task.WaitAll(workers);
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        ct.ThrowIfCancellationRequested();
    }

    private void CheckHardlinksPossible()
    {
        if (options.RequireHardlinks && !CanHardlink)
        {
            // ostree's words for the two cases it names, which scripts check.
            throw new OstreeException(OstreeErrorCode.InvalidArgument, repo.Mode switch
            {
                RepoMode.BareUser or RepoMode.BareUserOnly => "User repository mode requires user checkout mode to hardlink",
                RepoMode.Bare => "Bare repository mode cannot hardlink in user checkout mode",
                _ => $"Hardlinks are not possible from a {repo.Mode.ToConfigName()} repository",
            });
        }
    }

    private void CheckoutFile(string dest, Checksum checksum, string treePath)
    {
        // The common case first: a hardlink to the object, with no stat of either side.
        if (CanHardlink && TryFastLink(dest, checksum))
        {
            return;
        }

        var obj = repo.LoadContent(checksum);
        var h = obj.Header;
        bool unreadable = options.UserMode && !h.IsSymlink && (h.Mode & 0x100) == 0;
        bool linkable = CanHardlink && obj.StoredIn == repo.Mode && !(h.IsSymlink && repo.Mode == RepoMode.BareUser) && !(options.ForceCopyZeroSized && obj.Size == 0) && !unreadable;
        if (linkable && !h.IsSymlink)
        {
            int errno;
            while ((errno = Native.LinkErrno(obj.Path, dest)) == EEXIST)
            {
                if (!ResolveExisting(dest, checksum))
                {
                    return;
                }
            }

            if (errno == 0)
            {
                return;
            }

            if (options.RequireHardlinks && errno == 18)
            {
                // libostree's words for -H across filesystems.
                var parentDir = Path.GetDirectoryName(dest) ?? ".";
                throw new OstreeException(OstreeErrorCode.IOFailed, $"Unable to do hardlink checkout across devices (src={Native.LStat(obj.Path).Device} destination={Native.LStat(parentDir).Device})");
            }

            if (options.RequireHardlinks || errno is not (18 or 31 or 1))
            {
                throw new IOException($"link {obj.Path} to {dest}: errno {errno}");
            }
        }

        if (!h.IsSymlink && TryLinkFromUncompressedCache(obj, dest))
        {
            return;
        }

        if (h.IsSymlink)
        {
            int errno;
            while ((errno = Native.SymlinkErrno(h.SymlinkTarget, dest)) == EEXIST)
            {
                if (!ResolveExisting(dest, checksum))
                {
                    return;
                }
            }

            if (errno != 0)
            {
                throw new IOException($"symlink {dest}: errno {errno}");
            }

            if (!options.UserMode)
            {
                if (_asRoot)
                {
                    Native.LChown(dest, h.Uid, h.Gid);
                }

                SetXattrs(dest, Labelled(h.Xattrs, treePath, h.Mode));
            }

            return;
        }

        FileStream output;
        while (true)
        {
            try
            {
                output = new FileStream(dest, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                break;
            }
            catch (IOException) when (Native.TryLStat(dest, out _))
            {
                if (!ResolveExisting(dest, checksum))
                {
                    return;
                }
            }
        }

        using (var input = obj.OpenData())
        using (output)
        {
            // An uncompressed object is copied by the kernel (as libostree does); a compressed one through a buffer.
            if (input is not FileStream file || !Native.TryCopyFileRange(file.SafeFileHandle, output.SafeFileHandle, obj.Size))
            {
                input.CopyTo(output, 1 << 16);
            }
        }

        if (!options.UserMode)
        {
            if (_asRoot)
            {
                Native.LChown(dest, h.Uid, h.Gid);
            }

            SetXattrs(dest, Labelled(h.Xattrs, treePath, h.Mode));
            Native.Chmod(dest, h.Mode);
        }
        else
        {
            Native.Chmod(dest, (h.Mode & 0x3FF) | (unreadable ? 0x100u : 0));
        }
    }

    private const int EEXIST = 17;

    private bool CacheEnabled => options.UseUncompressedCache && options.UserMode && !options.ForceCopy && repo.Mode == RepoMode.Archive
        && repo.Config.GetBoolean("core", "enable-uncompressed-cache", true);

    // libostree's uncompressed cache: a readable, non-empty regular file of the archive repository itself (not a
    // parent's) is unpacked into uncompressed-objects-cache/XX/REST.file (no setuid or setgid bit) and linked.
    private bool TryLinkFromUncompressedCache(ContentObject obj, string dest)
    {
        var h = obj.Header;
        if (!CacheEnabled || obj.StoredIn != RepoMode.Archive || !obj.Path.StartsWith(repo.Path + "/", StringComparison.Ordinal) || obj.Size == 0 || (h.Mode & 0x100) == 0)
        {
            return false;
        }

        var hex = obj.Checksum.ToHex();
        var cached = Path.Combine(repo.Path, "uncompressed-objects-cache", hex[..2], hex[2..] + ".file");
        if (!Native.TryLStat(cached, out _))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cached)!);
            var tmp = Path.Combine(repo.Path, "tmp", $".uncompressed-{hex}-{Guid.NewGuid():N}");
            try
            {
                using (var input = obj.OpenData())
                using (var output = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    input.CopyTo(output, 1 << 16);
                    if (repo.Fsync)
                    {
                        output.Flush(flushToDisk: true);
                    }
                }

                Native.Chmod(tmp, h.Mode & 0xFFF & ~0xC00u);
                int linked = Native.LinkErrno(tmp, cached);
                if (linked is not (0 or EEXIST))
                {
                    return false;
                }
            }
            finally
            {
                File.Delete(tmp);
            }
        }

        int errno;
        while ((errno = Native.LinkErrno(cached, dest)) == EEXIST)
        {
            if (!ResolveExisting(dest, obj.Checksum))
            {
                return true;
            }
        }

        return errno == 0;
    }

    /// <summary>Applies the overwrite policy to an existing destination; true to retry the creation.</summary>
    private bool ResolveExisting(string dest, Checksum checksum)
    {
        switch (options.Overwrite)
        {
            case CheckoutOverwrite.AddFiles:
                return false;
            case CheckoutOverwrite.UnionIdentical when IsSameObject(dest, checksum):
                return false;
            case CheckoutOverwrite.UnionFiles when Native.LStat(dest).Type != UnixMode.Directory:
                File.Delete(dest);
                return true;
            default:
                throw new OstreeException(OstreeErrorCode.AlreadyExists, $"{dest}: File exists");
        }
    }

    // For --union-identical: the file already there is this object, as a hardlink to it, or with its content (a
    // symlink: its target), as ostree compares them.
    private bool IsSameObject(string dest, Checksum checksum)
    {
        var objPath = repo.ObjectPath(checksum, ObjectType.File);
        if (!Native.TryLStat(dest, out var here))
        {
            return false;
        }

        if (Native.TryLStat(objPath, out var obj) && obj.Device == here.Device && obj.Inode == here.Inode)
        {
            return true;
        }

        var content = repo.LoadContent(checksum);
        if (content.Header.IsSymlink)
        {
            return here.Type == UnixMode.Symlink && new FileInfo(dest).LinkTarget == content.Header.SymlinkTarget;
        }

        if (here.Type != UnixMode.Regular || (long)here.Size != content.Size)
        {
            return false;
        }

        using var a = content.OpenData();
        using var b = new FileStream(dest, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return System.Security.Cryptography.SHA256.HashData(a).AsSpan().SequenceEqual(System.Security.Cryptography.SHA256.HashData(b));
    }

    /// <summary>Hardlinks without loading the object when its kind is known cheaply; false to take the slow path.</summary>
    private bool TryFastLink(string dest, Checksum checksum)
    {
        var objPath = repo.ObjectPath(checksum, ObjectType.File);
        FileStatus st = default;
        if ((options.ForceCopyZeroSized || (options.UserMode && repo.Mode == RepoMode.BareUserOnly)) && !Native.TryLStat(objPath, out st))
        {
            return false;
        }

        if (options.ForceCopyZeroSized && st.Size == 0)
        {
            return false;
        }

        // A file its owner cannot read is copied in user mode (made readable), as libostree does.
        if (options.UserMode && repo.Mode == RepoMode.BareUserOnly && (st.Mode & 0x100) == 0)
        {
            return false;
        }

        if (repo.Mode == RepoMode.BareUser)
        {
            // user.ostreemeta is (uuua(ayay)) with the BE mode at bytes 8..12: symlinks and unreadable files need the
            // slow path.
            var meta = Native.GetXattr(objPath, "user.ostreemeta");
            if (meta is not { Length: >= 12 } || System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(meta.AsSpan(8, 4)) is var mode && (!UnixMode.IsRegular(mode) || (options.UserMode && (mode & 0x100) == 0)))
            {
                return false;
            }
        }

        int errno;
        while ((errno = Native.LinkErrno(objPath, dest)) == EEXIST)
        {
            if (!ResolveExisting(dest, checksum))
            {
                return true;
            }
        }

        return errno == 0;
    }

    private static void SetXattrs(string path, Xattrs xattrs)
    {
        foreach (var x in xattrs.Items)
        {
            Native.SetXattr(path, x.NameString, x.Value);
        }
    }
}
