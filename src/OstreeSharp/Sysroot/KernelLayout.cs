// Finding the kernel, initramfs and device tree of a deployment, and its boot checksum (spec 1.4).
using System.Security.Cryptography;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Sysroot;

/// <summary>Where a deployment's boot files are, and the names they get in <c>/boot/ostree/OS-BOOTCSUM/</c>.</summary>
/// <param name="SourceDirectory">Absolute folder that holds the files inside the deployment.</param>
/// <param name="Kernel">Kernel file name in <paramref name="SourceDirectory"/>, and its name in /boot.</param>
/// <param name="Initramfs">Initramfs, or null.</param>
/// <param name="Devicetree">Device tree file, or null.</param>
/// <param name="DtbDirectory">A <c>dtb/</c> folder name, or null.</param>
/// <param name="Hmac">The <c>.vmlinuz.hmac</c> file, or null.</param>
/// <param name="BootChecksum">The boot checksum.</param>
internal sealed record KernelLayout(
    string SourceDirectory,
    (string Source, string Dest) Kernel,
    (string Source, string Dest)? Initramfs,
    (string Source, string Dest)? Devicetree,
    string? DtbDirectory,
    (string Source, string Dest)? Hmac,
    string BootChecksum)
{
    /// <summary>Finds the kernel of the deployment rooted at <paramref name="deployment"/>.</summary>
    public static KernelLayout Find(string deployment)
    {
        var modules = FindModulesLayout(deployment);
        var legacy = FindLegacyLayout(deployment);
        if (modules is null && legacy is null)
        {
            throw new OstreeException(OstreeErrorCode.KernelNotFound, $"Failed to find kernel in /usr/lib/modules, /usr/lib/ostree-boot or /boot (deployment {deployment})");
        }

        if (legacy is null)
        {
            return modules!;
        }

        if (modules is null)
        {
            return legacy;
        }

        return modules.Initramfs is null && legacy.Initramfs is not null ? legacy : modules;
    }

    private static KernelLayout? FindModulesLayout(string root)
    {
        var modulesDir = Path.Combine(root, "usr/lib/modules");
        if (!Directory.Exists(modulesDir))
        {
            return null;
        }

        // readdir order, as libostree: ship one kernel folder.
        foreach (var dir in Directory.EnumerateFileSystemEntries(modulesDir))
        {
            var st = Native.LStat(dir);
            if (st.Type != UnixMode.Directory)
            {
                continue;
            }

            var vmlinuz = Path.Combine(dir, "vmlinuz");
            if (!File.Exists(vmlinuz))
            {
                continue;
            }

            var kver = Path.GetFileName(dir);
            (string, string)? initramfs = File.Exists(Path.Combine(dir, "initramfs.img")) ? ("initramfs.img", $"initramfs-{kver}.img")
                : File.Exists(Path.Combine(dir, "initramfs")) ? ("initramfs", $"initramfs-{kver}.img") : null;
            bool noDtb = OstreeSysroot.DebugFlag("no-dtb");
            (string, string)? devicetree = !noDtb && File.Exists(Path.Combine(dir, "devicetree")) ? ("devicetree", $"devicetree-{kver}") : null;
            string? dtb = !noDtb && devicetree is null && Directory.Exists(Path.Combine(dir, "dtb")) ? "dtb" : null;
            (string, string)? hmac = File.Exists(Path.Combine(dir, ".vmlinuz.hmac")) ? (".vmlinuz.hmac", $".vmlinuz-{kver}.hmac") : null;

            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            Feed(sha, vmlinuz);
            if (initramfs is { } i)
            {
                Feed(sha, Path.Combine(dir, i.Item1));
            }

            if (devicetree is { } d)
            {
                Feed(sha, Path.Combine(dir, d.Item1));
            }
            else if (dtb is not null)
            {
                FeedTree(sha, Path.Combine(dir, dtb));
            }

            return new KernelLayout(dir, ("vmlinuz", $"vmlinuz-{kver}"), initramfs, devicetree, dtb, hmac, Convert.ToHexStringLower(sha.GetHashAndReset()));
        }

        return null;
    }

    private static KernelLayout? FindLegacyLayout(string root)
    {
        string? dir = new[] { "usr/lib/ostree-boot", "boot" }.Select(d => Path.Combine(root, d)).FirstOrDefault(Directory.Exists);
        if (dir is null)
        {
            return null;
        }

        (string, string, string)? kernel = null, initramfs = null, devicetree = null;
        foreach (var path in Directory.EnumerateFiles(dir))
        {
            var name = Path.GetFileName(path);
            int dash = name.LastIndexOf('-');
            if (dash < 0 || !Checksum.TryParse(name[(dash + 1)..], out _) || name[(dash + 1)..] != name[(dash + 1)..].ToLowerInvariant())
            {
                continue;
            }

            var entry = (name, name[..dash], name[(dash + 1)..]);
            if (name.StartsWith("vmlinuz-", StringComparison.Ordinal))
            {
                kernel ??= entry;
            }
            else if (name.StartsWith("initramfs-", StringComparison.Ordinal))
            {
                initramfs ??= entry;
            }
            else if (name.StartsWith("devicetree-", StringComparison.Ordinal))
            {
                devicetree ??= entry;
            }
        }

        if (kernel is not { } k)
        {
            return null;
        }

        if (initramfs is { } i && i.Item3 != k.Item3)
        {
            throw new OstreeException(OstreeErrorCode.KernelNotFound, $"Mismatched kernel checksum vs initrd in {dir}");
        }

        if (devicetree is { } d && d.Item3 != k.Item3)
        {
            throw new OstreeException(OstreeErrorCode.KernelNotFound, $"Mismatched kernel checksum vs device tree in {dir}");
        }

        return new KernelLayout(dir, (k.Item1, k.Item2), initramfs is { } ii ? (ii.Item1, ii.Item2) : null,
            devicetree is { } dd ? (dd.Item1, dd.Item2) : null, null, null, k.Item3);
    }

    private static void Feed(IncrementalHash sha, string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buf = new byte[1 << 16];
        int n;
        while ((n = f.Read(buf)) > 0)
        {
            sha.AppendData(buf, 0, n);
        }
    }

    private static void FeedTree(IncrementalHash sha, string dir)
    {
        // Depth first in name order, with an explicit stack of entries still to feed.
        var pending = new Stack<string>();
        pending.Push(dir);
        while (pending.TryPop(out var at))
        {
            if (at != dir && Native.LStat(at).Type != UnixMode.Directory)
            {
                Feed(sha, at);
                continue;
            }

            foreach (var e in Directory.EnumerateFileSystemEntries(at).OrderDescending(PathNameComparer.Instance))
            {
                pending.Push(e);
            }
        }
    }

    private sealed class PathNameComparer : IComparer<string>
    {
        public static readonly PathNameComparer Instance = new();

        public int Compare(string? x, string? y) => string.CompareOrdinal(Path.GetFileName(x), Path.GetFileName(y));
    }
}
