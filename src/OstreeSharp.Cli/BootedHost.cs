// On a host booted by ostree with sysroot.readonly (and bootc's read-only /boot), /sysroot and /boot are mounted
// read-only. As libostree does, the verbs that change the sysroot run in a private mount namespace where both are
// made writable; the host's own mounts stay read-only. .NET cannot unshare a mount namespace for all its threads,
// so the command runs itself again under unshare(1).
using System.Diagnostics;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

internal static class BootedHost
{
    private const string Marker = "OSTREE_SHARP_MOUNT_NS";

    /// <summary>The exit code of the command run again in its own mount namespace, or null to go on here.</summary>
    public static int? RunInMountNamespaceIfNeeded(string[] args)
    {
        if (Propagation(args) is not { } propagation || SysrootArgument(args) != "/" || !File.Exists("/run/ostree-booted"))
        {
            return null;
        }

        var readOnly = new[] { "/sysroot", "/boot" }.Where(p => Directory.Exists(p) && IsMountPoint(p) && Native.IsReadOnlyMount(p)).ToList();
        if (readOnly.Count == 0)
        {
            return null;
        }

        if (Environment.GetEnvironmentVariable(Marker) == "1")
        {
            // /sysroot shares its filesystem with the (writable) deployment: only the mount is read-only.
            foreach (var p in readOnly)
            {
                Native.RemountWritable(p, bind: p == "/sysroot");
            }

            return null;
        }

        var psi = new ProcessStartInfo("unshare") { UseShellExecute = false };
        foreach (var a in new[] { "--mount", "--propagation", propagation, "--", Environment.ProcessPath ?? "/proc/self/exe" }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment[Marker] = "1";
        try
        {
            using var p2 = Process.Start(psi) ?? throw new System.ComponentModel.Win32Exception("could not start");
            p2.WaitForExit();
            return p2.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return CliErrors.Report(OstreeErrorCode.ExternalCommandFailed, $"{string.Join(", ", readOnly)} read-only and unshare(1) could not be run to make them writable in a private mount namespace: {e.Message}");
        }
    }

    // For the verbs that change the sysroot, how the private namespace shares mounts with the host's: not at all
    // ("slave": the host's mounts still reach it), or both ways ("unchanged": the overlay that unlock mounts on /usr
    // reaches the host through the shared root mount; remounting /sysroot writable does not propagate).
    private static string? Propagation(string[] args)
    {
        var words = args.Where(a => !a.StartsWith('-')).Take(3).ToArray();
        return words switch
        {
            // (finalize-staged --hold only keeps /boot busy, which it must do in the host's own mount namespace.)
            ["admin", "finalize-staged", ..] => args.Contains("--hold") ? null : "slave",
            ["admin", "unlock", ..] or ["bootc", "usr-overlay" or "usroverlay", ..] => "unchanged",
            ["admin", var verb, ..] => verb is "status" or "config-diff" or "init-fs" ? null : "slave",
            ["container", "image", "deploy" or "prune-images"] => "slave",
            ["bootc", "upgrade" or "switch" or "rollback" or "edit", ..] => "slave",
            _ => null,
        };
    }

    private static string SysrootArgument(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--sysroot=", StringComparison.Ordinal))
            {
                return Normalize(args[i]["--sysroot=".Length..]);
            }

            if (args[i] == "--sysroot" && i + 1 < args.Length)
            {
                return Normalize(args[i + 1]);
            }
        }

        return Normalize(Environment.GetEnvironmentVariable("OSTREE_SYSROOT") is { Length: > 0 } env ? env : "/");

        static string Normalize(string p) => Native.RealPath(p) ?? p;
    }

    // /sysroot shares its device with / (the deployment is a folder of it), so only the mount table tells.
    private static bool IsMountPoint(string path) =>
        File.Exists("/proc/self/mountinfo")
        && File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);
}
