using System.CommandLine;
using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.Store;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
    private static Command Upgrade()
    {
        var cmd = new Command("upgrade", "Download the image the host follows and stage it for the next boot");
        var quiet = new Option<bool>("--quiet") { Description = "Don't display progress" };
        var check = new Option<bool>("--check") { Description = "Check if an update is available without applying it (fetches the manifest and config only)" };
        var apply = new Option<bool>("--apply") { Description = "Reboot into the new image" };
        var softReboot = SoftRebootOption();
        var downloadOnly = new Option<bool>("--download-only") { Description = "Download and stage the update, but do not apply it at the next reboot" };
        var fromDownloaded = new Option<bool>("--from-downloaded") { Description = "Apply at the next reboot a staged deployment downloaded with --download-only" };
        var tag = new Option<string?>("--tag") { Description = "Upgrade to another tag of the booted image" };
        var progressFd = ProgressFdOption();
        foreach (var o in new Option[] { quiet, check, apply, softReboot, downloadOnly, fromDownloaded, tag, progressFd })
        {
            cmd.Options.Add(o);
        }

        var registry = new RegistryCliOptions(policy: true);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            RefuseSoftReboot(pr, softReboot);
            Conflicts(pr, (check, apply), (check, downloadOnly), (apply, downloadOnly), (fromDownloaded, check), (fromDownloaded, downloadOnly));
            using var progress = BootcProgress.Open(pr.GetValue(progressFd));
            var (s, l, booted) = OpenBooted();
            using var _ = l;
            var host = BootcHost.Build(s);
            var spec = host["spec"]?["image"] is JsonObject specImage ? BootcHost.ParseImageReference(specImage) : null;
            if (pr.GetValue(tag) is { } newTag)
            {
                spec = spec is null ? throw new OstreeException(OstreeErrorCode.InvalidArgument, "--tag requires a booted image with a specified source") : WithTag(spec, newTag);
            }

            if (spec is null)
            {
                bool incompatible = host["status"]?["booted"]?["incompatible"]?.GetValue<bool>() == true || host["status"]?["staged"]?["incompatible"]?.GetValue<bool>() == true;
                throw new OstreeException(OstreeErrorCode.DeploymentState, incompatible
                    ? "Deployment contains local rpm-ostree modifications; cannot upgrade via bootc. You can run `rpm-ostree reset` to undo the modifications."
                    : "No image source specified");
            }

            var log = pr.GetValue(quiet) ? null : new Action<string>(Console.WriteLine);
            if (pr.GetValue(fromDownloaded))
            {
                var staged = s.Staged ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No staged deployment found");
                Console.WriteLine(staged.FinalizationLocked ? "Staged deployment will now be applied on reboot" : "Staged deployment is already set to apply on reboot");
                if (staged.FinalizationLocked)
                {
                    s.SetFinalizationLocked(false);
                }

                return Reboot(pr.GetValue(apply));
            }

            if (pr.GetValue(check))
            {
                var store = new ImageStore(s.Repo, new ImageStoreOptions { Registry = registry.Build(pr) });
                await using var found = await store.PrepareAsync(spec, CliSupport.Stopping);
                // A newer image is recorded on the stored one, so that status shows it offline afterwards.
                store.RecordCachedUpdate(found);
                if (found.AlreadyPresent)
                {
                    Console.WriteLine($"No changes in: {spec.ToAlternateString()}");
                }
                else
                {
                    Console.WriteLine($"Update available for: {spec.ToAlternateString()}");
                    if (BootcHost.Version(found.Layout.Config) is { } version)
                    {
                        Console.WriteLine($"  Version: {version}");
                    }

                    Console.WriteLine($"  Digest: {found.ManifestDigest}");
                }

                return 0;
            }

            var bootedDigest = host["status"]?["booted"]?["image"]?["imageDigest"]?.GetValue<string>();
            var stagedDigest = host["status"]?["staged"]?["image"]?["imageDigest"]?.GetValue<string>();
            var report = Pull(s, spec, registry.Build(pr), log, progress);
            var fetched = report.Image.ManifestDigest.ToString();
            if (fetched == stagedDigest)
            {
                var staged = s.Staged;
                bool changed = false;
                if (staged is not null && pr.GetValue(downloadOnly) != staged.FinalizationLocked)
                {
                    s.SetFinalizationLocked(pr.GetValue(downloadOnly));
                    Console.WriteLine(pr.GetValue(downloadOnly) ? "Image downloaded, but will not be applied on reboot" : "Staged deployment will now be applied on reboot");
                    changed = true;
                }
                else if (staged is null && (pr.GetValue(downloadOnly) || pr.GetValue(apply)))
                {
                    throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No staged deployment found");
                }

                if (!changed)
                {
                    Console.WriteLine("Staged update present, not changed");
                }

                return Reboot(pr.GetValue(apply));
            }

            if (fetched == bootedDigest)
            {
                Console.WriteLine("No update available.");
                return 0;
            }

            Stage(s, booted, spec, report.Image, pr.GetValue(downloadOnly), progress);
            return Reboot(pr.GetValue(apply));
        });
        return cmd;
    }
}
