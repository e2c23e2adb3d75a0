// An ostree repository on disk (spec: ostree-repo-format.md, section 3).
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Repository;

/// <summary>A repository: objects, refs and config, in one of the four modes.</summary>
public sealed partial class OstreeRepo
{
    private OstreeRepo(string path, KeyFile config)
    {
        Path = path;
        Config = config;
        Mode = ValidateConfig(config, ConfigPath);
    }

    /// <summary>
    /// Checks a repository config as libostree does when it opens a repository or <c>config set</c> changes one: the
    /// mode and version, the free-space reserve and the boot counter; returns the mode.
    /// </summary>
    /// <exception cref="OstreeFormatException">The first invalid setting, in libostree's words where it has some.</exception>
    internal static RepoMode ValidateConfig(KeyFile config, string configPath)
    {
        var mode = config.Get("core", "mode") ?? throw new OstreeFormatException($"{configPath}: no core.mode");
        var parsed = RepoModeNames.Parse(mode);
        var version = config.Get("core", "repo_version");
        if (version != "1")
        {
            throw new OstreeFormatException($"{configPath}: unsupported repo_version '{version}'");
        }

        _ = FreeSpaceReserve.FromConfig(config);
        _ = ReadBootCountingTries(config);
        return parsed;
    }

    /// <summary>
    /// <c>sysroot.boot-counting-tries</c> (0 to 5, default 0): the tries a new deployment's boot entry gets, in its file
    /// name as systemd's boot counting reads it (<c>ostree-2-os+3.conf</c>); 0 writes no counter.
    /// </summary>
    /// <exception cref="OstreeFormatException">Anything but a number from 0 to 5, in libostree's words.</exception>
    internal int BootCountingTries => ReadBootCountingTries(Config);

    private static int ReadBootCountingTries(KeyFile config)
    {
        var text = config.Get("sysroot", "boot-counting-tries");
        if (text is null)
        {
            return 0;
        }

        // g_ascii_string_to_unsigned: digits only, nothing before or after them.
        if (text.Length == 0 || !text.All(char.IsAsciiDigit))
        {
            throw new OstreeFormatException(OstreeErrorCode.RepositoryConfigInvalid, $"Parsing sysroot.boot-counting-tries: \u201c{text}\u201d is not an unsigned number");
        }

        return ulong.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n <= 5
            ? (int)n
            : throw new OstreeFormatException(OstreeErrorCode.RepositoryConfigInvalid, $"Parsing sysroot.boot-counting-tries: Number \u201c{text}\u201d is out of bounds [0, 5]");
    }

    /// <summary>
    /// The free space this repository keeps on its filesystem (<c>core.min-free-space-size</c>,
    /// <c>core.min-free-space-percent</c>), read from <see cref="Config"/> as each transaction begins.
    /// </summary>
    internal FreeSpaceReserve FreeSpace => FreeSpaceReserve.FromConfig(Config);

    /// <summary>
    /// The zlib level of the content objects an archive repository writes: <c>archive.zlib-level</c>, read as libostree
    /// does (its leading digits, 0 without any) and held to 1 to 9; 6 when unset.
    /// </summary>
    internal int ArchiveZlibLevel
    {
        get
        {
            if (Config.Get("archive", "zlib-level") is not { } text)
            {
                return 6;
            }

            return (int)Math.Clamp(GlibNumbers.LeadingDigits(text.AsSpan().Trim(), out _), 1UL, 9UL);
        }
    }

    /// <summary>The repository folder.</summary>
    public string Path { get; }

    /// <summary>The storage mode.</summary>
    public RepoMode Mode { get; }

    /// <summary>The parsed <c>config</c> file; call <see cref="SaveConfig"/> after changing it.</summary>
    public KeyFile Config { get; }

    /// <summary>Path of the config file.</summary>
    public string ConfigPath => System.IO.Path.Combine(Path, "config");

    /// <summary>Whether objects are flushed to disk at the end of a transaction (<c>core.fsync</c>, default true; a verb's <c>--disable-fsync</c> sets it for one run).</summary>
    public bool Fsync
    {
        get => _fsync ?? Config.GetBoolean("core", "fsync", true);
        set => _fsync = value;
    }

    private bool? _fsync;

