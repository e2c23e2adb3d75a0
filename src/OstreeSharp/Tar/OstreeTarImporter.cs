// `tar import`: ostree-ext tar streams, format versions 0 and 1 (ostree-container-format.md 2.7,
// 2.8). Every object is verified against its name; the commit is checked for completeness
// before anything is published, and the ref moves last.
using System.Buffers;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Tar;

/// <summary>Result of an import.</summary>
public sealed record TarImportResult(Checksum Commit, int ObjectsWritten, int ObjectsSkipped);

/// <summary>Imports ostree-ext tar streams into a repository.</summary>
public sealed class OstreeTarImporter(OstreeRepo repo)
{
    private const int MaxMetadata = 10 * 1024 * 1024;
    private const int MaxXattrs = 1024 * 1024;

    /// <summary>Imports a stream; <paramref name="writeRef"/> (optional) is pointed at the commit.</summary>
    /// <exception cref="OstreeFormatException">Malformed stream or an object that does not match its name.</exception>
    public TarImportResult Import(Stream input, string? writeRef = null, CancellationToken cancellationToken = default)
    {
        using var tx = repo.BeginTransaction();
        var result = Import(tx, input, cancellationToken);
        if (writeRef is not null)
        {
            tx.SetRef(writeRef, result.Commit);
        }

        tx.Commit();
        return result;
    }

    /// <summary>Imports into an open transaction (the caller commits it).</summary>
    internal TarImportResult Import(RepoTransaction tx, Stream input, CancellationToken cancellationToken = default) => Import(tx, input, null, cancellationToken);

