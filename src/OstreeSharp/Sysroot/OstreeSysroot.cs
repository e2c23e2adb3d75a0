// A sysroot: the physical root holding ostree/repo, stateroots, deployments and /boot (spec 1).
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

/// <summary>A sysroot and its deployment list, loaded from the live boot entries.</summary>
public sealed partial class OstreeSysroot
{
    private OstreeRepo? _repo;

    private OstreeSysroot(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The physical root.</summary>
    public string Path { get; }

    /// <summary>The system repository <c>ostree/repo</c>, with the remotes of the deployment's etc/ostree/remotes.d when the sysroot is one.</summary>
    public OstreeRepo Repo => _repo ??= OstreeRepo.OpenForSysroot(Path);

    /// <summary>The live bootversion (0 or 1).</summary>
    public int BootVersion { get; private set; }

    /// <summary>The live subbootversion (0 or 1).</summary>
    public int SubBootVersion { get; private set; }

    /// <summary>Deployments, index 0 first (the default).</summary>
    public IReadOnlyList<Deployment> Deployments { get; private set; } = [];

    /// <summary>The deployment the running system booted, when the sysroot is <c>/</c> of a booted host.</summary>
    public Deployment? Booted { get; private set; }

    /// <summary>Where messages go (ostree prints them on stdout).</summary>
    public Action<string> Log { get; set; } = _ => { };

    /// <summary>Where notes go (ostree prints them on stderr).</summary>
    public Action<string> Note { get; set; } = _ => { };

    /// <summary>Whether deployment roots are left mutable (<c>OSTREE_SYSROOT_DEBUG=mutable-deployments</c>).</summary>
    public bool MutableDeployments { get; set; } = DebugFlag("mutable-deployments");

    /// <summary>
    /// Whether boot entries are named <c>ostree-N-STATEROOT.conf</c>, as libostree named them before 2024.5, instead
    /// of <c>ostree-N.conf</c> (GRUB orders entries by their file name; <c>OSTREE_SYSROOT_OPTS=bootloader-naming-1</c>).
    /// Entries already on disk keep their names until the next deployment rewrites them.
    /// </summary>
    public bool StaterootInEntryNames { get; set; } = Opt("bootloader-naming-1");

    /// <summary>A key of <c>OSTREE_SYSROOT_DEBUG</c>.</summary>
    internal static bool DebugFlag(string flag) => HasKey(Environment.GetEnvironmentVariable("OSTREE_SYSROOT_DEBUG"), flag);

    /// <summary>A key of <c>OSTREE_SYSROOT_OPTS</c>.</summary>
    internal static bool Opt(string key) => HasKey(Environment.GetEnvironmentVariable("OSTREE_SYSROOT_OPTS"), key);

    /// <summary>
    /// Whether <paramref name="key"/> is set in <paramref name="value"/>, as GLib's <c>g_parse_debug_string</c> reads
    /// it: keys separated by <c>:;, </c> or tabs, case and <c>-</c>/<c>_</c> ignored, <c>all</c> for every key but
    /// those listed beside it.
    /// </summary>
    internal static bool HasKey(string? value, string key)
    {
        static string Norm(string k) => k.Replace('_', '-').ToLowerInvariant();
        var keys = (value ?? string.Empty).Split([':', ';', ',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(Norm).ToList();
        bool listed = keys.Contains(Norm(key));
        return keys.Contains("all") ? !listed : listed;
    }

    /// <summary>The name of the boot entry of the deployment at <paramref name="index"/> of <paramref name="count"/>, without <c>.conf</c>.</summary>
    internal string EntryName(int count, int index, string osName) =>
        StaterootInEntryNames ? $"ostree-{count - index}-{osName}" : $"ostree-{count - index}";

    /// <summary>Absolute path of a sysroot-relative path.</summary>
    public string Combine(string relative) => System.IO.Path.Combine(Path, relative);

    /// <summary>Absolute path of a deployment's root.</summary>
    public string DeploymentPath(Deployment d) => Combine(d.RelativePath);

    /// <summary>Absolute path of a deployment's origin file.</summary>
    public string OriginPath(Deployment d) => DeploymentPath(d) + ".origin";

    /// <summary>The sysroot of <c>--sysroot</c>, else <c>$OSTREE_SYSROOT</c>, else <c>/</c>.</summary>
    public static string DefaultPath(string? option) =>
        option ?? (Environment.GetEnvironmentVariable("OSTREE_SYSROOT") is { Length: > 0 } env ? env : "/");

    /// <summary><c>ostree admin init-fs</c>: the top-level folders and a bare repository.</summary>
    public static OstreeSysroot InitFs(string path, bool modern = false)
    {
        var s = new OstreeSysroot(path);
        Directory.CreateDirectory(s.Path);
        var dirs = modern ? new[] { "boot", "ostree", "ostree/deploy" } : ["boot", "dev", "home", "proc", "run", "sys", "root", "tmp", "ostree", "ostree/deploy"];
        foreach (var d in dirs)
        {
            Directory.CreateDirectory(s.Combine(d));
        }

        if (!modern)
        {
            Native.Chmod(s.Combine("root"), 0x1C0); // 0700
            Native.Chmod(s.Combine("tmp"), 0x3FF); // 01777
        }

        s._repo = OstreeRepo.Create(s.Combine("ostree/repo"), RepoMode.Bare);
        return s;
    }

    /// <summary>Opens and loads a sysroot.</summary>
    public static OstreeSysroot Open(string path)
    {
        var s = new OstreeSysroot(path);
        if (!Directory.Exists(s.Combine("ostree/repo")))
        {
            throw new OstreeException(OstreeErrorCode.SysrootNotFound, $"{s.Path}: not a sysroot (no ostree/repo)");
        }

        s.Load();
        return s;
    }

    /// <summary><c>ostree admin os-init</c>: a new stateroot with its shared <c>var</c>.</summary>
    public void InitOs(string osName)
    {
        ValidateOsName(osName);
        var root = Combine($"ostree/deploy/{osName}");
        if (Directory.Exists(root))
        {
            throw new OstreeException(OstreeErrorCode.StaterootInvalid, $"Stateroot '{osName}' already exists: {root}");
        }

        _ = Repo;
        Directory.CreateDirectory(root);
        foreach (var d in new[] { "var", "var/tmp", "var/lib", "var/log" })
        {
            Directory.CreateDirectory(System.IO.Path.Combine(root, d));
        }

        Native.Chmod(System.IO.Path.Combine(root, "var/tmp"), 0x3FF);
        Native.Symlink("../run", System.IO.Path.Combine(root, "var/run"));
        Native.Symlink("../run/lock", System.IO.Path.Combine(root, "var/lock"));
        Native.Touch(Combine("ostree/deploy"));
        Log($"ostree/deploy/{osName} initialized as OSTree root");
    }

    /// <summary>Refuses stateroot names that are not a single path component.</summary>
    public static void ValidateOsName(string osName)
    {
        if (osName.Length == 0 || osName is "." or ".." || osName.Contains('/') || osName.Contains('\0'))
        {
            throw new OstreeException(OstreeErrorCode.StaterootInvalid, $"Invalid stateroot name '{osName}'");
        }
    }

    /// <summary>
    /// Takes the sysroot lock (<c>ostree/lock</c>), waiting for it, and removes the file again on dispose: an exclusive
    /// OFD lock, as libostree takes it, so that an <c>ostree admin</c> or bootc command running at the same time waits
    /// for this one and this one for it.
    /// </summary>
    public IDisposable Lock() => new SysrootLock(Combine("ostree/lock"), null);

    /// <summary>
    /// Takes the sysroot lock as <see cref="Lock()"/> does, calling <paramref name="waiting"/> once first when another
    /// process holds it (ostree prints <c>Waiting for sysroot lock...</c> then).
    /// </summary>
    public IDisposable Lock(Action? waiting) => new SysrootLock(Combine("ostree/lock"), waiting);

    private sealed class SysrootLock : IDisposable
    {
        private readonly SafeFileHandle _handle;
        private readonly string _path;

        public SysrootLock(string path, Action? waiting)
        {
            _path = path;
            _handle = FileUtil.TakeLockFile(path, FileMode.OpenOrCreate, wait: true, waiting)!;
        }

        public void Dispose()
        {
            File.Delete(_path);
            _handle.Dispose();
        }
    }

    [GeneratedRegex("^/ostree/boot\\.([01])/([^/]+)/([^/]+)/([0-9]+)$")]
    private static partial Regex BootlinkRegex();

    [GeneratedRegex("^([0-9a-f]+)\\.([0-9]+)$")]
    private static partial Regex DeployNameRegex();

    /// <summary>Reads the bootversion, subbootversion and the deployments of the live boot entries (spec 1.10).</summary>
    public void Load()
    {
        BootVersion = ReadBootVersion();
        SubBootVersion = ReadSubBootVersion(BootVersion);
        var entries = new List<(BootEntry Entry, string File)>();
        var entriesDir = Combine($"boot/loader.{BootVersion}/entries");
        if (Directory.Exists(entriesDir))
        {
            foreach (var f in Directory.EnumerateFileSystemEntries(entriesDir))
            {
                var name = System.IO.Path.GetFileName(f);
                if (name.StartsWith("ostree-", StringComparison.Ordinal) && name.EndsWith(".conf", StringComparison.Ordinal) && File.Exists(f))
                {
                    entries.Add((BootEntry.Parse(File.ReadAllText(f), f), f));
                }
            }
        }

        entries.Sort((a, b) => (a.Entry["version"], b.Entry["version"]) switch
        {
            (null, null) => 0,
            (null, _) => 1,
            (_, null) => -1,
            var (x, y) => VersionCompare.Compare(y!, x!),
        });

        var list = new List<Deployment>();
        foreach (var (entry, file) in entries)
        {
            var d = ParseDeployment(entry, file);
            d.Index = list.Count;
            list.Add(d);
        }

        Deployments = list;
        Booted = FindBooted(list);
        LoadStaged();
    }

    private Deployment ParseDeployment(BootEntry entry, string file)
    {
        var ostreeArg = (entry["options"] ?? string.Empty).Split(' ').FirstOrDefault(t => t.StartsWith("ostree=", StringComparison.Ordinal))
            ?? throw new OstreeFormatException($"{file}: no ostree= kernel argument");
        var m = BootlinkRegex().Match(ostreeArg["ostree=".Length..]);
        if (!m.Success)
        {
            throw new OstreeFormatException($"{file}: invalid ostree= argument '{ostreeArg}'");
        }

        var link = Combine(ostreeArg["ostree=/".Length..]);
        var target = new FileInfo(link).LinkTarget ?? throw new OstreeException(OstreeErrorCode.InvalidData, $"{file}: {link} is not a symlink");
        var dm = DeployNameRegex().Match(System.IO.Path.GetFileName(target));
        if (!dm.Success || !Checksum.TryParse(dm.Groups[1].Value, out var csum))
        {
            throw new OstreeFormatException($"{file}: invalid deploy name '{System.IO.Path.GetFileName(target)}'");
        }

        var d = new Deployment(m.Groups[2].Value, csum, int.Parse(dm.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), m.Groups[3].Value, int.Parse(m.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture))
        {
            Entry = entry,
        };
        LoadOrigin(d);
        return d;
    }

    // The deployment's origin file, when it has one.
    private void LoadOrigin(Deployment d)
    {
        var origin = OriginPath(d);
        if (File.Exists(origin))
        {
            d.Origin = KeyFile.Parse(File.ReadAllText(origin), origin);
        }

        // As libostree: the run-time state of this boot first, then a hotfix recorded in the origin.
        d.Unlocked = File.Exists(UnlockRunstatePath(d, "development")) ? "development"
            : File.Exists(UnlockRunstatePath(d, "transient")) ? "transient"
            : d.Origin?.Get("origin", "unlocked") == "hotfix" ? "hotfix" : "none";
    }

    /// <summary>Whether this is the sysroot of the running system: path <c>/</c> on a host booted by ostree.</summary>
    public bool IsBootedHostRoot => Path == "/" && File.Exists("/run/ostree-booted");

    private Deployment? FindBooted(List<Deployment> list)
    {
        if (!IsBootedHostRoot)
        {
            return null;
        }

        // ostree-prepare-root records in /run/ostree-booted (a{sv}) the device and inode of the real deployment folder
        // under a composefs or overlay root; without it, the root itself is the deployment folder.
        var root = Native.LStat("/");
        var (device, inode) = BackingRootDeviceInode() ?? (DevT(root), root.Inode);
        foreach (var d in list)
        {
            if (Native.TryLStat(DeploymentPath(d), out var st) && DevT(st) == device && st.Inode == inode)
            {
                d.IsBooted = true;
                return d;
            }
        }

        // Last, the ostree= argument the system booted with: its boot link names the stateroot, boot checksum and boot
        // serial (the link itself may be gone: a deployment made since this boot swaps the boot link farm).
        var ostreeArg = File.Exists("/proc/cmdline")
            ? File.ReadAllText("/proc/cmdline").Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(t => t.StartsWith("ostree=", StringComparison.Ordinal))
            : null;
        if (ostreeArg is not null && BootlinkRegex().Match(ostreeArg["ostree=".Length..]) is { Success: true } m)
        {
            foreach (var d in list)
            {
                if (d.OsName == m.Groups[2].Value && d.BootChecksum == m.Groups[3].Value && d.BootSerial.ToString(System.Globalization.CultureInfo.InvariantCulture) == m.Groups[4].Value)
                {
                    d.IsBooted = true;
                    return d;
                }
            }
        }

        return null;
    }

    // glibc's dev_t of a device number (gnu_dev_makedev), as stat(2) gives it to ostree-prepare-root.
    private static ulong DevT(FileStatus st)
    {
        ulong major = st.Device >> 32, minor = st.Device & 0xffffffff;
        return ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff);
    }

    /// <summary>The <c>backing-root-device-inode</c> ostree-prepare-root wrote into /run/ostree-booted, when it did.</summary>
    private static (ulong Device, ulong Inode)? BackingRootDeviceInode()
    {
        try
        {
            var bytes = File.ReadAllBytes("/run/ostree-booted");
            if (bytes.Length == 0)
            {
                return null;
            }

            var meta = GVariant.GVariantParser.Parse(GVariant.GVariantType.Parse("a{sv}"), bytes);
            return meta.Lookup("backing-root-device-inode") is { Type.Text: "(tt)" } v ? (v[0].GetUInt64(), v[1].GetUInt64()) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or GVariant.GVariantFormatException)
        {
            return null;
        }
    }

    private int ReadBootVersion()
    {
        var loader = Combine("boot/loader");
        if (!Native.TryLStat(loader, out var st))
        {
            return 0;
        }

        var target = st.Type == UnixMode.Symlink ? new FileInfo(loader).LinkTarget : null;
        return target switch
        {
            "loader.0" => 0,
            "loader.1" => 1,
            _ => throw new OstreeFormatException($"{loader}: not a symlink to loader.0 or loader.1"),
        };
    }

    private int ReadSubBootVersion(int bootVersion)
    {
        var link = Combine($"ostree/boot.{bootVersion}");
        if (!Native.TryLStat(link, out _))
        {
            return 0;
        }

        var target = new FileInfo(link).LinkTarget ?? string.Empty;
        return target.EndsWith(".1", StringComparison.Ordinal) ? 1 : target.EndsWith(".0", StringComparison.Ordinal) ? 0
            : throw new OstreeFormatException($"{link}: unexpected target '{target}'");
    }

    /// <summary>
    /// The deployment whose /etc a new one of <paramref name="osName"/> starts from: the booted one when it is of
    /// that stateroot, else the first of the stateroot in list order (spec 4.3).
    /// </summary>
    public Deployment? MergeDeployment(string osName) =>
        Booted is { } b && b.OsName == osName ? b : Deployments.FirstOrDefault(d => d.OsName == osName);

    /// <summary>The pending and rollback deployments relative to the booted one.</summary>
    public (Deployment? Pending, Deployment? Rollback) PendingAndRollback()
    {
        if (Booted is not { } b)
        {
            return (null, null);
        }

        var same = Deployments.Where(d => d.OsName == b.OsName).ToList();
        int i = same.FindIndex(d => d.SameAs(b));
        return (same.Take(i).FirstOrDefault(), same.Skip(i + 1).FirstOrDefault());
    }

    /// <summary>The commit's <c>version</c> metadata, or null.</summary>
    public string? CommitVersion(Checksum commit)
    {
        try
        {
            return Repo.LoadCommit(commit).Version;
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Writes an origin file atomically (mode 0644).</summary>
    public void WriteOrigin(Deployment d, KeyFile origin, bool fsync = false)
    {
        FileUtil.WriteAtomic(OriginPath(d), Encoding.UTF8.GetBytes(origin.ToString()), fsync);
        d.Origin = origin;
    }

    /// <summary>A new origin of <c>[origin] refspec=REFSPEC</c>.</summary>
    public static KeyFile RefspecOrigin(string refspec)
    {
        var k = KeyFile.Parse(string.Empty, "origin");
        k.Set("origin", "refspec", refspec);
        return k;
    }
}