    /// <summary>
    /// Whether each object is flushed to disk on its own instead of by one syncfs of the repository's filesystem
    /// (<c>core.per-object-fsync</c>, default false; pull's <c>--per-object-fsync</c> sets it for one run).
    /// </summary>
    public bool PerObjectFsync
    {
        get => _perObjectFsync ?? Config.GetBoolean("core", "per-object-fsync", false);
        set => _perObjectFsync = value;
    }

    private bool? _perObjectFsync;

    /// <summary>
    /// <c>core.disable-xattrs</c> (default false), for filesystems without extended attributes, as libostree reads it:
    /// a commit reads none from the files it takes, a bare repository's objects are read without theirs (so a copy out
    /// of one writes none), a checkout gives no SELinux labels, and a diff against a directory ignores them.
    /// </summary>
    internal bool DisableXattrs => Config.GetBoolean("core", "disable-xattrs", false);

    /// <summary>The collection id, if configured.</summary>
    public string? CollectionId => Config.Get("core", "collection-id");

    /// <summary>
    /// <c>ex-integrity.composefs</c>: whether deployments from this repository get a composefs image
    /// even when their prepare-root.conf does not ask for one.
    /// </summary>
    public Tristate ComposefsWanted => Config.GetTristate("ex-integrity", "composefs", Tristate.No);

    /// <summary>
    /// Whether objects get fs-verity enabled as they are written, as libostree decides it:
    /// <c>ex-integrity.fsverity</c> (default maybe when composefs is wanted), else the older
    /// <c>ex-fsverity.required</c> (yes) and <c>ex-fsverity.opportunistic</c> (maybe).
    /// </summary>
    public Tristate FsVerityWanted
    {
        get
        {
            var wanted = Config.GetTristate("ex-integrity", "fsverity", ComposefsWanted != Tristate.No ? Tristate.Maybe : Tristate.No);
            if (wanted != Tristate.No)
            {
                return wanted;
            }

            return Config.GetBoolean("ex-fsverity", "required", false) ? Tristate.Yes
                : Config.GetBoolean("ex-fsverity", "opportunistic", false) ? Tristate.Maybe
                : Tristate.No;
        }
    }

    /// <summary>
    /// libostree's _ostree_ensure_fsverity: enables fs-verity on the regular file <paramref name="path"/> as
    /// <paramref name="wanted"/> says (nothing for no). Returns false when the filesystem has no fs-verity, which is an
    /// error (naming <paramref name="shownPath"/>, else the path) when it is required. A file that has it already counts
    /// as done with <paramref name="allowExisting"/>.
    /// </summary>
    /// <exception cref="OstreeException">fs-verity is required and the filesystem does not support it.</exception>
    public static bool EnsureFsVerity(string path, Tristate wanted, bool allowExisting, string? shownPath = null)
    {
        if (wanted == Tristate.No || Native.EnableVerity(path, allowExisting))
        {
            return true;
        }

        return wanted == Tristate.Yes ? throw new OstreeException(OstreeErrorCode.VerityFailed, $"fsverity required but filesystem does not support it: {shownPath ?? path}") : false;
    }

