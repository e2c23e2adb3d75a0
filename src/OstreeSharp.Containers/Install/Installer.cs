// bootc install to-filesystem and to-disk: a sysroot whose repository holds the image, the deployment with its
// origin, /etc prepared, boot entries, fstab for /boot; to-disk lays out GPT partitions and builds each filesystem
// from a staging folder with the standard tools (sfdisk, mkfs.fat, mkfs.ext4 -d), written at its offset: no loop
// devices, nothing mounted.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Containers.Install;

/// <summary>What bootc's install verbs take, whichever the target.</summary>
public sealed record InstallOptions
{
    /// <summary>The image to install (<c>--source-imgref</c>), with its verification.</summary>
    public required OstreeImageReference Source { get; init; }

    /// <summary>The image the host follows afterwards (<c>--target-imgref</c>); default: the source.</summary>
    public OstreeImageReference? Target { get; init; }

    /// <summary>The stateroot (<c>--stateroot</c>); default: the install configuration's, else <c>default</c>.</summary>
    public string? Stateroot { get; init; }

    /// <summary>Kernel arguments added last (<c>--karg</c>).</summary>
    public IReadOnlyList<string> Kargs { get; init; } = [];

    /// <summary>Kernel arguments removed (<c>--karg-delete</c>), before <see cref="Kargs"/> are added.</summary>
    public IReadOnlyList<string> KargDeletes { get; init; } = [];

    /// <summary>The contents of an authorized_keys file for root (<c>--root-ssh-authorized-keys</c>).</summary>
    public string? RootSshAuthorizedKeys { get; init; }

    /// <summary><c>--disable-selinux</c>: the installed system boots with <c>selinux=0</c>.</summary>
    public bool DisableSelinux { get; init; }

    /// <summary>Registry credentials and TLS options.</summary>
    public RegistryOptions? Registry { get; init; }

    /// <summary><c>--bound-images</c>: <c>stored</c>, <c>pull</c> or <c>skip</c> (logically bound images).</summary>
    public string BoundImages { get; init; } = "stored";

    /// <summary>Progress lines.</summary>
    public Action<string> Log { get; init; } = _ => { };
}

/// <summary>What an installation wrote.</summary>
/// <param name="Deployment">The deployment.</param>
/// <param name="Kargs">Its kernel arguments (without <c>ostree=</c>).</param>
/// <param name="RootUuid">The root filesystem's UUID (to-disk).</param>
/// <param name="BootUuid">The boot filesystem's UUID (to-disk).</param>
public sealed record InstallResult(Deployment Deployment, string Kargs, string? RootUuid = null, string? BootUuid = null);

/// <summary>How the existing content of a <c>to-filesystem</c> target is treated (<c>--replace</c>).</summary>
public enum ReplaceMode
{
    /// <summary>The target must be empty (but for <c>boot</c>, <c>efi</c> and <c>lost+found</c>).</summary>
    None,

    /// <summary>Everything in the target is removed first (mount points are emptied, not removed).</summary>
    Wipe,

    /// <summary>The existing files stay; the new system is installed beside them.</summary>
    Alongside,
}

/// <summary>bootc's install verbs.</summary>
public static class Installer
{
    /// <summary>bootc's ESP size.</summary>
    public const long EspBytes = 512L << 20;

    /// <summary>bootc's /boot partition size (kept under 512 MiB).</summary>
    public const long BootBytes = 510L << 20;

    private const string LinuxPartType = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
    private const string EspPartType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
    private const string BiosBootPartType = "21686148-6449-6E6F-744E-656564454649";

