using System.CommandLine;
using System.Diagnostics;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
    private static Command UsrOverlay()
    {
        var cmd = new Command("usr-overlay", "Mount a writable overlay on /usr until the next boot (ostree admin unlock)");
        var readOnly = new Option<bool>("--read-only") { Description = "Mount the overlay read-only: a process may remount it writable in a mount namespace of its own" };
        cmd.Options.Add(readOnly);
        CliSupport.SetRun(cmd, pr => AdminCommands.UnlockBooted(pr.GetValue(readOnly) ? UnlockMode.Transient : UnlockMode.Development));
        return cmd;
    }

    private static PullReport Pull(OstreeSysroot s, OstreeImageReference spec, Containers.Registry.RegistryOptions registry, Action<string>? log, BootcProgress? progress)
    {
        progress?.Begin(spec);
        var report = new ImageStore(s.Repo, new ImageStoreOptions { Registry = registry }).PullAsync(spec, BootcProgress.Events(progress, log), CliSupport.Stopping).GetAwaiter().GetResult();
        progress?.Pulled(report);
        return report;
    }

    private static void Stage(OstreeSysroot s, Deployment booted, OstreeImageReference spec, StoredImage image, bool downloadOnly, BootcProgress? progress)
    {
        var merge = s.MergeDeployment(booted.OsName) ?? booted;
        var digest = image.ManifestDigest.ToString();
        progress?.Staging(digest, 0);
        progress?.Staging(digest, 1);
        SysrootImages.StageImage(s, merge, spec, image.MergeCommit, downloadOnly);
        // (no logically bound images here)
        progress?.Staging(digest, 2);
        progress?.Staging(digest, 3);
        // Old images no deployment uses, and their layers.
        s.Load();
        SysrootImages.PruneImages(s, pruneObjects: false);
        Console.WriteLine($"Queued for next boot: {spec.ToAlternateString()}");
        var config = image.ConfigJson is { } json ? Containers.Oci.ImageConfig.Parse(System.Text.Encoding.UTF8.GetBytes(json), $"of {spec.Image}") : null;
        if (config is not null && BootcHost.Version(config) is { } version)
        {
            Console.WriteLine($"  Version: {version}");
        }

        Console.WriteLine($"  Digest: {image.ManifestDigest}");
        progress?.Staging(digest, 4);
        WriteRebootRequired(digest);
    }

    // kured (the Kubernetes reboot daemon) watches /run/reboot-required.
    private static void WriteRebootRequired(string image)
    {
        if (Directory.Exists("/run") && File.Exists("/run/ostree-booted"))
        {
            FileUtil.WriteAtomic("/run/reboot-required", System.Text.Encoding.UTF8.GetBytes($"bootc: Reboot required for image: {image}"), fsync: false);
        }
    }

    private static OstreeImageReference WithTag(OstreeImageReference spec, string tag)
    {
        var image = spec.Image;
        string name;
        if (image.Transport == Transport.Registry)
        {
            var d = image.Docker;
            name = $"{d.Repository}:{tag}";
        }
        else
        {
            var bare = image.Name.Split('@')[0];
            int colon = bare.LastIndexOf(':');
            name = (colon < 0 ? bare : bare[..colon]) + ":" + tag;
        }

        return spec with { Image = new ImageReference(image.Transport, name) };
    }

    private static int Reboot(bool apply)
    {
        if (!apply)
        {
            return 0;
        }

        Console.Out.Flush();
        using var p = Process.Start(new ProcessStartInfo("systemctl") { ArgumentList = { "reboot" }, UseShellExecute = false })
            ?? throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, "Could not run systemctl reboot");
        p.WaitForExit();
        return p.ExitCode == 0 ? 0 : throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"systemctl reboot exited with status {p.ExitCode}");
    }

    private static void Conflicts(ParseResult pr, params (Option<bool> A, Option<bool> B)[] pairs)
    {
        foreach (var (a, b) in pairs)
        {
            if (pr.GetValue(a) && pr.GetValue(b))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, $"the argument '{a.Name}' cannot be used with '{b.Name}'");
            }
        }
    }
}