    /// <summary>Creates a repository as <c>ostree init</c> does; an existing repository of the same mode is opened.</summary>
    public static OstreeRepo Create(string path, RepoMode mode, string? collectionId = null)
    {
        path = System.IO.Path.GetFullPath(path);
        var configPath = System.IO.Path.Combine(path, "config");
        if (File.Exists(configPath))
        {
            var existing = Open(path);
            if (existing.Mode != mode)
            {
                throw new OstreeException(OstreeErrorCode.RepositoryExists, $"{path}: repository exists with mode {existing.Mode.ToConfigName()}");
            }

            return existing;
        }

        Directory.CreateDirectory(path);
        foreach (var d in new[] { "objects", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache", "extensions" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(path, d));
        }

        var text = $"[core]\nrepo_version=1\nmode={mode.ToConfigName()}\n";
        if (collectionId is not null)
        {
            text += $"collection-id={collectionId}\n";
        }

        FileUtil.WriteAtomic(configPath, Encoding.UTF8.GetBytes(text), fsync: false);
        return Open(path);
    }

    /// <summary>Opens an existing repository.</summary>
    /// <exception cref="OstreeException">No repository there, or its config is invalid.</exception>
    public static OstreeRepo Open(string path) => Open(path, 0);

    // The longest chain of core.parent repositories followed; a longer one (or a loop) is refused.
    private const int MaxParentDepth = 32;

    private static OstreeRepo Open(string path, int depth)
    {
        path = System.IO.Path.GetFullPath(path);
        var configPath = System.IO.Path.Combine(path, "config");
        if (!File.Exists(configPath) || !Directory.Exists(System.IO.Path.Combine(path, "objects")))
        {
            throw new OstreeException(OstreeErrorCode.RepositoryNotFound, $"{path}: not an ostree repository (no config or objects/)");
        }

        var kf = KeyFile.Parse(File.ReadAllText(configPath), configPath);
        var repo = new OstreeRepo(path, kf);
        // refs/ is left as it is: a repository that lost refs/remotes fails to list its refs, as with libostree.
        foreach (var d in new[] { "tmp", "state" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(path, d));
        }

        // As libostree: the host's own repository (/ostree/repo) is a system repository, whose remotes may also
        // live in /etc/ostree/remotes.d.
        if (Native.TryLStat(path, out var here) && Native.TryLStat("/ostree/repo", out var system) && here.Device == system.Device && here.Inode == system.Inode)
        {
            repo.IsSystem = true;
            repo.RemotesConfigDir = "/etc/ostree/remotes.d";
        }

        if (kf.Get("core", "parent") is { Length: > 0 } parent)
        {
            if (depth >= MaxParentDepth)
            {
                throw new OstreeException(OstreeErrorCode.RepositoryConfigInvalid, $"{configPath}: core.parent: more than {MaxParentDepth} parent repositories (a loop?)");
            }

            try
            {
                repo.Parent = Open(parent, depth + 1);
            }
            catch (OstreeException e) when (!e.Message.StartsWith("While checking parent repository", StringComparison.Ordinal))
            {
                // Named once, by the parent nearest the failure (a loop is not named 32 times over).
                throw new OstreeException(OstreeErrorCode.RepositoryConfigInvalid, $"While checking parent repository '{parent}': {e.Message}", e);
            }
        }

        return repo;
    }

    /// <summary>
    /// The parent repository (<c>core.parent</c>), or null: objects, refs, remotes and remote keyrings not found here
    /// are looked up there, as libostree does.
    /// </summary>
    public OstreeRepo? Parent { get; private set; }

    /// <summary>
    /// Opens the repository of a sysroot (<c>SYSROOT/ostree/repo</c>) as libostree's <c>--sysroot</c> does: a system
    /// repository. When the sysroot is a deployment's root rather than the physical root (it has a <c>sysroot</c>
    /// entry), remotes also live in its <c>etc/ostree/remotes.d</c>.
    /// </summary>
    public static OstreeRepo OpenForSysroot(string sysroot)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        var repo = Open(System.IO.Path.Combine(sysroot, "ostree", "repo"));
        repo.IsSystem = true;
        bool physical = !Native.TryLStat(System.IO.Path.Combine(sysroot, "sysroot"), out _);
        repo.RemotesConfigDir = physical ? null : System.IO.Path.Combine(System.IO.Path.GetFullPath(sysroot), "etc", "ostree", "remotes.d");
        return repo;
    }

    /// <summary>Whether this is a host's system repository (opened through a sysroot, or <c>/ostree/repo</c> itself).</summary>
    public bool IsSystem { get; private set; }

    /// <summary>
    /// The folder of <c>NAME.conf</c> files holding more remotes (<c>etc/ostree/remotes.d</c> of the host or of the
    /// deployment a sysroot names), or null. New remotes go there while <c>core.add-remotes-config-dir</c> allows
    /// (by default, in a system repository).
    /// </summary>
    public string? RemotesConfigDir { get; set; }

    /// <summary>Writes the config back atomically.</summary>
    public void SaveConfig() => FileUtil.WriteAtomic(ConfigPath, Encoding.UTF8.GetBytes(Config.ToString()), fsync: Fsync);

    /// <summary>The file extension of an object type in this repository's mode.</summary>
    public string Extension(ObjectType type) =>
        type == ObjectType.File && Mode == RepoMode.Archive ? "filez" : type.ToName();

    /// <summary>Relative path of a loose object, e.g. <c>objects/ab/cdef….dirtree</c>.</summary>
    public string ObjectRelativePath(Checksum checksum, ObjectType type)
    {
        var hex = checksum.ToHex();
        return $"objects/{hex[..2]}/{hex[2..]}.{Extension(type)}";
    }

    /// <summary>Absolute path of a loose object.</summary>
    public string ObjectPath(Checksum checksum, ObjectType type) => System.IO.Path.Combine(Path, ObjectRelativePath(checksum, type));

