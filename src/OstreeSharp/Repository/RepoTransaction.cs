// Transactions: objects are staged under tmp/staging-*/ and published by rename when the
// transaction commits; refs move last (spec: ostree-repo-format.md, section 3.1).
using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Repository;

/// <summary>What a transaction wrote.</summary>
public sealed record TransactionStats(int MetadataWritten, int ContentWritten, long ContentBytesWritten, int RefsWritten)
{
    /// <summary>Metadata objects the transaction was given, written or already kept.</summary>
    public int MetadataTotal { get; init; }

    /// <summary>Content objects the transaction was given, written or already kept.</summary>
    public int ContentTotal { get; init; }

    /// <summary>Files a commit took as the object they are hardlinks of, without reading them (<c>--link-checkout-speedup</c>).</summary>
    public int DevinoCacheHits { get; init; }
}

/// <summary>A write transaction on a repository. Dispose without <see cref="Commit"/> to abort.</summary>
public sealed class RepoTransaction : IDisposable
{
    private const int BufferSize = 128 * 1024;
    private readonly OstreeRepo _repo;
    private readonly RepoLock _repoLock;
    private readonly SafeFileHandle _stagingLock;
    private readonly string _staging;

    // Staged objects live at tmp/staging-*/XX/REST.EXT, named as in objects/: the staging folder is the
    // transaction's only record of them, so memory does not grow with the number of objects written.
    private readonly int[] _stagedDirs = new int[256];
    private readonly List<(string Refspec, Checksum? Target, string? Collection)> _refs = [];
    private readonly ConcurrentDictionary<string, bool> _madeDirs = new(StringComparer.Ordinal);
    private int _metadataWritten, _contentWritten, _tmpCounter, _metadataTotal, _contentTotal, _devinoHits;
    private long _contentBytes;
    private bool _done;
    private bool _committed;
    private bool _discardStaging; // the disk or the free-space reserve ran out: staged objects are not kept for later
    private readonly string _stagingPrefix;
    private int _fsVerity; // a Tristate; lowered to No when the filesystem turns out to lack fs-verity

    // The repository's free-space reserve (null when its config asks for none) and the blocks this transaction may
    // still fill before reaching it, counted from the filesystem's free blocks when the transaction began.
    private readonly FreeSpaceReserve? _reserve;
    private readonly long _blockSize;
    private long _spaceBlocks;
    private readonly int _zlibLevel;

    internal RepoTransaction(OstreeRepo repo)
    {
        _repo = repo;
        _zlibLevel = repo.ArchiveZlibLevel;
        var reserve = repo.FreeSpace;
        if (reserve.Enabled)
        {
            (_spaceBlocks, _blockSize) = reserve.Budget(repo.Path);
            _reserve = reserve;
        }

        _fsVerity = (int)repo.FsVerityWanted;
        _repoLock = repo.Lock(exclusive: false);
        var tmp = Path.Combine(repo.Path, "tmp");
        Directory.CreateDirectory(tmp);

        // As libostree: staging-BOOTID-RANDOM, so leftovers name the boot that wrote them. A staging folder of this
        // boot that no transaction holds (one that was aborted or killed, ours or libostree's) is taken over with the
        // objects it staged, which are whole (see WriteContentCoreInner) and were written since the machine started:
        // a pull run again fetches only what they lack. Folders of other boots go in the cleanup at the end.
        _stagingPrefix = $"staging-{BootId()}-";
        if (TakeOverStaging(tmp, _stagingPrefix) is { } taken)
        {
            (_staging, _stagingLock) = taken;
            Resumed = true;
            AdoptStaged();
        }
        else
        {
            _staging = Path.Combine(tmp, _stagingPrefix + Guid.NewGuid().ToString("N"));

            // Lock first, then create: a concurrent transaction cleaning stale staging folders must never
            // see this folder unlocked.
            _stagingLock = FileUtil.TakeLockFile(_staging + "-lock", FileMode.Create, wait: true)!;
            Directory.CreateDirectory(_staging);
        }
    }

    /// <summary>
    /// Whether this transaction took over the staging folder of an earlier one (libostree's "transaction resume"):
    /// objects staged there count as staged here, but a commit among them may lack part of its tree.
    /// </summary>
    public bool Resumed { get; }

    /// <summary>The first staging folder of <paramref name="prefix"/> (this boot's) that no one holds, locked; or null.</summary>
    private static (string Path, SafeFileHandle Lock)? TakeOverStaging(string tmp, string prefix)
    {
        foreach (var dir in Directory.EnumerateDirectories(tmp, prefix + "*").Order(StringComparer.Ordinal))
        {
            if (File.Exists(dir + ".lock"))
            {
                continue; // an earlier build's (flock on FOLDER.lock): left to the cleanup
            }

            var h = FileUtil.TakeLockFile(dir + "-lock", FileMode.OpenOrCreate, wait: false);
            if (h is null)
            {
                continue;
            }

            if (!Directory.Exists(dir))
            {
                h.Dispose(); // removed by a cleanup meanwhile; a lock file left alone goes in the next one
                continue;
            }

            Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow); // as libostree touches it: not old, whatever tmp-expiry says
            return (dir, h);
        }