    /// <summary>
    /// Imports a chunk stream (object-set mode, spec 2.7): content objects only, each at most once; returns the
    /// checksums of every object the stream holds (written or already present).
    /// </summary>
    public IReadOnlyList<Checksum> ImportObjectSet(RepoTransaction tx, Stream input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tx);
        _objectSet = [];
        try
        {
            Import(tx, input, null, cancellationToken);
            return [.. _objectSet.Order()];
        }
        finally
        {
            _objectSet = null;
        }
    }

    private HashSet<Checksum>? _objectSet;

    /// <summary>
    /// Dirtrees known to be complete in the repository, asked with the dirtree and the folder it is at in the commit
    /// imported (true: every object under it is there, as under a tree of a commit the repository holds whole). The
    /// completeness check at the end of an import does not walk into them, so a stream that repeats most of a commit
    /// the repository has, or leaves out what it shares with one, costs what it adds.
    /// </summary>
    public Func<Checksum, string, bool>? KnownCompleteTree { get; init; }

    /// <summary>
    /// Objects known to be in the repository (true), as those of a commit it holds whole: the import passes over them
    /// without looking them up. Objects it does not know are looked up as usual.
    /// </summary>
    public Func<Checksum, ObjectType, bool>? KnownPresent { get; init; }

    private bool Has(RepoTransaction tx, Checksum checksum, ObjectType type) =>
        KnownPresent?.Invoke(checksum, type) == true || tx.HasObject(checksum, type);

    /// <summary>
    /// Imports into an open transaction; <paramref name="verifyCommit"/> (optional) is called with the commit's
    /// bytes and its detached metadata, which must follow the commit in the stream, before any other object is
    /// read, and refuses the stream by throwing (the caller then drops the transaction).
    /// </summary>
    internal TarImportResult Import(RepoTransaction tx, Stream input, Action<byte[], GVariantValue?>? verifyCommit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tx);
        using var writer = new ContentWriter(tx);
        try
        {
            return ImportCore(tx, input, verifyCommit, writer, cancellationToken);
        }
        finally
        {
            // Nothing may still write into the transaction once the caller commits or drops it.
            writer.WaitAll();
        }
    }

    private TarImportResult ImportCore(RepoTransaction tx, Stream input, Action<byte[], GVariantValue?>? verifyCommit, ContentWriter writer, CancellationToken cancellationToken)
    {
        byte[]? unverified = null;
        using var reader = new TarReader(input, leaveOpen: true);
        var xattrBlobs = new Dictionary<Checksum, Xattrs>();
        Checksum? commit = null;
        bool afterCommit = false;
        (Checksum File, Xattrs Xattrs)? pending = null;
        int written = 0, skipped = 0;
        TarEntry? e;
        while ((e = reader.GetNextEntry()) is not null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (HasDotDot(e.Name))
            {
                throw new TarFormatException($"Invalid path: {e.Name}");
            }

            var rel = RepoRelative(e.Name);
            if (rel is null || e.IsDirectory || rel == "config" || rel.StartsWith("refs/", StringComparison.Ordinal) || rel == "refs")
            {
                continue;
            }

            if (rel.StartsWith("xattrs/", StringComparison.Ordinal))
            {
                // Format version 0: repo/xattrs/<sha256 of blob>.
                var blob = ReadSmall(reader, e, MaxXattrs);
                var name = rel["xattrs/".Length..];
                var actual = Checksum.Compute(blob);
                if (!Checksum.TryParse(name, out var expected) || expected != actual)
                {
                    throw new TarFormatException($"Checksum mismatch, expected '{name}' but computed '{actual}' for {e.Name}");
                }

                xattrBlobs[actual] = ParseXattrs(blob, e.Name);
                continue;
            }

            var (checksum, ext) = ParseObjectPath(rel, e.Name);
            if (unverified is not null && ext != "commitmeta")
            {
                throw new TarFormatException($"Verifying ostree commit in tar stream: Expected commitmeta object, not {ext}");
            }

            if (_objectSet is not null && ext is "commit" or "commitmeta" or "dirtree" or "dirmeta")
            {
                throw new TarFormatException($"Found metadata object {checksum}.{ext} in object set mode");
            }

            bool isFirst = commit is null && _objectSet is null;
            if (isFirst && ext != "commit")
            {
                throw new TarFormatException($"Expected commit object, not {ext} ({e.Name})");
            }

            switch (ext)
            {
                case "commit":
                    {
                        if (!isFirst)
                        {
                            throw new TarFormatException($"Found multiple commit objects ({e.Name})");
                        }

                        if (!e.IsRegular)
                        {
                            throw new TarFormatException($"Expected regular file for commit object, not {TarType.Describe(e.Type)}");
                        }

                        var bytes = ReadSmall(reader, e, MaxMetadata);
                        WriteMetadata(tx, ObjectType.Commit, checksum, bytes, e.Name);
                        commit = checksum;
                        if (verifyCommit is not null)
                        {
                            unverified = bytes;
                        }

                        afterCommit = true;
                        written++;
                        continue;
                    }

                case "commitmeta" when afterCommit:
                    {
                        if (checksum != commit)
                        {
                            throw new TarFormatException($"Expected commitmeta checksum {commit}, found {checksum}");
                        }

                        var bytes = ReadSmall(reader, e, MaxMetadata);
                        GVariantValue detached;
                        try
                        {
                            detached = GVariantValue.Parse(GVariantType.VarDict, bytes);
                        }
                        catch (GVariantFormatException ex)
                        {
                            throw new TarFormatException($"Invalid detached metadata {e.Name}: {ex.Message}");
                        }

                        if (unverified is not null)
                        {
                            verifyCommit!(unverified, detached);
                            unverified = null;
                        }

                        tx.WriteCommitDetachedMetadata(checksum, detached);

                        afterCommit = false;
                        continue;
                    }

                case "dirtree" or "dirmeta":
                    {
                        afterCommit = false;
                        if (!e.IsRegular)
                        {
                            throw new TarFormatException($"Invalid non-regular metadata object {checksum}");
                        }

                        var type = ext == "dirtree" ? ObjectType.DirTree : ObjectType.DirMeta;
                        if (Has(tx, checksum, type))
                        {
                            skipped++;
                            continue;
                        }

                        WriteMetadata(tx, type, checksum, ReadSmall(reader, e, MaxMetadata), e.Name);
                        written++;
                        continue;
                    }

                case "file-xattrs":
                    {
                        afterCommit = false;
                        if (!e.IsRegular)
                        {
                            throw new TarFormatException($"Invalid xattr entry of type {TarType.Describe(e.Type)}");
                        }

                        var blob = ReadSmall(reader, e, MaxXattrs);
                        var actual = Checksum.Compute(blob);
                        if (actual != checksum)
                        {
                            throw new TarFormatException($"Checksum mismatch, expected '{checksum}' but computed '{actual}'");
                        }

                        xattrBlobs[actual] = ParseXattrs(blob, e.Name);
                        continue;
                    }

                case "file-xattrs-link" or "file.xattrs":
                    {
                        afterCommit = false;
                        if (pending is not null)
                        {
                            throw new TarFormatException($"Found previous dangling xattrs for file object '{pending.Value.File}'");
                        }

                        Xattrs xattrs;
                        if (e.Type == TarType.HardLink)
                        {
                            var target = e.LinkName.Split('/', StringSplitOptions.RemoveEmptyEntries);
                            var xs = ext == "file.xattrs"
                                ? target.LastOrDefault()
                                : target.Length >= 2 ? target[^2] + target[^1].Replace(".file-xattrs", string.Empty, StringComparison.Ordinal) : null;
                            if (xs is null || !Checksum.TryParse(xs, out var xsum) || !xattrBlobs.TryGetValue(xsum, out xattrs!))
                            {
                                throw new TarFormatException($"Failed to find xattrs content {xs ?? e.LinkName}");
                            }
                        }
                        else if (e.IsRegular && ext == "file-xattrs-link")
                        {
                            xattrs = ParseXattrs(ReadSmall(reader, e, MaxXattrs), e.Name);
                        }
                        else
                        {
                            throw new TarFormatException(ext == "file.xattrs"
                                ? $"Non-hardlink xattrs reference found for {checksum}"
                                : $"Unexpected xattrs type '{TarType.Describe(e.Type)}' found for {checksum}");
                        }

                        pending = (checksum, xattrs);
                        continue;
                    }

                case "file":
                    {
                        afterCommit = false;
                        if (_objectSet is not null)
                        {
                            if (!_objectSet.Add(checksum))
                            {
                                throw new TarFormatException($"Duplicate object: {checksum}");
                            }
                        }

                        Xattrs xattrs;
                        if (pending is { } p)
                        {
                            if (p.File != checksum)
                            {
                                throw new TarFormatException($"Object mismatch, found xattrs for {p.File} before {checksum}");
                            }

                            xattrs = p.Xattrs;
                            pending = null;
                        }
                        else
                        {
                            // Version 0 streams emit no binding for objects without xattrs.
                            xattrs = Xattrs.Empty;
                        }

                        if (writer.IsInFlight(checksum) || Has(tx, checksum, ObjectType.File))
                        {
                            skipped++;
                            continue;
                        }

                        uint perms = e.Mode & UnixMode.PermissionMask;
                        if (e.IsRegular)
                        {
                            var header = new FileHeader(e.Uid, e.Gid, UnixMode.Regular | perms, string.Empty, xattrs);
                            writer.Write(header, reader.DataStream, e.Size, checksum, e.Name);
                        }
                        else if (e.Type == TarType.Symlink)
                        {
                            if (e.LinkName.Length == 0)
                            {
                                throw new TarFormatException($"Invalid symlink {e.Name}");
                            }

                            var header = new FileHeader(e.Uid, e.Gid, UnixMode.Symlink | perms, e.LinkName, xattrs);
                            WriteContent(tx, header, Stream.Null, 0, checksum, e.Name);
                        }
                        else
                        {
                            throw new TarFormatException($"Invalid tar entry of type {TarType.Describe(e.Type)} for {e.Name}");
                        }

                        written++;
                        continue;
                    }

                default:
                    throw new TarFormatException($"Invalid object type {ext} ({e.Name})");
            }
        }

        writer.Drain();
        if (_objectSet is not null)
        {
            if (pending is not null)
            {
                throw new TarFormatException($"Found previous dangling xattrs for file object '{pending.Value.File}'");
            }

            return new TarImportResult(default, written, skipped);
        }

        if (commit is not { } id)
        {
            throw new TarFormatException("Commit object not found");
        }

        if (unverified is not null)
        {
            throw new TarFormatException("Verifying ostree commit in tar stream: End of stream after commit object, expected commitmeta object");
        }

        if (pending is not null)
        {
            throw new TarFormatException($"Found previous dangling xattrs for file object '{pending.Value.File}'");
        }

        CheckComplete(tx, id, KnownCompleteTree);
        return new TarImportResult(id, written, skipped);
    }

    /// <summary>
    /// Writes content objects while the stream is read on: objects up to 512 KiB are buffered and hashed and written on
    /// worker threads (at most 16 in flight, and at most 2 MiB of data: peak memory stays bounded whatever the sizes);
    /// larger ones are written on the reading thread.
    /// Only the objects in flight are remembered here: once written, the transaction knows them, so memory does not
    /// grow with the number of objects.
    /// </summary>
    private sealed class ContentWriter(RepoTransaction tx) : IDisposable
    {
        private const int MaxBuffered = 512 << 10;
        private const int MaxInFlight = 16;
        private const int Unit = 64 << 10;
        private readonly SemaphoreSlim _slots = new(MaxInFlight);
        private readonly SemaphoreSlim _bytes = new(4 * MaxBuffered / Unit);
        private readonly List<Task> _tasks = [];
        private readonly HashSet<Checksum> _inFlight = [];
        private Exception? _error;

        /// <summary>True while an earlier copy of the object is being written.</summary>
        public bool IsInFlight(Checksum c)
        {
            lock (_inFlight)
            {
                return _inFlight.Contains(c);
            }
        }

        public void Write(FileHeader header, Stream data, long size, Checksum expected, string name)
        {
            ThrowIfFailed();
            if (size > MaxBuffered)
            {
                WriteContent(tx, header, data, size, expected, name);
                return;
            }

            // Only this thread takes units, so taking them one at a time cannot deadlock against another taker.
            int units = (int)((size + Unit - 1) / Unit);
            for (int i = 0; i < units; i++)
            {
                _bytes.Wait();
            }

            _slots.Wait();
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Max(1, size));
            void Release()
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                _slots.Release();
                if (units > 0)
                {
                    _bytes.Release(units);
                }
            }

            try
            {
                data.ReadExactly(buffer, 0, (int)size);
            }
            catch
            {
                Release();
                throw;
            }

            lock (_inFlight)
            {
                _inFlight.Add(expected);
            }

            _tasks.Add(Task.Run(() =>
            {
                try
                {
                    WriteContent(tx, header, new MemoryStream(buffer, 0, (int)size, writable: false), size, expected, name);
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref _error, ex, null);
                }
                finally
                {
                    lock (_inFlight)
                    {
                        _inFlight.Remove(expected);
                    }

                    Release();
                }
            }));
            if (_tasks.Count >= 256)
            {
                _tasks.RemoveAll(t => t.IsCompleted);
            }
        }

        /// <summary>Waits for every write and raises the first failure.</summary>
        public void Drain()
        {
            WaitAll();
            ThrowIfFailed();
        }

        /// <summary>Waits for every write, failures or not.</summary>
        public void WaitAll()
        {
            foreach (var t in _tasks)
            {
                ((IAsyncResult)t).AsyncWaitHandle.WaitOne();
            }

            _tasks.Clear();
        }

        private void ThrowIfFailed()
        {
            if (_error is { } e)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
            }
        }

        public void Dispose()
        {
            _slots.Dispose();
            _bytes.Dispose();
        }
    }

    private static void WriteContent(RepoTransaction tx, FileHeader header, Stream data, long size, Checksum expected, string name)
    {
        try
        {
            // The caller has looked the object up already.
            tx.WriteAbsentContent(header, data, size, expected);
        }
        catch (ObjectCorruptedException ex)
        {
            throw new TarFormatException($"Corrupted file object {name}: {ex.Message}");
        }
    }

    private static void WriteMetadata(RepoTransaction tx, ObjectType type, Checksum checksum, byte[] bytes, string name)
    {
        try
        {
            _ = type switch
            {
                ObjectType.Commit => (object)Commit.Parse(bytes),
                ObjectType.DirTree => DirTree.Parse(bytes),
                _ => DirMeta.Parse(bytes),
            };
            tx.WriteMetadataTrusted(type, checksum, bytes);
        }
        catch (ObjectCorruptedException ex)
        {
            throw new TarFormatException($"Corrupted {type.ToName()} object {name}: {ex.Message}");
        }
        catch (OstreeFormatException ex) when (ex is not TarFormatException)
        {
            throw new TarFormatException($"Corrupted {type.ToName()} object {name}: {ex.Message}");
        }
    }

    private static void CheckComplete(RepoTransaction tx, Checksum commit, Func<Checksum, string, bool>? knownComplete)
    {
        var c = Commit.Parse(tx.ReadMetadataBytes(ObjectType.Commit, commit));
        var seen = new HashSet<(Checksum, ObjectType)>();
        var stack = new Stack<(Checksum Tree, Checksum Meta, string Path)>();
        stack.Push((c.RootTree, c.RootMeta, "/"));
        while (stack.Count > 0)
        {
            var (tree, meta, path) = stack.Pop();
            if (seen.Add((meta, ObjectType.DirMeta)) && !tx.HasObject(meta, ObjectType.DirMeta))
            {
                throw new TarFormatException($"Missing dirmeta object {meta} (path {path}) in the tar stream");
            }

            if (!seen.Add((tree, ObjectType.DirTree)))
            {
                continue;
            }

            if (knownComplete?.Invoke(tree, path) == true)
            {
                continue;
            }

            if (!tx.HasObject(tree, ObjectType.DirTree))
            {
                throw new TarFormatException($"Missing dirtree object {tree} (path {path}) in the tar stream");
            }

            var dt = DirTree.Parse(tx.ReadMetadataBytes(ObjectType.DirTree, tree));
            foreach (var f in dt.Files)
            {
                // Files are not remembered (a duplicate is looked up again): memory stays with the directory count.
                if (!tx.HasObject(f.Checksum, ObjectType.File))
                {
                    throw new TarFormatException($"Missing file object {f.Checksum} (path {Reachability.Join(path, f.Name)}) in the tar stream");
                }
            }

            foreach (var d in dt.Dirs)
            {
                stack.Push((d.TreeChecksum, d.MetaChecksum, Reachability.Join(path, d.Name)));
            }
        }
    }

    private static Xattrs ParseXattrs(byte[] blob, string name)
    {
        try
        {
            return blob.Length == 0 ? Xattrs.Empty : Xattrs.FromGVariant(GVariantValue.Parse(Xattrs.ArrayType, blob));
        }
        catch (OstreeFormatException ex)
        {
            throw new TarFormatException($"Invalid xattrs blob {name}: {ex.Message}");
        }
    }

    private static byte[] ReadSmall(TarReader reader, TarEntry e, int max)
    {
        if (e.Size > max)
        {
            throw new TarFormatException($"{e.Name}: object of size {e.Size} exceeds {max} bytes");
        }

        var data = new byte[e.Size];
        reader.DataStream.ReadExactly(data);
        return data;
    }

    // Whether a path has a ".." component.
    private static bool HasDotDot(string name)
    {
        foreach (var range in name.AsSpan().Split('/'))
        {
            if (name.AsSpan(range).SequenceEqual(".."))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The path inside <c>sysroot/ostree/repo/</c>, or null for paths outside it.</summary>
    private static string? RepoRelative(string name)
    {
        var n = name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;
        const string prefix = OstreeTarExporter.RepoPrefix + "/";
        return n.StartsWith(prefix, StringComparison.Ordinal) ? n[prefix.Length..].TrimEnd('/') : null;
    }

    private static (Checksum Checksum, string Ext) ParseObjectPath(string rel, string name)
    {
        var parts = rel.Split('/');
        if (parts.Length != 3 || parts[0] != "objects")
        {
            throw new TarFormatException($"Invalid object path {name}");
        }

        if (parts[1].Length != 2)
        {
            throw new TarFormatException($"Invalid checksum parent {parts[1]}");
        }

        var file = parts[2];
        int dot = file.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            throw new TarFormatException($"Invalid object type in {name}");
        }

        var stem = file[..dot];
        var ext = file[(dot + 1)..];
        if (stem.Length != 62)
        {
            throw new TarFormatException($"Invalid checksum part {stem}");
        }

        var hex = parts[1] + stem;
        if (!Checksum.IsValidHex(hex))
        {
            throw new TarFormatException($"Invalid sha256 checksum {hex}");
        }

        return (Checksum.Parse(hex), ext);
    }
}
