// The mounts a desktop would show a user, as GLib's unix volume monitor picks them (which libostree's mount repo finder
// reads): from /proc/self/mountinfo, none of the system's own (by file system type or device, or a bind mount of a
// folder: its root is not "/"), and only those under /media/, /run/media/ or (not for root) the home folder, outside
// any dot folder.
namespace OstreeSharp.Internal;

/// <summary>Reads the mount table.</summary>
internal static class MountTable
{
    // GLib's lists of file system types and devices that are the system's own, never removable media.
    private static readonly HashSet<string> SystemFsTypes = new(StringComparer.Ordinal)
    {
        "adfs", "afs", "auto", "autofs", "autofs4", "bpf", "binfmt_misc", "cgroup", "cgroup2", "configfs", "cxfs",
        "debugfs", "devfs", "devpts", "devtmpfs", "ecryptfs", "efivarfs", "fdescfs", "fusectl", "gfs", "gfs2", "gpfs",
        "hugetlbfs", "kernfs", "linprocfs", "linsysfs", "lustre", "lustre_lite", "mfs", "mqueue", "ncpfs", "nfsd",
        "nullfs", "ocfs2", "overlay", "proc", "procfs", "pstore", "ptyfs", "ramfs", "rootfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "sysfs", "tmpfs", "tracefs", "usbfs",
    };

    private static readonly HashSet<string> SystemDevices = new(StringComparer.Ordinal)
    {
        "devfs", "devpts", "devtmpfs", "none", "proc", "rootfs", "sysfs", "tmpfs", "cgroup", "cgroup2", "mqueue",
        "hugetlbfs", "pstore", "bpf", "configfs", "debugfs", "securityfs", "tracefs", "fusectl", "binfmt_misc",
        "sunrpc", "nfsd", "ramfs", "selinuxfs", "efivarfs",
    };

    /// <summary>One line of the mount table: where, what file system type, from which device, and which folder of it.</summary>
    public sealed record Mount(string Path, string FsType, string Device, string Root);

    /// <summary>This process's mounts, in the table's order.</summary>
    public static IReadOnlyList<Mount> Read(string mountInfo = "/proc/self/mountinfo")
    {
        var result = new List<Mount>();
        foreach (var line in File.ReadLines(mountInfo))
        {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            var fields = line.Split(' ');
            int dash = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || dash < 5 || dash + 2 >= fields.Length)
            {
                continue;
            }

            result.Add(new Mount(Unescape(fields[4]), Unescape(fields[dash + 1]), Unescape(fields[dash + 2]), Unescape(fields[3])));
        }

        return result;
    }

    /// <summary>The mount points a user's file manager would show, as GLib guesses them, in the table's order.</summary>
    public static IReadOnlyList<string> UserVisibleMounts(string? home) =>
        Read().Where(m => ShouldDisplay(m, home)).Select(m => m.Path).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>GLib's guess (<c>g_unix_mount_guess_should_display</c>), with the system mounts left out.</summary>
    public static bool ShouldDisplay(Mount mount, string? home)
    {
        ArgumentNullException.ThrowIfNull(mount);
        if (SystemFsTypes.Contains(mount.FsType) || SystemDevices.Contains(mount.Device) || mount.Root != "/" || mount.Path.Contains("/.", StringComparison.Ordinal))
        {
            return false;
        }

        bool root = Native.EffectiveUid == 0;
        bool runMedia = root
            ? mount.Path.StartsWith("/run/media/", StringComparison.Ordinal)
            : Environment.UserName is { Length: > 0 } user && mount.Path.StartsWith($"/run/media/{user}/", StringComparison.Ordinal);
        if (runMedia || mount.Path.StartsWith("/media/", StringComparison.Ordinal))
        {
            return true;
        }

        home = home?.TrimEnd('/');
        return !root && !string.IsNullOrEmpty(home) && mount.Path.StartsWith(home + "/", StringComparison.Ordinal);
    }

    // The kernel writes space, tab, newline and backslash in a path as \ooo.
    private static string Unescape(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }

        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                bytes.Add((byte)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(s[i].ToString()));
            }
        }

        return System.Text.Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string s, int at) =>
        at + 2 < s.Length && s[at] is >= '0' and <= '3' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