        return null;
    }

    /// <summary>Counts the subfolders of a taken-over staging folder as made, and removes the temporary files of the transaction that left it.</summary>
    private void AdoptStaged()
    {
        for (int i = 0; i < _stagedDirs.Length; i++)
        {
            var dir = Path.Combine(_staging, i.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            if (!Directory.Exists(dir))
            {
                continue;
            }

            _stagedDirs[i] = 1;
            foreach (var path in Directory.EnumerateFileSystemEntries(dir, ".*"))
            {
                FileUtil.DeleteAny(path);
            }
        }
    }

    // The kernel's boot id; OSTREE_BOOTID replaces it, as in libostree (its test suite sets it).
    internal static string BootId()
    {
        var id = Environment.GetEnvironmentVariable("OSTREE_BOOTID");
        if (string.IsNullOrEmpty(id))
        {
            try
            {
                id = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            }
            catch (IOException)
            {
                id = "unknown";
            }
        }

        return id.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') ? id : throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Invalid boot id '{id}' (OSTREE_BOOTID)");
    }

    /// <summary>The repository written to.</summary>
    public OstreeRepo Repo => _repo;

    /// <summary>The folder this transaction stages objects in (under the repository's tmp/), in flux until it commits.</summary>
    public string StagingPath => _staging;

    // Staging folders and lock files that no live transaction holds: left by a process that was killed (a lock file
    // alone when it died between creating the two, or between removing them). A folder's lock is FOLDER-lock, as
    // libostree names it, so that each sees the other's live transactions; earlier builds used FOLDER.lock with
    // flock, still honoured. Then, as libostree's cleanup, anything else in tmp/ but its cache/ that was last changed
    // more than core.tmp-expiry-secs ago (a day by default; a time in the future counts as recent).
    internal static void CleanStaleStaging(string tmp, ulong expirySeconds = DefaultTmpExpirySeconds, string? keepPrefix = null)
    {
        var stale = Directory.EnumerateDirectories(tmp, "staging-*")
            .Concat(Directory.EnumerateFiles(tmp, "staging-*-lock").Select(f => f[..^"-lock".Length]))
            .Concat(Directory.EnumerateFiles(tmp, "staging-*.lock").Select(f => f[..^".lock".Length]))
            .Distinct(StringComparer.Ordinal).ToList();
        foreach (var dir in stale)
        {
            SafeFileHandle? legacy = null;
            try
            {
                if (File.Exists(dir + ".lock"))
                {
                    legacy = File.OpenHandle(dir + ".lock", FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                    if (!Native.Flock(legacy, exclusive: true, wait: false))
                    {
                        continue; // a transaction of an earlier build holds it
                    }
                }

                using var h = FileUtil.TakeLockFile(dir + "-lock", FileMode.OpenOrCreate, wait: false);
                if (h is not null && keepPrefix is not null && Path.GetFileName(dir).StartsWith(keepPrefix, StringComparison.Ordinal) && Directory.Exists(dir))
                {
                    File.Delete(dir + "-lock"); // (held: a lock file is removed by whoever holds it)
                    continue; // this boot's: kept for the next transaction to take over, as libostree keeps it
                }

                if (h is not null)
                {
                    FileUtil.DeleteAny(dir);
                    File.Delete(dir + "-lock");
                    File.Delete(dir + ".lock");
                }
            }
            catch (IOException)
            {
                // Another process is using or removing it.
            }
            finally
            {
                legacy?.Dispose();
            }
        }

        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        foreach (var path in Directory.EnumerateFileSystemEntries(tmp))
        {
            var name = Path.GetFileName(path);
            if (name == "cache" || name.StartsWith("staging-", StringComparison.Ordinal) || !Native.TryLStat(path, out var st))
            {
                continue;
            }

            long age = now - st.MtimeSeconds;
            if (age > 0 && (ulong)age > expirySeconds)
            {
                try
                {
                    FileUtil.DeleteAny(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new OstreeException(OstreeErrorCode.IOFailed, $"tmpdir cleanup: Removing {name}: {e.Message}", e);
                }
            }
        }
    }

    /// <summary>libostree's <c>core.tmp-expiry-secs</c> default: a day.</summary>
    internal const ulong DefaultTmpExpirySeconds = 86400;

    /// <summary>The bytes of a metadata object staged by this transaction, else of the repository's.</summary>
    /// <exception cref="ObjectNotFoundException">Neither has it.</exception>
    public byte[] ReadMetadataBytes(ObjectType type, Checksum checksum) =>
        TryReadStagedMetadata(checksum, type) ?? _repo.ReadMetadataBytes(type, checksum);

    /// <summary>The bytes of a metadata object staged by this transaction, or null.</summary>
    public byte[]? TryReadStagedMetadata(Checksum checksum, ObjectType type)
    {
        var path = StagedPath(checksum, type);
        return Native.TryLStat(path, out _) ? File.ReadAllBytes(path) : null;
    }

    /// <summary>A content object staged by this transaction, else the repository's.</summary>
    /// <exception cref="ObjectNotFoundException">Neither has it.</exception>
    public ContentObject LoadContent(Checksum checksum) =>
        _repo.TryLoadContentAt(checksum, StagedPath(checksum, ObjectType.File)) ?? _repo.LoadContent(checksum);

    private string StagedDir(int index)
    {
        var dir = Path.Combine(_staging, index.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
        if (Volatile.Read(ref _stagedDirs[index]) == 0)
        {
            int err = Native.Mkdir(dir, 0x1ED);
            if (err is not (0 or 17))
            {
                throw new IOException($"mkdir {dir}: errno {err}");
            }

            Volatile.Write(ref _stagedDirs[index], 1);
        }

        return dir;
    }

    private string StagedPath(Checksum checksum, ObjectType type)
    {
        var hex = checksum.ToHex();
        return Path.Combine(StagedDir(Convert.ToInt32(hex[..2], 16)), hex[2..] + "." + _repo.Extension(type));
    }

    /// <summary>
    /// A new temporary file name inside the staging folder; temporary names start with a dot, which no staged
    /// object's name does. They are spread over the subfolders: parallel writers creating entries in one directory
    /// serialise on its lock, which shows up as heavy system time.
    /// </summary>
    private string TempPath()
    {
        int id = Interlocked.Increment(ref _tmpCounter);
        return Path.Combine(StagedDir(id & 0xFF), ".t" + id.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Moves a finished temporary file to its staged name; false (and the file removed) when it was staged already.</summary>
    private bool Publish(string tmp, Checksum checksum, ObjectType type)
    {
        if (Native.RenameNoReplace(tmp, StagedPath(checksum, type)))
        {
            return true;
        }

        FileUtil.DeleteAny(tmp);
        return false;
    }

    private bool IsStaged(Checksum checksum, ObjectType type) => Native.TryLStat(StagedPath(checksum, type), out _);

    /// <summary>True when the object is in the repository or staged in this transaction.</summary>
    public bool HasObject(Checksum checksum, ObjectType type) => _repo.HasObject(checksum, type) || IsStaged(checksum, type);

    /// <summary>Writes a content-addressed metadata object (commit, dirtree, dirmeta) and returns its id.</summary>
    public Checksum WriteMetadata(ObjectType type, byte[] bytes)
    {
        if (type is not (ObjectType.Commit or ObjectType.DirTree or ObjectType.DirMeta))
        {
            throw new ArgumentException($"{type} is not content-addressed", nameof(type));
        }

        var c = Checksum.Compute(bytes);
        Interlocked.Increment(ref _metadataTotal);
        if (!HasObject(c, type))
        {
            Stage(c, type, bytes);
        }

        if (type != ObjectType.Commit)
        {
            _sizedObjects?.TryAdd(c, type);
        }

        return c;
    }

    /// <summary>
    /// Writes a metadata object received from elsewhere (pulls, imports, deltas) under a given id, after checking the
    /// id and that the object parses: entry names, their order and the normal form, as the readers will check them.
    /// </summary>
    /// <exception cref="ObjectCorruptedException">The id does not match or the object does not parse.</exception>
    public void WriteMetadataTrusted(ObjectType type, Checksum expected, byte[] bytes) => WriteMetadataTrusted(type, expected, bytes, verifyChecksum: true);

    /// <summary>
    /// As <see cref="WriteMetadataTrusted(ObjectType, Checksum, byte[])"/>; <paramref name="verifyChecksum"/> false
    /// takes the id from a trusted local source without hashing the bytes, as libostree's pull-local does.
    /// </summary>
    public void WriteMetadataTrusted(ObjectType type, Checksum expected, byte[] bytes, bool verifyChecksum)
    {
        if (type is ObjectType.Commit or ObjectType.DirTree or ObjectType.DirMeta)
        {
            var actual = verifyChecksum ? Checksum.Compute(bytes) : expected;
            if (actual != expected)
            {
                throw ObjectCorruptedException.ChecksumMismatch(expected.ToHex(), type.ToName(), actual.ToHex());
            }

            if (HasObject(expected, type))
            {
                return;
            }

            try
            {
                _ = type switch
                {
                    ObjectType.Commit => (object)Objects.Commit.Parse(bytes),
                    ObjectType.DirTree => DirTree.Parse(bytes),
                    _ => DirMeta.Parse(bytes),
                };
            }
            catch (OstreeFormatException e)
            {
                throw new ObjectCorruptedException($"{expected}.{type.ToName()}", e.Message, e);
            }
        }

        Stage(expected, type, bytes);
    }

    /// <summary>Counts a file a commit took as a kept object without reading it (its device and inode are that object's).</summary>
    public void CountDevinoCacheHit() => Interlocked.Increment(ref _devinoHits);

    /// <summary>Writes detached metadata for a commit (replacing any).</summary>
    public void WriteCommitDetachedMetadata(Checksum commit, GVariant.GVariantValue? metadata)
    {
        if (metadata is null)
        {
            File.Delete(StagedPath(commit, ObjectType.CommitMeta));
            File.Delete(_repo.ObjectPath(commit, ObjectType.CommitMeta));
            return;
        }

        Stage(commit, ObjectType.CommitMeta, metadata.ToBytes());
    }

    /// <summary>
    /// Moves a regular file into the repository as the content object <paramref name="header"/> describes, after hashing
    /// it, as libostree adopts the files of <c>commit --consume</c>: a bare-user-only repository gets its mode made
    /// canonical first; a bare one must have the file exactly as <paramref name="header"/> says. False, with the file
    /// untouched, when it is on another filesystem.
    /// </summary>
    public bool TryAdoptFile(string path, FileHeader header, out Checksum checksum)
    {
        ArgumentNullException.ThrowIfNull(header);
        if (_repo.Mode is not (RepoMode.Bare or RepoMode.BareUserOnly) || header.IsSymlink)
        {
            throw new InvalidOperationException($"cannot adopt {path} into a {_repo.Mode.ToConfigName()} repository");
        }

        header = ForThisMode(header, null);
        using var hash = header.StartContentHash();
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
        {
            CopyHashing(b => fs.Read(b), fs.Length, hash, null, path);
        }

        checksum = Checksum.FromHash(hash);
        if (HasObject(checksum, ObjectType.File))
        {
            File.Delete(path); // consumed: the repository has it already
            return true;
        }

        if (_repo.Mode == RepoMode.BareUserOnly)
        {
            Native.Chmod(path, header.Mode & 0x1ED);
        }

        var staged = StagedPath(checksum, ObjectType.File);
        switch (Native.RenameErrno(path, staged))
        {
            case 0:
                break;
            case 18: // EXDEV: the file is on another filesystem
                return false;
            case var errno:
                throw new IOException($"rename {path} to {staged}: errno {errno}");
        }

        ApplyFsVerity(staged);
        Interlocked.Increment(ref _contentWritten);
        return true;
    }

    private bool IsBareUserOnlyConversion(OstreeRepo source, Checksum checksum)
    {
        if (source.Mode != RepoMode.BareUser || _repo.Mode != RepoMode.BareUserOnly)
        {
            return false;
        }

        var path = source.ObjectPath(checksum, ObjectType.File);
        if (source.TryLoadContentAt(checksum, path) is not { Header: var h } || h.IsSymlink || h.Uid != 0 || h.Gid != 0 || h.Xattrs.Count != 0
            || (h.Mode & ~UnixMode.TypeMask & ~0x1FDu) != 0)
        {
            return false;
        }

        return Native.TryLStat(path, out var st) && (st.Mode & 0xFFF) == (h.Mode & 0xFFF);
    }

    /// <summary>
    /// Takes an object of a trusted repository as a hardlink to its file, as libostree's local imports do: nothing is
    /// read or written. False when it cannot be linked (a content object of another mode, another filesystem, a
    /// refused link): the caller copies it instead.
    /// </summary>
    public bool TryImportByHardlink(OstreeRepo source, Checksum checksum, ObjectType type)
    {
        ArgumentNullException.ThrowIfNull(source);
        // Metadata objects are the same bytes in every mode; content objects between repositories of one mode, and
        // (as libostree does for flatpak) a bare-user regular file into bare-user-only, here only when that file is
        // exactly what bare-user-only would store: owned by root, no xattrs, an allowed mode, as the file's own mode.
        if (type == ObjectType.CommitMeta
            || (type == ObjectType.File && source.Mode != _repo.Mode && !IsBareUserOnlyConversion(source, checksum)))
        {
            return false;
        }

        if (HasObject(checksum, type))
        {
            return true;
        }

        switch (Native.LinkErrno(source.ObjectPath(checksum, type), StagedPath(checksum, type)))
        {
            case 0:
                Interlocked.Increment(ref type == ObjectType.File ? ref _contentWritten : ref _metadataWritten);
                return true;
            case 17: // EEXIST: staged meanwhile by another writer
                return true;
            default:
                return false;
        }
    }

    private void Stage(Checksum c, ObjectType type, byte[] bytes)
    {
        var tmp = TempPath();
        try
        {
            using var h = File.OpenHandle(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            RandomAccess.Write(h, bytes, 0);
        }
        catch (IOException e) when (IsOutOfSpace(e))
        {
            _discardStaging = true;
            FileUtil.DeleteAny(tmp);
            throw;
        }

        if (type == ObjectType.CommitMeta)
        {
            // Detached metadata may be replaced within a transaction: the last one written is published.
            Native.Rename(tmp, StagedPath(c, type));
            Interlocked.Increment(ref _metadataWritten);
        }
        else
        {
            ApplyFsVerity(tmp);
            if (Publish(tmp, c, type))
            {
                Interlocked.Increment(ref _metadataWritten);
            }
        }
    }

    /// <summary>
    /// Enables fs-verity on a new object file as the repository's config asks (<see cref="OstreeRepo.FsVerityWanted"/>):
    /// required, a filesystem without it is an error; wanted when possible, the first refusal stops the attempts.
    /// </summary>
    private void ApplyFsVerity(string path)
    {
        if (!OstreeRepo.EnsureFsVerity(path, (Tristate)Volatile.Read(ref _fsVerity), allowExisting: false))
        {
            Volatile.Write(ref _fsVerity, (int)Tristate.No);
        }
    }

    /// <summary>
    /// Takes the blocks of a content object about to be kept from the free-space budget, as libostree counts them (its
    /// size in whole blocks, plus one); returns them, for <see cref="ReturnSpace"/> if it is not kept after all.
    /// </summary>
    /// <exception cref="OstreeException">The object would go into the repository's reserve (<see cref="OstreeErrorCode.InsufficientSpace"/>).</exception>
    private long ReserveSpace(long bytes)
    {
        if (_reserve is null)
        {
            return 0;
        }

        long blocks = (bytes / _blockSize) + 1;
        long left = Volatile.Read(ref _spaceBlocks);
        while (true)
        {
            if (blocks > left)
            {
                _discardStaging = true; // as libostree, which then removes this boot's staging folders too
                throw _reserve.Exceeded(blocks * _blockSize);
            }

            long seen = Interlocked.CompareExchange(ref _spaceBlocks, left - blocks, left);
            if (seen == left)
            {
                return blocks;
            }

            left = seen;
        }
    }

    private void ReturnSpace(long blocks)
    {
        if (blocks > 0)
        {
            Interlocked.Add(ref _spaceBlocks, blocks);
        }
    }

    /// <summary>Writes a file from disk as a content object with the given header; returns its id.</summary>
    public Checksum WriteContentFromFile(string sourcePath, FileHeader header, long size)
    {
        if (header.IsSymlink)
        {
            return WriteContent(header, Stream.Null, 0);
        }

        using var handle = File.OpenHandle(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        long offset = 0;
        return WriteContentCore(header, size, null, buf =>
        {
            int n = RandomAccess.Read(handle, buf, offset);
            offset += n;
            return n;
        });
    }

    /// <summary>
    /// Streams a content object into the repository, hashing while writing (and compressing in
    /// archive mode). When <paramref name="expected"/> is given, a mismatch is an error.
    /// </summary>
    public Checksum WriteContent(FileHeader header, Stream data, long size, Checksum? expected = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        return WriteContentCore(header, size, expected, buf => data.Read(buf));
    }

    /// <summary>
    /// Writes a content object under the id its trusted source gives, without checking that it hashes to it (an
    /// object already kept is not read at all), as libostree imports from a local repository unless asked for
    /// <c>--untrusted</c>.
    /// </summary>
    public void WriteContentTrusted(FileHeader header, Stream data, long size, Checksum id)
    {
        ArgumentNullException.ThrowIfNull(data);
        WriteContentCore(header, size, id, buf => data.Read(buf), trusted: true);
    }

    /// <summary>Like <see cref="WriteContent"/> with an expected id, for a caller that has just seen it is not kept.</summary>
    internal void WriteAbsentContent(FileHeader header, Stream data, long size, Checksum expected) =>
        WriteContentCore(header, size, expected, buf => data.Read(buf), absent: true);

    /// <summary>
    /// Writes a content object received in archive form (the bytes of a <c>.filez</c> file, as an HTTP
    /// pull gets them), checking that it hashes to <paramref name="expected"/>. An archive repository
    /// keeps the bytes as they are; the other modes store the inflated file.
    /// </summary>
    /// <exception cref="ObjectCorruptedException">The object is malformed or hashes to another id.</exception>
    public void WriteArchiveContent(Checksum expected, Stream filez) => WriteArchiveContent(expected, filez, absent: false);

    /// <summary>
    /// As the public overload; <paramref name="absent"/> says the caller has just seen the object is not kept;
    /// <paramref name="trusted"/> (a pull's <c>--http-trusted</c>) keeps the bytes of an archive repository without
    /// hashing them, as libostree mirrors into one. Other modes store the inflated file and always check it.
    /// </summary>
    internal void WriteArchiveContent(Checksum expected, Stream filez, bool absent, bool trusted = false)
    {
        ArgumentNullException.ThrowIfNull(filez);
        Interlocked.Increment(ref _contentTotal);
        var name = expected.ToHex() + ".filez";
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            filez.ReadExactly(prefix);
            uint len = BinaryPrimitives.ReadUInt32BigEndian(prefix);
            if (len > 10 * 1024 * 1024)
            {
                throw new OstreeFormatException($"archive header length {len} is invalid");
            }

            var headerBytes = new byte[len];
            filez.ReadExactly(headerBytes);
            var (header, size) = FileHeader.ParseArchiveHeader(headerBytes);
            FileHeader.ValidateMode(header.Mode);
            Stream Data() => header.IsSymlink ? Stream.Null : new LengthCheckingStream(new DeflateStream(filez, CompressionMode.Decompress, leaveOpen: true), (long)size, name);
            if (_repo.Mode != RepoMode.Archive)
            {
                using var data = Data();
                WriteContentCore(header, (long)size, expected, buf => data.Read(buf), absent);
                return;
            }

            if (BareUserOnlyFiles)
            {
                FileHeader.ValidateBareUserOnlyMode(header.Mode, expected);
            }

            // Archive: check the bytes by inflating them, then keep them as they came.
            if (!filez.CanSeek)
            {
                throw new ArgumentException("archive content must be seekable to be kept as received", nameof(filez));
            }

            if (!trusted)
            {
                using var hash = header.StartContentHash();
                using var data = Data();
                CopyHashing(b => data.Read(b), header.IsSymlink ? 0 : (long)size, hash, null, name);
                var actual = Checksum.FromHash(hash);
                if (actual != expected)
                {
                    throw ObjectCorruptedException.ChecksumMismatch(expected.ToHex(), "file", actual.ToHex());
                }
            }

            if (!absent && HasObject(expected, ObjectType.File))
            {
                return;
            }

            // Written aside and renamed once whole, as every staged object (see WriteContentCoreInner).
            var tmp = TempPath();
            long blocks = ReserveSpace(filez.Length);
            bool kept = false;
            try
            {
                try
                {
                    using var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
                    filez.Position = 0;
                    filez.CopyTo(fs);
                }
                catch (IOException e) when (IsOutOfSpace(e))
                {
                    _discardStaging = true;
                    throw;
                }

                kept = Native.RenameNoReplace(tmp, StagedPath(expected, ObjectType.File));
            }
            finally
            {
                if (!kept)
                {
                    FileUtil.DeleteAny(tmp);
                    ReturnSpace(blocks);
                }
            }

            if (!kept)
            {
                return; // staged meanwhile by another writer
            }

            Interlocked.Increment(ref _contentWritten);
            Interlocked.Add(ref _contentBytes, (long)size);
        }
        catch (Exception e) when (e is OstreeFormatException or EndOfStreamException or InvalidDataException)
        {
            throw new ObjectCorruptedException(name, e.Message, e);
        }
    }

    /// <summary>
    /// Whether content written with a known id must be safe for a bare-user-only repository (no setuid, setgid,
    /// sticky or world-writable file), as a pull's <c>--bareuseronly-files</c> asks.
    /// </summary>
    public bool BareUserOnlyFiles { get; set; }

    // A bare-user-only repository keeps no owner and no xattrs, and refuses modes it cannot store.
    private FileHeader ForThisMode(FileHeader header, Checksum? expected)
    {
        if (_repo.Mode != RepoMode.BareUserOnly)
        {
            return header;
        }

        if (header.Uid != 0 || header.Gid != 0 || header.Xattrs.Count != 0)
        {
            header = header with { Uid = 0, Gid = 0, Xattrs = Xattrs.Empty };
        }

        // libostree's check and words (a commit's own files were made canonical before they got here).
        FileHeader.ValidateBareUserOnlyMode(header.Mode, expected);

        return header;
    }

    private Checksum WriteContentCore(FileHeader header, long size, Checksum? expected, Func<byte[], int> read, bool absent = false, bool trusted = false)
    {
        Checksum id;
        try
        {
            id = WriteContentCoreInner(header, size, expected, read, absent, trusted);
        }
        catch (IOException e) when (IsOutOfSpace(e))
        {
            _discardStaging = true;
            throw;
        }

        _sizedObjects?.TryAdd(id, ObjectType.File);
        return id;
    }

    /// <summary>ENOSPC or EDQUOT: what is staged is not kept for a later transaction, whose room it would take.</summary>
    private static bool IsOutOfSpace(IOException e) => e.HResult is 28 or 122 || e.InnerException is IOException { HResult: 28 or 122 };

    private Checksum WriteContentCoreInner(FileHeader header, long size, Checksum? expected, Func<byte[], int> read, bool absent, bool trusted)
    {
        ArgumentNullException.ThrowIfNull(header);
        Interlocked.Increment(ref _contentTotal);
        FileHeader.ValidateMode(header.Mode);
        if (BareUserOnlyFiles && expected is { } id)
        {
            FileHeader.ValidateBareUserOnlyMode(header.Mode, id);
        }
        if (header.IsSymlink)
        {
            size = 0;
        }

        header = ForThisMode(header, expected);
        using var hash = header.StartContentHash();

        // An object already kept is only read through and checked. Otherwise it goes to a temporary file, renamed to
        // its staged name once it is whole and hashes to its id: a staged name never holds part of an object, as
        // another transaction of this boot (ours or libostree's) takes over the staging folder of one that was
        // killed, with what it staged. The free-space budget is charged for an object that will be kept: one whose id
        // is known before it is written, one whose id is not once it turns out to be new (libostree 2026.4 charged
        // every object written, kept or not, so that a commit of files the repository already had could fail for want
        // of space).
        long blocks = 0;
        if (expected is { } known)
        {
            if (!absent && HasObject(known, ObjectType.File))
            {
                return trusted ? known : VerifyOnly(hash, read, size, known);
            }

            blocks = ReserveSpace(size);
        }

        string path = TempPath();

        bool created = false, keep = false;
        try
        {
            if (_repo.Mode == RepoMode.Archive)
            {
                WriteArchive(path, header, read, size, hash, _zlibLevel, ref created);
            }
            else
            {
                WriteBare(path, header, read, size, hash, ref created);
            }

            if (!header.IsSymlink || _repo.Mode == RepoMode.BareUser)
            {
                ApplyFsVerity(path);
            }

            var checksum = trusted ? expected!.Value : Checksum.FromHash(hash);
            if (expected is { } e && e != checksum)
            {
                throw ObjectCorruptedException.ChecksumMismatch(e.ToHex(), "file", checksum.ToHex());
            }

            // The staged object is renamed into objects/ on commit.
            bool fresh = expected is null && !_repo.HasObject(checksum, ObjectType.File);
            if (fresh)
            {
                blocks = ReserveSpace(size);
            }

            // False when another writer of this transaction staged it meanwhile: this copy goes.
            keep = (expected is not null || fresh) && Native.RenameNoReplace(path, StagedPath(checksum, ObjectType.File));
            if (keep)
            {
                Interlocked.Increment(ref _contentWritten);
                Interlocked.Add(ref _contentBytes, size);
            }

            return checksum;
        }
        finally
        {
            if (created && !keep)
            {
                FileUtil.DeleteAny(path);
            }

            if (!keep)
            {
                ReturnSpace(blocks);
            }
        }
    }

    private static Checksum VerifyOnly(IncrementalHash hash, Func<byte[], int> read, long size, Checksum expected)
    {
        CopyHashing(read, size, hash, null, expected + ".file");
        var actual = Checksum.FromHash(hash);
        return actual == expected
            ? actual
            : throw ObjectCorruptedException.ChecksumMismatch(expected.ToHex(), "file", actual.ToHex());
    }

    private static void CopyHashing(Func<byte[], int> read, long size, IncrementalHash hash, Action<byte[], int>? write, string what)
    {
        var buf = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            long total = 0;
            int n;
            while ((n = read(buf)) > 0)
            {
                total += n;
                if (total > size)
                {
                    throw new OstreeFormatException($"{what}: more data than the declared {size} bytes");
                }

                hash.AppendData(buf, 0, n);
                write?.Invoke(buf, n);
            }

            if (total != size)
            {
                throw new OstreeFormatException($"{what}: {total} bytes of data, expected {size}");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }
    }

    /// <summary>
    /// Writes an archive-mode object to the new temporary file <paramref name="tmp"/> (an error if it exists).
    /// <paramref name="created"/> turns true once the file exists, so that a failure after that removes it.
    /// </summary>
    private static void WriteArchive(string tmp, FileHeader header, Func<byte[], int> read, long size, IncrementalHash hash, int level, ref bool created)
    {
        var archiveHeader = header.ToArchiveHeaderBytes((ulong)size);
        using var handle = Native.CreateExclusive(tmp);
        created = true;
        using var fs = new FileStream(handle, FileAccess.Write, 0);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, (uint)archiveHeader.Length);
        prefix[4..].Clear();
        fs.Write(prefix);
        fs.Write(archiveHeader);
        if (header.IsSymlink)
        {
            return;
        }

        if (size == 0)
        {
            // An empty raw DEFLATE stream (one final fixed block): .NET writes nothing at all.
            CopyHashing(read, 0, hash, null, tmp);
            fs.Write([0x03, 0x00]);
            return;
        }

        using var z = new DeflateStream(fs, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true);
        CopyHashing(read, size, hash, (b, n) => z.Write(b, 0, n), tmp);
    }

    /// <summary>Writes a bare-mode object, as <see cref="WriteArchive"/> does for archive mode.</summary>
    private void WriteBare(string tmp, FileHeader header, Func<byte[], int> read, long size, IncrementalHash hash, ref bool created)
    {
        var mode = _repo.Mode;
        if (header.IsSymlink)
        {
            if (mode == RepoMode.BareUser)
            {
                using (var h = Native.CreateExclusive(tmp))
                {
                    created = true;
                    RandomAccess.Write(h, Encoding.UTF8.GetBytes(header.SymlinkTarget + "\0"), 0);
                }

                Native.Chmod(tmp, 0x1A4); // 0644
                SetOstreeMeta(tmp, header);
            }
            else
            {
                Native.Symlink(header.SymlinkTarget, tmp);
                created = true;

                if (mode == RepoMode.Bare)
                {
                    Native.LChown(tmp, header.Uid, header.Gid);
                    SetXattrs(tmp, header.Xattrs);
                }
            }

            return;
        }

        using (var h = Native.CreateExclusive(tmp))
        {
            created = true;
            long offset = 0;
            CopyHashing(read, size, hash, (b, n) =>
            {
                RandomAccess.Write(h, b.AsSpan(0, n), offset);
                offset += n;
            }, tmp);

            // Owner, mode, xattrs and times through the open descriptor: four path walks fewer per object.
            switch (mode)
            {
                case RepoMode.Bare:
                    Native.SetFileMeta(h, tmp, header.Uid, header.Gid, header.Mode, header.Xattrs.Items.Select(x => (x.NameString, x.Value)), 0);
                    break;
                case RepoMode.BareUser:
                    Native.SetFileMeta(h, tmp, null, 0, (header.Mode & 0x1FD) | 0x100, [("user.ostreemeta", new DirMeta(header.Uid, header.Gid, header.Mode, header.Xattrs).ToBytes())], 0);
                    break;
                default:
                    Native.SetFileMeta(h, tmp, null, 0, header.Mode, [], 0);
                    break;
            }
        }
    }

    private static void SetOstreeMeta(string path, FileHeader header) =>
        Native.SetXattr(path, "user.ostreemeta", new DirMeta(header.Uid, header.Gid, header.Mode, header.Xattrs).ToBytes());

    private static void SetXattrs(string path, Xattrs xattrs)
    {
        foreach (var x in xattrs.Items)
        {
            Native.SetXattr(path, x.NameString, x.Value);
        }
    }

    private ConcurrentDictionary<Checksum, ObjectType>? _sizedObjects;

    /// <summary>
    /// Remember every file, dirtree and dirmeta given to the transaction from now on, written or already kept, for
    /// <see cref="WrittenSizes"/> (a commit's <c>ostree.sizes</c>, as libostree records them).
    /// </summary>
    public void TrackObjectSizes() => _sizedObjects ??= new ConcurrentDictionary<Checksum, ObjectType>();

    /// <summary>
    /// The files, dirtrees and dirmetas given to the transaction since <see cref="TrackObjectSizes"/> (else those it
    /// staged), with their stored and unpacked sizes.
    /// </summary>
    internal IEnumerable<(Checksum Checksum, ObjectType Type, ulong Archived, ulong Unpacked)> WrittenSizes()
    {
        var objects = _sizedObjects is { } tracked
            ? tracked.Select(kv => (Path: IsStaged(kv.Key, kv.Value) ? StagedPath(kv.Key, kv.Value) : _repo.ObjectPath(kv.Key, kv.Value), Checksum: kv.Key, Type: kv.Value))
            : StagedObjects();
        foreach (var (path, checksum, type) in objects)
        {
            // (An object kept only by a parent repository has no size here.)
            if (type is ObjectType.DirTree or ObjectType.DirMeta or ObjectType.File && Native.TryLStat(path, out var st))
            {
                ulong archived = (ulong)st.Size;
                ulong unpacked = type == ObjectType.File && _repo.Mode == RepoMode.Archive ? ArchivedContentSize(path) : archived;
                yield return (checksum, type, archived, unpacked);
            }
        }
    }

    private static ulong ArchivedContentSize(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096);
        Span<byte> prefix = stackalloc byte[8];
        fs.ReadExactly(prefix);
        var header = new byte[BinaryPrimitives.ReadUInt32BigEndian(prefix)];
        fs.ReadExactly(header);

        // As libostree counts them: a symlink's unpacked size is the length of its target.
        var (h, size) = FileHeader.ParseArchiveHeader(header);
        return h.IsSymlink ? (ulong)Encoding.UTF8.GetByteCount(h.SymlinkTarget) : size;
    }

    /// <summary>Every object staged so far: its staged path, id and type.</summary>
    private IEnumerable<(string Path, Checksum Checksum, ObjectType Type)> StagedObjects()
    {
        foreach (var (prefix, name, path) in StagedFiles())
        {
            int dot = name.IndexOf('.', StringComparison.Ordinal);
            yield return (path, Checksum.Parse(prefix + name[..dot]), ObjectTypeExtensions.FromExtension(name[(dot + 1)..]));
        }
    }

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    /// <summary>REST.EXT: the 62 hex digits after the subfolder's two, and an object type's extension.</summary>
    private static bool IsObjectName(string name) =>
        name.Length > 63 && name[62] == '.' && !name.AsSpan(0, 62).ContainsAnyExcept(LowerHex)
        && (name[63..] == "filez" || ObjectTypeExtensions.TryParseName(name[63..], out _));

    /// <summary>The staged files by subfolder (the first two hex digits) and name, temporary files left out.</summary>
    private IEnumerable<(string Prefix, string Name, string Path)> StagedFiles()
    {
        for (int i = 0; i < _stagedDirs.Length; i++)
        {
            if (Volatile.Read(ref _stagedDirs[i]) == 0)
            {
                continue;
            }

            var prefix = i.ToString("x2", System.Globalization.CultureInfo.InvariantCulture);
            foreach (var path in Directory.EnumerateFileSystemEntries(Path.Combine(_staging, prefix)))
            {
                var name = Path.GetFileName(path);
                if (IsObjectName(name))
                {
                    yield return (prefix, name, path); // not a temporary file of a write that failed, nor a stranger's
                }
            }
        }
    }

    /// <summary>Queues a ref update (null deletes); refs are written after all objects are published.</summary>
    public void SetRef(string refspec, Checksum? target)
    {
        OstreeRepo.ParseRefspec(refspec);
        lock (_refs)
        {
            _refs.Add((refspec, target, null));
        }
    }

    /// <summary>
    /// Queues an update of a collection ref (null deletes), as libostree's <c>ostree_repo_transaction_set_collection_ref</c>:
    /// a ref of the repository's own collection is a local ref, any other is written under refs/mirrors/COLLECTION/.
    /// </summary>
    public void SetCollectionRef(string collection, string refName, Checksum? target)
    {
        ArgumentNullException.ThrowIfNull(collection);
        OstreeRepo.ValidateCollectionId(collection);
        OstreeRepo.ValidateRefName(refName);
        lock (_refs)
        {
            _refs.Add((refName, target, collection == _repo.CollectionId ? null : collection));
        }
    }

    /// <summary>Forgets the ref updates queued so far (objects stay staged).</summary>
    public void DropRefs()
    {
        lock (_refs)
        {
            _refs.Clear();
        }
    }

    /// <summary>Runs in <see cref="Commit"/> after every staged object is published and before any ref moves.</summary>
    public Action? BeforeRefs { get; set; }

    /// <summary>Publishes staged objects, flushes them to disk, then moves refs.</summary>
    public TransactionStats Commit()
    {
        ObjectDisposedException.ThrowIf(_done, this);

        // libostree's test hook: fail before publishing anything (the staging folder stays, as after any abort).
        if (OstreeRepo.TestErrorRequested("pre-commit"))
        {
            throw new OstreeException(OstreeErrorCode.Failed, "OSTREE_REPO_TEST_ERROR_PRE_COMMIT specified");
        }

        FaultPoint.Hit("before-publish");
        var objectsDir = Path.Combine(_repo.Path, "objects");
        if (_repo.Fsync && StagedFiles().Any())
        {
            // The objects' data reaches the disk before their names enter objects/, as libostree orders it: after a
            // power cut, objects/ never holds a name whose content was lost (a later pull would take it as present).
            if (_repo.PerObjectFsync)
            {
                // One fsync per object instead of a syncfs that would also flush every other writer's data.
                Parallel.ForEach(StagedFiles(), f =>
                {
                    if (Native.TryLStat(f.Path, out var st) && (st.Mode & 0xF000) == 0x8000)
                    {
                        Native.FsyncPath(f.Path);
                    }
                });
            }
            else
            {
                Native.SyncFs(_staging);
            }
        }

        // Commits go last, after their detached metadata, and that after every tree and file: a transaction killed
        // while publishing never leaves a commit whose tree is missing, which fsck would call corrupt. The rest is
        // published as the staging folder is read (a list of every object held three strings each: 37 MB for a tree
        // of 55,000 files), one object behind, so that the last one published is known.
        var last = new List<(string Prefix, string Name, string Path)>();
        (string Prefix, string Name, string Path)? held = null;
        static int Rank(string name) =>
            name.EndsWith(".commit", StringComparison.Ordinal) ? 2 : name.EndsWith(".commitmeta", StringComparison.Ordinal) ? 1 : 0;
        foreach (var f in StagedFiles())
        {
            if (Rank(f.Name) > 0)
            {
                last.Add(f);
                continue;
            }

            if (held is { } h)
            {
                Publish(h);
            }

            held = f;
        }

        last = [.. last.OrderBy(f => Rank(f.Name))];
        if (held is { } lastOther)
        {
            last.Insert(0, lastOther);
        }

        for (int i = 0; i < last.Count; i++)
        {
            if (i == last.Count - 1)
            {
                FaultPoint.Hit("before-last-object");
            }

            Publish(last[i]);
        }

        void Publish((string Prefix, string Name, string Path) f)
        {
            var (prefix, name, path) = f;
            var dir = Path.Combine(objectsDir, prefix);
            if (_madeDirs.TryAdd(dir, true))
            {
                Native.Mkdir(dir, 0x1ED);
            }

            Native.Rename(path, Path.Combine(dir, name));
            if (name.EndsWith(".commit", StringComparison.Ordinal))
            {
                // As libostree: a commit written again (pulled after a prune) loses its tombstone.
                File.Delete(Path.Combine(dir, name[..^".commit".Length] + ".tombstone-commit"));
            }
        }

        // Work that must follow the objects and precede the refs (a pull clears the partial markers of the commits it
        // completed, so a kill in between never leaves a ref on a commit marked partial).
        BeforeRefs?.Invoke();
        FaultPoint.Hit("before-refs");
        foreach (var (refspec, target, collection) in _refs)
        {
            if (collection is not null)
            {
                if (target is not null || _repo.ListCollectionRefs(collection).ContainsKey((collection, refspec)))
                {
                    _repo.WriteMirrorRef(collection, refspec, target);
                }

                continue;
            }

            if (target is null && _repo.ResolveRev(refspec, allowMissing: true) is null)
            {
                continue;
            }

            _repo.WriteRef(refspec, target);
        }

        if (_refs.Count > 0)
        {
            _repo.MaybeRegenerateSummary();
        }

        var stats = new TransactionStats(_metadataWritten, _contentWritten, _contentBytes, _refs.Count)
        {
            MetadataTotal = _metadataTotal,
            ContentTotal = _contentTotal,
            DevinoCacheHits = _devinoHits,
        };
        _committed = true;
        Cleanup();
        return stats;
    }

    /// <summary>
    /// Aborts: no ref moves, and nothing staged is published. As libostree, the staging folder and what it holds stay
    /// for the next transaction of this boot to take over (a pull run again then fetches only what is missing), unless
    /// the disk or the free-space reserve ran out.
    /// </summary>
    public void Abort() => Cleanup();

    private void Cleanup()
    {
        if (_done)
        {
            return;
        }

        _done = true;
        try
        {
            try
            {
                // As libostree: committed, the staging folder goes; aborted, it stays (with what it staged) for the
                // next transaction of this boot to take over, unless the disk or the reserve ran out.
                if (_discardStaging || _committed)
                {
                    FileUtil.DeleteAny(_staging);
                }

                File.Delete(_staging + "-lock");
            }
            finally
            {
                _stagingLock.Dispose();
            }

            // libostree's tmpdir cleanup, at the end of every transaction: staging folders no one holds but this boot's,
            // and anything else older than core.tmp-expiry-secs. Its failure fails a commit, as libostree's does; an
            // abort reports the error that caused it, not this one (libostree's callers ignore what abort returns).
            try
            {
                CleanStaleStaging(Path.GetDirectoryName(_staging)!, _repo.TmpExpirySeconds, _discardStaging ? null : _stagingPrefix);
            }
            catch (Exception e) when (!_committed && e is OstreeException or IOException or UnauthorizedAccessException)
            {
            }
        }
        finally
        {
            _repoLock.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose() => Cleanup();
}