    /// <summary>
    /// <c>install to-filesystem</c>: installs into the folder <paramref name="root"/> (a mounted root filesystem, its
    /// <c>boot</c> folder or mounted boot filesystem). <paramref name="rootMountSpec"/> becomes <c>root=</c>;
    /// a non-empty <paramref name="bootMountSpec"/> becomes <c>boot=</c> and the /boot line of the deployment's fstab.
    /// </summary>
    public static async Task<InstallResult> ToFilesystemAsync(string root, string rootMountSpec, string? bootMountSpec, ReplaceMode replace, InstallOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        root = Path.GetFullPath(root);
        if (!Directory.Exists(root))
        {
            throw new InstallException($"{root}: no such folder");
        }

        PrepareTarget(root, replace);
        var before = Snapshot(root);
        try
        {
            return await InstallIntoAsync(root, rootMountSpec, bootMountSpec, options, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Nothing half-written: what this installation added to the target goes again.
            RemoveAdded(root, before);
            throw;
        }
    }

    private static async Task<InstallResult> InstallIntoAsync(string root, string rootMountSpec, string? bootMountSpec, InstallOptions options, CancellationToken cancellationToken)
    {
        var log = options.Log;
        log($"Installing image: {options.Source}");
        var sysroot = OstreeSysroot.InitFs(root, modern: true);
        var repo = sysroot.Repo;
        foreach (var (key, value) in new[] { ("bootloader", "none"), ("bootprefix", "true"), ("readonly", "true") })
        {
            repo.Config.Set("sysroot", key, value);
        }

        repo.SaveConfig();

        // Pull first: the kernel arguments come partly from the image (install config, kargs.d).
        var stored = options.Target ?? options.Source;
        var report = await new ImageStore(repo, new ImageStoreOptions { Registry = options.Registry }).PullAsync(options.Source, PullEvents.From(log, null), cancellationToken).ConfigureAwait(false);
        var commit = repo.LoadCommit(report.Image.MergeCommit);
        var config = InstallConfig.FromCommit(repo, commit);
        foreach (var w in config?.Warnings ?? [])
        {
            log("warning: " + w);
        }

        // Logically bound images live in containers-storage, which there is none of here: refused unless skipped.
        if (options.BoundImages != "skip" && TreeLookup.Find(repo, commit, "usr/lib/bootc/bound-images.d") is { IsFile: false } bound
            && repo.LoadDirTree(bound.Tree).Files.Count > 0)
        {
            throw new InstallException($"{options.Source.Image} has logically bound images (/usr/lib/bootc/bound-images.d), which need a container storage: pass --bound-images=skip to install without them");
        }

        var stateroot = options.Stateroot ?? config?.Stateroot ?? "default";
        OstreeSysroot.ValidateOsName(stateroot);
        var kargs = new KernelArgs();
        kargs.Append("root=" + (config?.RootMountSpec is { Length: > 0 } rs && rootMountSpec.Length == 0 ? rs : rootMountSpec));
        kargs.Append("rw");
        if (bootMountSpec is { Length: > 0 })
        {
            kargs.Append("boot=" + bootMountSpec);
        }

        foreach (var k in (config?.Kargs ?? []).Concat(InstallConfig.KargsD(repo, commit)))
        {
            foreach (var token in k.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                kargs.Append(token);
            }
        }

        foreach (var d in (config?.KargDeletes ?? []).Concat(options.KargDeletes))
        {
            kargs = DeleteKarg(kargs, d);
        }

        if (options.DisableSelinux)
        {
            kargs.Append("selinux=0");
        }

        foreach (var k in options.Kargs)
        {
            foreach (var token in k.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                kargs.Append(token);
            }
        }

        sysroot.InitOs(stateroot);
        sysroot.Load();
        sysroot.Log = log;
        Deployment deployment;
        using (sysroot.Lock())
        {
            var deploy = new DeployOptions { OsName = stateroot, KargBase = kargs.ToString() };
            deployment = await SysrootImages.DeployAsync(sysroot, new ImageDeployRequest(options.Source, deploy) { Target = options.Target, Registry = options.Registry }, PullEvents.From(log, null), cancellationToken).ConfigureAwait(false);
        }

        var deployRoot = sysroot.DeploymentPath(deployment);
        if (bootMountSpec is { Length: > 0 })
        {
            // As bootc: the /boot line, read-only (ostree makes it writable for its own changes).
            WriteEtcFile(deployRoot, "fstab", $"{bootMountSpec} /boot auto ro 0 0\n");
        }

        if (options.RootSshAuthorizedKeys is { } keys)
        {
            // As bootc: /root resolved now when it is a link into /var (var/roothome), so tmpfiles.d writes there.
            var home = new FileInfo(Path.Combine(deployRoot, "root")).LinkTarget?.TrimStart('/') ?? "root";
            var line = $"f~ /{home}/.ssh/authorized_keys 600 root root - {Convert.ToBase64String(Encoding.UTF8.GetBytes(keys))}\n";
            Directory.CreateDirectory(Path.Combine(deployRoot, "etc/tmpfiles.d"));
            WriteEtcFile(deployRoot, "tmpfiles.d/bootc-root-ssh.conf", line);
            log("Injected: etc/tmpfiles.d/bootc-root-ssh.conf");
        }

        WriteAleph(root, options, stored, report.Image, deployRoot);
        log($"Installed: {stateroot} {deployment.DirectoryName}");
        return new InstallResult(deployment, kargs.ToString());
    }

    /// <summary>
    /// <c>install to-disk</c>: partitions <paramref name="target"/> (a block device, or with <paramref name="viaLoopback"/>
    /// a regular file used as a disk image) as bootc does: BIOS boot, EFI system, <c>boot</c> (ext4) and <c>root</c>
    /// (ext4, fs-verity on), installs into staging folders and writes each filesystem at its partition's offset.
    /// </summary>
    public static async Task<InstallResult> ToDiskAsync(string target, bool viaLoopback, bool wipe, string? filesystem, long? rootSizeBytes, InstallOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Native.EffectiveUid != 0)
        {
            throw new InstallException("install to-disk must run as root (the installed files keep their owners and modes)");
        }

        if (!Native.TryLStat(target, out var st))
        {
            throw new InstallException($"{target}: no such device or file");
        }

        var type = st.Mode & 0xF000;
        if (type == 0x8000 && !viaLoopback)
        {
            throw new InstallException($"{target} is a regular file: pass --via-loopback to install into a disk image");
        }

        if (type != 0x8000 && type != 0x6000)
        {
            throw new InstallException($"{target} is neither a block device nor a regular file");
        }

        long diskBytes = type == 0x8000 ? new FileInfo(target).Length : BlockDeviceSize(target);
        if (!wipe && HasPartitionTable(target))
        {
            throw new InstallException($"Detected existing partitions on {target}; use e.g. `wipefs` or --wipe if you intend to overwrite");
        }

        var log = options.Log;
        var staging = Directory.CreateTempSubdirectory("ostree-sharp-install-").FullName;
        try
        {
            var rootDir = Path.Combine(staging, "root");
            var bootDir = Path.Combine(staging, "boot");
            Directory.CreateDirectory(rootDir);
            Directory.CreateDirectory(bootDir);
            string rootUuid = Guid.NewGuid().ToString(), bootUuid = Guid.NewGuid().ToString();
            var result = await ToFilesystemAsync(rootDir, "UUID=" + rootUuid, "UUID=" + bootUuid, ReplaceMode.None, options with { Log = log }, cancellationToken).ConfigureAwait(false);

            // The root filesystem type: --filesystem, else the image's install configuration.
            var fs = filesystem;
            if (fs is null)
            {
                var sysroot = OstreeSysroot.Open(rootDir);
                fs = InstallConfig.FromCommit(sysroot.Repo, sysroot.Repo.LoadCommit(result.Deployment.Commit))?.RootFsType;
            }

            if (fs is null)
            {
                throw new InstallException("No root filesystem specified: pass --filesystem or set install.filesystem.root.type in /usr/lib/bootc/install/");
            }

            if (fs != "ext4")
            {
                throw new InstallException($"--filesystem {fs}: to-disk builds filesystems from a folder without mounting them, which only mkfs.ext4 -d does with hard links and xattrs kept; use ext4, or install to-filesystem onto a mounted {fs}");
            }

            // /boot is its own filesystem: what the deployer wrote under boot/ moves there.
            foreach (var e in Directory.EnumerateFileSystemEntries(Path.Combine(rootDir, "boot")))
            {
                Native.Rename(e, Path.Combine(bootDir, Path.GetFileName(e)));
            }

            long rootNeed = TreeBytes(rootDir);
            long rootBytes = rootSizeBytes ?? diskBytes - EspBytes - BootBytes - (4L << 20);
            if (rootBytes < rootNeed + rootNeed / 4 + (64L << 20) || (rootSizeBytes is { } r && r > diskBytes - EspBytes - BootBytes - (4L << 20)))
            {
                throw new InstallException($"{target}: {diskBytes} bytes is too small: the root filesystem needs about {rootNeed + rootNeed / 4 + (64L << 20)} bytes beside {EspBytes + BootBytes} for EFI and /boot");
            }

            log($"Partitioning {target}");
            var table = new StringBuilder();
            table.Append("label: gpt\n").Append(CultureInfo.InvariantCulture, $"label-id: {Guid.NewGuid()}\n");
            table.Append(CultureInfo.InvariantCulture, $"size=1MiB, bootable, type={BiosBootPartType}, name=\"BIOS-BOOT\"\n");
            table.Append(CultureInfo.InvariantCulture, $"size={EspBytes >> 20}MiB, type={EspPartType}, name=\"EFI-SYSTEM\"\n");
            table.Append(CultureInfo.InvariantCulture, $"size={BootBytes >> 20}MiB, type={LinuxPartType}, name=\"boot\"\n");
            table.Append(rootSizeBytes is { } rsz ? $"size={rsz >> 20}MiB, " : string.Empty).Append(CultureInfo.InvariantCulture, $"type={LinuxPartType}, name=\"root\"\n");
            Run("sfdisk", ["--wipe=always", "--quiet", "--no-reread", "--no-tell-kernel", target], table.ToString());
            var parts = ReadPartitions(target);
            if (parts.Count != 4)
            {
                throw new InstallException($"{target}: sfdisk wrote {parts.Count} partitions, not 4");
            }

            var (esp, boot, rootPart) = (parts[1], parts[2], parts[3]);
            log($"Creating EFI-SYSTEM filesystem (vfat) at {esp.Offset}");
            var volumeId = Convert.ToHexString(Guid.NewGuid().ToByteArray()[..4]);
            Run("mkfs.fat", ["-F", "32", "-n", "EFI-SYSTEM", "-i", volumeId, "--offset", (esp.Offset / 512).ToString(CultureInfo.InvariantCulture), target, (esp.Size / 1024).ToString(CultureInfo.InvariantCulture)]);
            log($"Creating boot filesystem (ext4) at {boot.Offset}");
            MkExt4(target, boot, "boot", bootUuid, bootDir, []);
            log($"Creating root filesystem (ext4) at {rootPart.Offset}");
            MkExt4(target, rootPart, "root", rootUuid, rootDir, ["-O", "verity"]);
            using (var h = File.OpenHandle(target, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(h);
            }

            log($"Installation complete: {target}");
            return result with { RootUuid = rootUuid, BootUuid = bootUuid };
        }
        finally
        {
            RemoveStaging(staging);
        }
    }

    // The entries of the target and of its boot folder before the installation.
    private static HashSet<string> Snapshot(string root)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dir in new[] { root, Path.Combine(root, "boot") })
        {
            if (Directory.Exists(dir))
            {
                foreach (var e in Directory.EnumerateFileSystemEntries(dir))
                {
                    set.Add(e);
                }
            }
        }