    /// <summary>True when the object is stored here or in a parent repository (a symlink object counts even if dangling).</summary>
    public bool HasObject(Checksum checksum, ObjectType type) =>
        Native.TryLStat(ObjectPath(checksum, type), out _) || (Parent?.HasObject(checksum, type) ?? false);

    /// <summary>Reads a metadata object's bytes, verifying the checksum of content-addressed types.</summary>
    public byte[] ReadMetadataBytes(ObjectType type, Checksum checksum) => ReadMetadataBytes(type, checksum, verify: true);

    /// <summary>
    /// Reads a metadata object's bytes; <paramref name="verify"/> false skips the hash, as libostree reads its own
    /// objects (for the summary, whose clients check every commit they fetch).
    /// </summary>
    public byte[] ReadMetadataBytes(ObjectType type, Checksum checksum, bool verify)
    {
        var path = ObjectPath(checksum, type);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Parent?.ReadMetadataBytes(type, checksum, verify) ?? throw new ObjectNotFoundException($"No such metadata object {checksum}.{type.ToName()}");
        }

        if (verify && type is ObjectType.Commit or ObjectType.DirTree or ObjectType.DirMeta)
        {
            var actual = Checksum.Compute(bytes);
            if (actual != checksum)
            {
                throw ObjectCorruptedException.ChecksumMismatch(checksum.ToHex(), type.ToName(), actual.ToHex());
            }
        }

        return bytes;
    }

    /// <summary>Loads and parses a commit.</summary>
    public Commit LoadCommit(Checksum checksum) => ParseObject(ObjectType.Commit, checksum, b => Commit.Parse(b));

    /// <summary>Loads and parses a dirtree.</summary>
    public DirTree LoadDirTree(Checksum checksum) => ParseObject(ObjectType.DirTree, checksum, b => DirTree.Parse(b));

    /// <summary>Loads and parses a dirmeta.</summary>
    public DirMeta LoadDirMeta(Checksum checksum) => ParseObject(ObjectType.DirMeta, checksum, b => DirMeta.Parse(b));

    /// <summary>The detached metadata of a commit, or null.</summary>
    public GVariantValue? LoadDetachedMetadata(Checksum commit)
    {
        if (!HasObject(commit, ObjectType.CommitMeta))
        {
            return null;
        }

        return ParseObject(ObjectType.CommitMeta, commit, b => GVariantValue.Parse(GVariantType.VarDict, b));
    }

    private T ParseObject<T>(ObjectType type, Checksum checksum, Func<byte[], T> parse)
    {
        var bytes = ReadMetadataBytes(type, checksum);
        try
        {
            return parse(bytes);
        }
        catch (OstreeFormatException e)
        {
            throw new ObjectCorruptedException($"{checksum}.{type.ToName()}", e.Message, e);
        }
    }

    /// <summary>Opens a content object in any mode.</summary>
    public ContentObject LoadContent(Checksum checksum) =>
        TryLoadContentAt(checksum, ObjectPath(checksum, ObjectType.File))
        ?? Parent?.LoadContent(checksum)
        ?? throw new ObjectNotFoundException($"Couldn't find file object '{checksum}'"); // libostree's words

    /// <summary>Opens the content object stored at <paramref name="path"/> (the repository's or a transaction's), or null when there is none.</summary>
    internal ContentObject? TryLoadContentAt(Checksum checksum, string path)
    {
        if (!Native.TryLStat(path, out var st))
        {
            return null;
        }

        try
        {
            var obj = Mode switch
            {
                RepoMode.Archive => LoadArchiveContent(checksum, path),
                RepoMode.Bare => LoadBareContent(checksum, path, st, withOwner: true, withXattrs: !DisableXattrs),
                RepoMode.BareUserOnly => LoadBareContent(checksum, path, st, withOwner: false, withXattrs: false),
                _ => LoadBareUserContent(checksum, path, st),
            };
            obj.StoredIn = Mode;
            return obj;
        }
        catch (OstreeFormatException e)
        {
            throw new ObjectCorruptedException($"{checksum}.file", e.Message, e);
        }
    }

    private static ContentObject LoadArchiveContent(Checksum checksum, string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0); // two reads
        return ReadArchiveHeader(checksum, path, fs);
    }

    /// <summary>Reads an archive object's header from <paramref name="fs"/>, which is left where its deflated data starts.</summary>
    private static ContentObject ReadArchiveHeader(Checksum checksum, string path, FileStream fs)
    {
        Span<byte> prefix = stackalloc byte[8];
        fs.ReadExactly(prefix);
        uint len = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        if (len > 10 * 1024 * 1024 || len + 8 > fs.Length)
        {
            throw new OstreeFormatException($"archive header length {len} is invalid");
        }

        var header = new byte[len];
        fs.ReadExactly(header);
        var (h, size) = FileHeader.ParseArchiveHeader(header);
        long dataStart = 8 + len;
        return new ContentObject(checksum, h, (long)size, () =>
        {
            var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            s.Position = dataStart;
            return ArchiveData(checksum, s, (long)size);
        }, path);
    }

    /// <summary>The inflated data of an archive object, from <paramref name="fs"/> (unbuffered, at the deflated data).</summary>
    private static Stream ArchiveData(Checksum checksum, FileStream fs, long size)
    {
        // Inflate reads 8 KiB at a time: a buffer the size of the deflated data (64 KiB at most) reads it in one call,
        // and data of 8 KiB or less is read directly, with no buffer.
        long deflated = fs.Length - fs.Position;
        Stream input = deflated > 8 << 10 ? new BufferedStream(fs, (int)Math.Min(deflated, 1 << 16)) : fs;
        return new LengthCheckingStream(new DeflateStream(input, CompressionMode.Decompress), size, checksum.ToHex() + ".filez");
    }

    private static ContentObject LoadBareContent(Checksum checksum, string path, FileStatus st, bool withOwner, bool withXattrs)
    {
        var xattrs = withXattrs
            ? Xattrs.Create(Native.ListXattrs(path).Select(x => Xattr.Create(x.Name, x.Value)))
            : Xattrs.Empty;
        uint uid = withOwner ? st.Uid : 0, gid = withOwner ? st.Gid : 0;
        if ((st.Mode & UnixMode.TypeMask) == UnixMode.Symlink)
        {
            var target = new FileInfo(path).LinkTarget ?? string.Empty;
            return new ContentObject(checksum, new FileHeader(uid, gid, st.Mode, target, xattrs), 0, () => Stream.Null, path);
        }

        return new ContentObject(checksum, new FileHeader(uid, gid, st.Mode, string.Empty, xattrs), (long)st.Size, () => OpenRead(path, (long)st.Size), path);
    }

    private static ContentObject LoadBareUserContent(Checksum checksum, string path, FileStatus st) =>
        BareUserContent(checksum, path, Native.GetXattr(path, "user.ostreemeta"), (long)st.Size, () => File.ReadAllBytes(path));

    /// <summary>A bare-user object from its <c>user.ostreemeta</c> and size; <paramref name="readAll"/> reads a symlink's target.</summary>
    private static ContentObject BareUserContent(Checksum checksum, string path, byte[]? meta, long size, Func<byte[]> readAll)
    {
        if (meta is null)
        {
            throw new OstreeFormatException("missing user.ostreemeta xattr");
        }

        var m = DirMeta.Parse(meta, requireDirectory: false);
        FileHeader.ValidateMode(m.Mode);
        if (UnixMode.IsSymlink(m.Mode))
        {
            var data = readAll();
            if (data.Length == 0 || data[^1] != 0)
            {
                throw new OstreeFormatException("bare-user symlink object lacks its trailing NUL");
            }

            var target = Encoding.UTF8.GetString(data, 0, data.Length - 1);
            return new ContentObject(checksum, new FileHeader(m.Uid, m.Gid, m.Mode, target, m.Xattrs), 0, () => Stream.Null, path);
        }

        return new ContentObject(checksum, new FileHeader(m.Uid, m.Gid, m.Mode, string.Empty, m.Xattrs), size, () => OpenRead(path, size), path);
    }

    /// <summary>
    /// Loads a content object and opens its data (<see cref="Stream.Null"/> for a symlink), for a caller that reads
    /// every object it loads: archive and bare-user objects are opened once, where <see cref="LoadContent"/> and then
    /// <see cref="ContentObject.OpenData"/> look the path up three times (stat, xattr, open). On the 200 MB synthetic
    /// tree the lookups were a sixth of the tar thread's time in a container export. The caller disposes the stream.
    /// </summary>
    /// <exception cref="ObjectNotFoundException">Neither this repository nor its parent has the object.</exception>
    /// <exception cref="ObjectCorruptedException">The object cannot be read as one.</exception>
    internal (ContentObject Object, Stream Data) OpenContent(Checksum checksum)
    {
        if (Mode is not (RepoMode.Archive or RepoMode.BareUser))
        {
            var loaded = LoadContent(checksum);
            return (loaded, loaded.OpenData());
        }

        var path = ObjectPath(checksum, ObjectType.File);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return Parent?.OpenContent(checksum) ?? throw new ObjectNotFoundException($"Couldn't find file object '{checksum}'");
        }

        try
        {
            ContentObject obj;
            Stream data;
            if (Mode == RepoMode.Archive)
            {
                var fs = new FileStream(handle, FileAccess.Read, bufferSize: 0);
                obj = ReadArchiveHeader(checksum, path, fs);
                data = ArchiveData(checksum, fs, obj.Size);
            }
            else
            {
                long size = RandomAccess.GetLength(handle);
                var fs = new FileStream(handle, FileAccess.Read, BufferFor(size));
                obj = BareUserContent(checksum, path, Native.GetXattr(handle, path, "user.ostreemeta"), size, () =>
                {
                    var target = new byte[size];
                    fs.ReadExactly(target);
                    return target;
                });
                data = fs;
                if (obj.Header.IsSymlink)
                {
                    fs.Dispose(); // the target is read: no data to stream
                    data = Stream.Null;
                }
            }

            obj.StoredIn = Mode;
            return (obj, data);
        }
        catch (OstreeFormatException e)
        {
            handle.Dispose();
            throw new ObjectCorruptedException($"{checksum}.file", e.Message, e);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static FileStream OpenRead(string path, long size) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferFor(size), FileOptions.SequentialScan);

    /// <summary>
    /// The read buffer for a stored file of <paramref name="size"/> bytes: 64 KiB, or none for a file that size or
    /// smaller. A FileStream allocates its buffer on the first read shorter than it, and a small file is read whole in
    /// one short read: exporting the 200 MB synthetic tree (23,000 such files) allocated 1.5 GB of buffers used once,
    /// and spent a tenth of the tar thread's time collecting them.
    /// </summary>
    private static int BufferFor(long size) => size <= 1 << 16 ? 0 : 1 << 16;

    /// <summary>Every loose object in the repository.</summary>
    public IEnumerable<(Checksum Checksum, ObjectType Type)> EnumerateObjects()
    {
        var objects = System.IO.Path.Combine(Path, "objects");
        foreach (var dir in Directory.EnumerateDirectories(objects).Order(StringComparer.Ordinal))
        {
            var prefix = System.IO.Path.GetFileName(dir);
            if (prefix.Length != 2)
            {
                continue;
            }

            foreach (var f in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
            {
                var name = System.IO.Path.GetFileName(f);
                int dot = name.IndexOf('.', StringComparison.Ordinal);
                if (dot != 62)
                {
                    continue;
                }

                var ext = name[(dot + 1)..];
                ObjectType type;
                if (ext == "filez")
                {
                    type = ObjectType.File;
                }
                else if (!ObjectTypeExtensions.TryParseName(ext, out type))
                {
                    continue;
                }

                if (Checksum.TryParse(prefix + name[..dot], out var c))
                {
                    yield return (c, type);
                }
            }
        }
    }

    /// <summary>
    /// Removes what transactions killed mid-way left in <c>tmp/</c> (staging folders no live transaction holds), as
    /// every new transaction does first; for a command that turns out to need none (nothing changed). A repository this
    /// process may not write to is left as it is.
    /// </summary>
    public void CleanStaleTransactions()
    {
        var tmp = System.IO.Path.Combine(Path, "tmp");
        try
        {
            if (Directory.Exists(tmp))
            {
                RepoTransaction.CleanStaleStaging(tmp, TmpExpirySeconds);
            }
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Whether libostree's test hook <c>OSTREE_REPO_TEST_ERROR</c> (a comma-separated list) names <paramref name="name"/>.</summary>
    internal static bool TestErrorRequested(string name) =>
        (Environment.GetEnvironmentVariable("OSTREE_REPO_TEST_ERROR") ?? string.Empty).Split(',').Contains(name);

    /// <summary>Starts a transaction; objects written through it appear only when it commits.</summary>
    public RepoTransaction BeginTransaction() => new(this);

    /// <summary>
    /// Takes the repository lock; shared for writers, exclusive for prune and similar. As libostree: nothing is locked
    /// when <c>core.locking</c> is false; otherwise the wait is <c>core.lock-timeout-secs</c> (default 300; -1 waits as
    /// long as it takes, -2 locks nothing).
    /// </summary>
    /// <exception cref="RepoLockedException">The lock could not be taken in time.</exception>
    /// <exception cref="OstreeFormatException">One of the two settings is invalid.</exception>
    public RepoLock Lock(bool exclusive) => LockTimeout() is { } timeout
        ? RepoLock.Acquire(System.IO.Path.Combine(Path, ".lock"), exclusive, timeout)
        : RepoLock.None;

    /// <summary>
    /// <c>core.tmp-expiry-secs</c>: how old, in seconds, an entry of <c>tmp/</c> other than a staging folder must be
    /// before a transaction removes it (default a day), read as libostree reads it (leading digits).
    /// </summary>
    internal ulong TmpExpirySeconds => Config.Get("core", "tmp-expiry-secs") is { } v ? GlibNumbers.LeadingDigits(v, out _) : RepoTransaction.DefaultTmpExpirySeconds;

    /// <summary>The wait for the lock (<see cref="Timeout.InfiniteTimeSpan"/>: no limit), or null when locking is off.</summary>
    internal TimeSpan? LockTimeout()
    {
        if (!Config.GetBoolean("core", "locking", true))
        {
            return null;
        }

        // g_ascii_strtoll: an optional sign and leading digits; none is 0 (try once).
        var text = Config.Get("core", "lock-timeout-secs") ?? "300";
        bool negative = text.StartsWith('-');
        ulong magnitude = GlibNumbers.LeadingDigits(negative || text.StartsWith('+') ? text.AsSpan(1) : text, out _);
        return (negative, magnitude) switch
        {
            (true, 1) => Timeout.InfiniteTimeSpan,
            (true, 2) => null,
            (true, 0) => TimeSpan.Zero,
            (true, _) => throw new OstreeFormatException($"config key core.lock-timeout-secs is below -2: '{text}'"),
            _ => TimeSpan.FromSeconds(Math.Min(magnitude, uint.MaxValue)),
        };
    }

    /// <summary>
    /// The loose content objects by device and inode, as libostree's hardlink scan builds them for
    /// <c>commit --link-checkout-speedup</c>; empty for an archive repository, whose objects are never checked out by
    /// hardlink.
    /// </summary>
    public Dictionary<(ulong Dev, ulong Ino), Checksum> ScanHardlinks()
    {
        var map = new Dictionary<(ulong, ulong), Checksum>();
        if (Mode == RepoMode.Archive)
        {
            return map;
        }

        foreach (var (checksum, type) in EnumerateObjects())
        {
            if (type == ObjectType.File && Native.TryLStat(ObjectPath(checksum, type), out var st) && (st.Mode & UnixMode.TypeMask) == UnixMode.Regular)
            {
                map[(st.Device, st.Inode)] = checksum;
            }
        }

        return map;
    }

    /// <summary>Whether a commit is marked partial (its tree may be incomplete): <c>state/COMMIT.commitpartial</c>.</summary>
    public bool IsCommitPartial(Checksum commit) => File.Exists(CommitPartialPath(commit));

    /// <summary>Whether fsck marked the commit partial (its marker file holds <c>f</c>, as libostree writes it).</summary>
    public bool IsCommitFsckPartial(Checksum commit)
    {
        try
        {
            using var fs = new FileStream(CommitPartialPath(commit), FileMode.Open, FileAccess.Read);
            return fs.ReadByte() == 'f';
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Marks a commit partial; <paramref name="byFsck"/> records that fsck found part of its tree missing or
    /// corrupt, so that later fsck runs fail until a pull completes it. An existing marker is kept as it is.
    /// </summary>
    public void MarkCommitPartial(Checksum commit, bool byFsck)
    {
        Directory.CreateDirectory(System.IO.Path.Combine(Path, "state"));
        try
        {
            using var fs = new FileStream(CommitPartialPath(commit), FileMode.CreateNew, FileAccess.Write);
            if (byFsck)
            {
                fs.WriteByte((byte)'f');
            }
        }
        catch (IOException) when (File.Exists(CommitPartialPath(commit)))
        {
        }
    }

    private string CommitPartialPath(Checksum commit) => System.IO.Path.Combine(Path, "state", commit.ToHex() + ".commitpartial");
}