        return set;
    }

    private static void RemoveAdded(string root, HashSet<string> before)
    {
        foreach (var e in Snapshot(root).Where(e => !before.Contains(e) && e != Path.Combine(root, "boot")).OrderByDescending(e => e.Length))
        {
            ClearImmutable(e);
            FileUtil.DeleteAny(e);
        }
    }

    private static void ClearImmutable(string path)
    {
        var deploy = Path.Combine(path, "deploy");
        if (Path.GetFileName(path) == "ostree" && Directory.Exists(deploy))
        {
            foreach (var d in Directory.EnumerateDirectories(deploy).SelectMany(os => Directory.Exists(Path.Combine(os, "deploy")) ? Directory.EnumerateDirectories(Path.Combine(os, "deploy")) : []))
            {
                Native.SetImmutable(d, false);
            }
        }
    }

    // Deployment folders are immutable (chattr +i) as libostree leaves them: cleared before the staging goes.
    private static void RemoveStaging(string staging)
    {
        try
        {
            ClearImmutable(Path.Combine(staging, "root/ostree"));
            FileUtil.DeleteAny(staging);
        }
        catch (IOException)
        {
            // Best effort: an error of the installation itself must not be hidden by one of its cleanup.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void MkExt4(string target, Partition p, string label, string uuid, string source, string[] features)
    {
        // Every filesystem of ours is written with the same tool in the same way: -d keeps owners, modes, hard
        // links and xattrs; -E offset writes at the partition, -F because the target is not a partition device.
        Run("mkfs.ext4", [
            "-q", "-F", "-L", label, "-U", uuid, .. features, "-d", source,
            "-E", $"offset={p.Offset.ToString(CultureInfo.InvariantCulture)}", target, (p.Size / 1024).ToString(CultureInfo.InvariantCulture) + "k",
        ]);
    }

    /// <summary>A partition of the table sfdisk wrote: byte offset and size.</summary>
    public sealed record Partition(long Offset, long Size, string Type, string? Name);

    /// <summary>The partitions of a disk or disk image, as <c>sfdisk --json</c> reads them.</summary>
    public static List<Partition> ReadPartitions(string target)
    {
        var json = Run("sfdisk", ["--json", target]);
        using var doc = JsonDocument.Parse(json);
        var table = doc.RootElement.GetProperty("partitiontable");
        long sector = table.TryGetProperty("sectorsize", out var ss) ? ss.GetInt64() : 512;
        var result = new List<Partition>();
        if (table.TryGetProperty("partitions", out var list))
        {
            foreach (var p in list.EnumerateArray())
            {
                result.Add(new Partition(p.GetProperty("start").GetInt64() * sector, p.GetProperty("size").GetInt64() * sector, p.GetProperty("type").GetString() ?? string.Empty, p.TryGetProperty("name", out var n) ? n.GetString() : null));
            }
        }

        return result;
    }

    private static void PrepareTarget(string root, ReplaceMode replace)
    {
        var allowed = new HashSet<string>(StringComparer.Ordinal) { "boot", "efi", "lost+found" };
        var rootDev = Native.LStat(root).Device;
        foreach (var e in Directory.EnumerateFileSystemEntries(root))
        {
            var name = Path.GetFileName(e);
            switch (replace)
            {
                case ReplaceMode.Alongside:
                    if (name == "ostree")
                    {
                        throw new InstallException($"{root} already holds an ostree sysroot (ostree/)");
                    }

                    break;
                case ReplaceMode.Wipe:
                    WipeKeepingMounts(e, rootDev);
                    break;
                default:
                    if (!allowed.Contains(name))
                    {
                        throw new InstallException($"{root} is not empty ({name}); use --replace=wipe or --replace=alongside");
                    }

                    if (name == "boot" && Directory.Exists(e) && Directory.EnumerateFileSystemEntries(e).Any(x => Path.GetFileName(x) is not ("lost+found" or "efi")))
                    {
                        throw new InstallException($"{e} is not empty; use --replace=wipe");
                    }

                    break;
            }
        }
    }

    // Removes a path, but a mount point (another device) is only emptied.
    private static void WipeKeepingMounts(string path, ulong rootDevice)
    {
        var st = Native.LStat(path);
        if ((st.Mode & 0xF000) == 0x4000 && st.Device != rootDevice)
        {
            foreach (var e in Directory.EnumerateFileSystemEntries(path))
            {
                WipeKeepingMounts(e, st.Device);
            }

            return;
        }

        // A deployment left by an installation that was killed keeps its immutable flag.
        ClearImmutable(path);
        FileUtil.DeleteAny(path);
    }

    // bootc's deletion: KEY removes every KEY and KEY=..., KEY=VALUE only that one.
    private static KernelArgs DeleteKarg(KernelArgs kargs, string delete)
    {
        int eq = delete.IndexOf('=', StringComparison.Ordinal);
        var kept = kargs.Items.Where(a => eq < 0 ? a.Key != delete : !(a.Key == delete[..eq] && a.Value == delete[(eq + 1)..]));
        return KernelArgs.Parse(string.Join(' ', kept.Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value)));
    }

    private static void WriteEtcFile(string deployRoot, string relative, string text)
    {
        var path = Path.Combine(deployRoot, "etc", relative);
        FileUtil.WriteAtomic(path, Encoding.UTF8.GetBytes(text), fsync: false);
        Native.Chmod(path, 0x1A4); // 0644
    }

    // bootc's .bootc-aleph.json at the top of the physical root: what was installed, from where, when.
    private static void WriteAleph(string root, InstallOptions options, OstreeImageReference target, StoredImage image, string deployRoot)
    {
        string? kernel = Directory.Exists(Path.Combine(deployRoot, "usr/lib/modules"))
            ? Directory.EnumerateDirectories(Path.Combine(deployRoot, "usr/lib/modules")).Select(Path.GetFileName).Order(StringComparer.Ordinal).FirstOrDefault()
            : null;
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("image", image.ManifestDigest.ToString());
            w.WriteString("source", options.Source.ToString());
            w.WriteString("target-image", target.ToString());
            w.WriteString("kernel", kernel);
            w.WriteString("selinux", options.DisableSelinux ? "disabled" : "unknown");
            w.WriteString("timestamp", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        FileUtil.WriteAtomic(Path.Combine(root, ".bootc-aleph.json"), ms.ToArray(), fsync: false);
    }

    private static long TreeBytes(string root)
    {
        long total = 0;
        var seen = new HashSet<(ulong, ulong)>();
        var stack = new Stack<string>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            foreach (var e in Directory.EnumerateFileSystemEntries(stack.Pop()))
            {
                var st = Native.LStat(e);
                if ((st.Mode & 0xF000) == 0x4000)
                {
                    stack.Push(e);
                    total += 4096;
                }
                else if (seen.Add((st.Device, st.Inode)))
                {
                    total += (long)((st.Size + 4095) / 4096 * 4096);
                }
            }
        }

        return total;
    }

    private static bool HasPartitionTable(string target)
    {
        using var h = File.OpenHandle(target, FileMode.Open, FileAccess.Read);
        var buf = new byte[1024];
        int n = RandomAccess.Read(h, buf, 0);
        bool mbr = n >= 512 && buf[510] == 0x55 && buf[511] == 0xAA;
        bool gpt = n >= 520 && Encoding.ASCII.GetString(buf, 512, 8) == "EFI PART";
        return mbr || gpt;
    }

    private static long BlockDeviceSize(string device)
    {
        using var fs = new FileStream(device, FileMode.Open, FileAccess.Read);
        return fs.Seek(0, SeekOrigin.End);
    }

    /// <summary>Runs a tool; its stderr becomes the message of the exception when it fails.</summary>
    private static string Run(string tool, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C";

        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InstallException($"{tool}: could not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InstallException($"{tool}: {e.Message} (install the package that provides it: fdisk, dosfstools or e2fsprogs)", e);
        }

        using (p)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                p.StandardInput.Write(stdin);
            }

            p.StandardInput.Close();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                var err = (stderr.Result + stdout.Result).Trim().Replace('\n', ' ');
                throw new InstallException($"{tool} {string.Join(' ', psi.ArgumentList)} failed ({p.ExitCode}): {err}");
            }

            return stdout.Result;
        }
    }
}

/// <summary>An installation could not be done; the message names the target, image or tool.</summary>
public sealed class InstallException : OstreeException
{
    /// <summary>Creates the exception.</summary>
    public InstallException(string message)
        : base(OstreeErrorCode.InstallFailed, message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public InstallException(string message, Exception inner)
        : base(OstreeErrorCode.InstallFailed, message, inner)
    {
    }
}
