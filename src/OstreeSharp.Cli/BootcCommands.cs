// bootc's command set on an ostree host: `ostree-sharp bootc VERB`, or the binary called as `bootc` (a symlink).
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static class BootcCommands
{
    public static Command Create()
    {
        var bootc = new Command("bootc", "Manage a host booted from a container image, as bootc does (also: this binary called as `bootc`)");
        foreach (var c in Verbs())
        {
            bootc.Subcommands.Add(c);
        }

        return bootc;
    }

    /// <summary>bootc's verbs: under <c>ostree-sharp bootc</c>, or the root's own when called as <c>bootc</c>.</summary>
    public static Command[] Verbs()
    {
        var container = new Command("container", "Operations for container images, run at build time");
        container.Subcommands.Add(BootcLintCommand.Create());
        var usrOverlay = UsrOverlay();
        usrOverlay.Aliases.Add("usroverlay");
        return [Status(), Upgrade(), Switch(), Rollback(), Edit(), usrOverlay, container];
    }

    /// <summary>The running host's sysroot, locked and loaded; bootc works on nothing else.</summary>
    private static (OstreeSysroot Sysroot, IDisposable Lock, Deployment Booted) OpenBooted()
    {
        var s = OstreeSysroot.Open("/");
        var l = s.Lock();
        try
        {
            s.Load();
            return (s, l, s.Booted ?? throw new OstreeException(OstreeErrorCode.NotBooted, "Not currently booted into an OSTree system"));
        }
        catch
        {
            l.Dispose();
            throw;
        }
    }

    private static Command Status()
    {
        var cmd = new Command("status", "Display status: the staged, booted and rollback images (bootc's BootcHost object)");
        var format = new Option<string?>("--format") { Description = "The output format: humanreadable, yaml or json (default: humanreadable on a terminal, else yaml)" };
        format.AcceptOnlyFromAmong("humanreadable", "yaml", "json");
        var formatVersion = new Option<uint?>("--format-version") { Description = "The format version: 0 and 1 both mean version 1, the only one" };
        var booted = new Option<bool>("--booted") { Description = "Only display the booted deployment" };
        var json = new Option<bool>("--json") { Description = "Output in JSON (superseded by --format)", Hidden = true };
        foreach (var o in new Option[] { format, formatVersion, booted, json })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            if (pr.GetValue(formatVersion) is { } v && v > 1)
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, $"Unsupported format version: {v}");
            }

            JsonObject host;
            if (File.Exists("/run/ostree-booted") && Directory.Exists("/sysroot/ostree/repo"))
            {
                var s = OstreeSysroot.Open("/");
                s.Load();
                host = BootcHost.Build(s);
            }
            else
            {
                host = BootcHost.Empty();
            }

            if (pr.GetValue(booted))
            {
                BootcHost.FilterToSlot(host, BootcSlot.Booted);
            }

            var f = pr.GetValue(format) ?? (pr.GetValue(json) ? "json" : Console.IsOutputRedirected ? "yaml" : "humanreadable");
            Console.Out.Write(f switch
            {
                "json" => BootcHost.ToCanonicalJson(host),
                "yaml" => BootcYaml.Write(host),
                // (-v, --verbose: the global option) include more fields
                _ => BootcHuman.Render(host, CliSupport.VerboseRequested),
            });
            return 0;
        });
        return cmd;
    }

    private static Option<int?> ProgressFdOption() => new("--progress-fd") { Description = "File descriptor (an open pipe) to write progress to, as JSON Lines", Hidden = true };

    private static Option<string?> SoftRebootOption() => new("--soft-reboot") { Description = "Soft reboot: refused (systemd soft-reboot of a staged deployment is not supported)" };

    private static void RefuseSoftReboot(ParseResult pr, Option<string?> softReboot)
    {
        if (pr.GetValue(softReboot) is { } mode)
        {
            throw new OstreeException(OstreeErrorCode.NotSupported, $"--soft-reboot={mode}: soft reboots are not supported by ostree-sharp; reboot with --apply or later");
        }
    }

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
        CliSupport.SetRun(cmd, pr =>
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
                var found = ImageStore.CheckAsync(s.Repo, spec, registry.Build(pr), cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                if (found.AlreadyPresent)
                {
                    Console.WriteLine($"No changes in: {spec.ToAlternateString()}");
                }
                else
                {
                    Console.WriteLine($"Update available for: {spec.ToAlternateString()}");
                    if (BootcHost.Version(found.Config) is { } version)
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

    private static Command Switch()
    {
        var cmd = new Command("switch", "Change the image the host follows, download it and stage it for the next boot");
        var quiet = new Option<bool>("--quiet") { Description = "Don't display progress" };
        var apply = new Option<bool>("--apply") { Description = "Reboot into the new image" };
        var softReboot = SoftRebootOption();
        var transport = new Option<string>("--transport") { Description = "The transport: registry, oci, oci-archive, containers-storage, dir, docker-archive", DefaultValueFactory = _ => "registry" };
        var noSigVerify = new Option<bool>("--no-signature-verification") { Description = "Deprecated; does nothing (as in bootc)", Hidden = true };
        var enforce = new Option<bool>("--enforce-container-sigpolicy") { Description = "Require containers-policy.json to demand signatures by default (the image is followed as ostree-image-signed:)" };
        var mutateInPlace = new Option<bool>("--mutate-in-place") { Description = "Change the booted deployment's origin instead of staging a new deployment: refused", Hidden = true };
        var retain = new Option<bool>("--retain") { Description = "Keep the ref the booted deployment followed" };
        var unified = new Option<bool>("--experimental-unified-storage") { Description = "bootc's unified storage: refused", Hidden = true };
        var target = new Argument<string>("TARGET") { Description = "Target image to use for the next boot" };
        var progressFd = ProgressFdOption();
        foreach (var o in new Option[] { quiet, apply, softReboot, transport, noSigVerify, enforce, mutateInPlace, retain, unified, progressFd })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(target);
        var registry = new RegistryCliOptions(policy: true);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            RefuseSoftReboot(pr, softReboot);
            if (pr.GetValue(mutateInPlace) || pr.GetValue(unified))
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, $"{(pr.GetValue(mutateInPlace) ? "--mutate-in-place" : "--experimental-unified-storage")} is not supported by ostree-sharp");
            }

            var image = ImageReference.Parse($"{pr.GetValue(transport)}:{pr.GetValue(target)}");
            var spec = new OstreeImageReference(pr.GetValue(enforce) ? SignaturePolicy.ContainerPolicy : SignaturePolicy.AllowInsecure, null, image);
            using var progress = BootcProgress.Open(pr.GetValue(progressFd));
            var (s, l, booted) = OpenBooted();
            using var _ = l;
            var host = BootcHost.Build(s);
            if (host["spec"]?["image"] is JsonObject current && JsonNode.DeepEquals(current, BootcHost.ImageReference(spec)))
            {
                Console.WriteLine("Image specification is unchanged.");
                return pr.GetValue(apply) && s.Staged is not null ? Reboot(true) : 0;
            }

            var report = Pull(s, spec, registry.Build(pr), pr.GetValue(quiet) ? null : Console.WriteLine, progress);
            if (!pr.GetValue(retain) && booted.Refspec is { } refspec)
            {
                // The ref the host followed goes, so that its commits can be pruned after later upgrades.
                try
                {
                    s.Repo.SetRefImmediate(refspec, null);
                }
                catch (ObjectNotFoundException)
                {
                }
            }

            Stage(s, booted, spec, report.Image, downloadOnly: false, progress);
            return Reboot(pr.GetValue(apply));
        });
        return cmd;
    }

    private static Command Rollback()
    {
        var cmd = new Command("rollback", "Make the rollback deployment the next boot (or, when it already is, the booted one again)");
        var apply = new Option<bool>("--apply") { Description = "Reboot into the rollback image" };
        var softReboot = SoftRebootOption();
        cmd.Options.Add(apply);
        cmd.Options.Add(softReboot);
        CliSupport.SetRun(cmd, pr =>
        {
            RefuseSoftReboot(pr, softReboot);
            var (s, l, booted) = OpenBooted();
            using (l)
            {
                RollbackLocked(s, booted);
            }

            return Reboot(pr.GetValue(apply));
        });
        return cmd;
    }

    // As bootc: the rollback (the first other deployment of the booted stateroot) goes before the booted one, or, when
    // it is already queued there, after it again; a staged deployment is dropped.
    private static void RollbackLocked(OstreeSysroot s, Deployment booted)
    {
        var related = s.Deployments.Where(d => d.OsName == booted.OsName && !d.SameAs(booted)).ToList();
        var rollback = related.FirstOrDefault() ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No rollback available");
        if (rollback.ContainerImageReference is null)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, "Rollback is not container image based");
        }

        bool reverting = rollback.Index < booted.Index;
        if (reverting)
        {
            Console.WriteLine("notice: Reverting queued rollback state");
        }

        var list = (reverting ? new[] { booted, rollback } : [rollback, booted])
            .Concat(related.Skip(1))
            .Concat(s.Deployments.Where(d => d.OsName != booted.OsName))
            .ToList();
        s.WriteDeployments(list);
        Console.WriteLine(reverting ? "Next boot: current deployment" : "Next boot: rollback deployment");
        WriteRebootRequired(ImageStore.QueryCommit(s.Repo, rollback.Commit, rollback.ContainerImageReference)?.ManifestDigest.ToString() ?? rollback.Commit.ToHex());
    }

    private static Command Edit()
    {
        var cmd = new Command("edit", "Change the host's specification (its image, or its boot order) from a YAML or JSON file, or in $EDITOR");
        var filename = new Option<string?>("--filename", "-f") { Description = "Use this file as the new specification" };
        var quiet = new Option<bool>("--quiet") { Description = "Don't display progress" };
        cmd.Options.Add(filename);
        cmd.Options.Add(quiet);
        var registry = new RegistryCliOptions(policy: true);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var (s, l, booted) = OpenBooted();
            using var _ = l;
            var host = BootcHost.Build(s);
            JsonObject edited;
            if (pr.GetValue(filename) is { } file)
            {
                edited = BootcYaml.ReadObject(File.ReadAllText(file), file);
            }
            else
            {
                var tmp = Path.Combine(Path.GetTempPath(), $"bootc-edit-{Environment.ProcessId}.yaml");
                try
                {
                    File.WriteAllText(tmp, BootcYaml.Write(host));
                    var editor = Environment.GetEnvironmentVariable("EDITOR") is { Length: > 0 } e ? e : "vi";
                    using var p = Process.Start(new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", editor + " \"$1\"", "sh", tmp }, UseShellExecute = false })
                        ?? throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"Could not start {editor}");
                    p.WaitForExit();
                    if (p.ExitCode != 0)
                    {
                        throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"{editor} exited with status {p.ExitCode}");
                    }

                    edited = BootcYaml.ReadObject(File.ReadAllText(tmp), tmp);
                }
                finally
                {
                    File.Delete(tmp);
                }
            }

            var oldSpec = host["spec"] as JsonObject ?? [];
            var newSpec = edited["spec"] as JsonObject ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, "The edited host has no spec");
            newSpec["bootOrder"] ??= "default";
            if (!newSpec.ContainsKey("image"))
            {
                newSpec["image"] = null;
            }

            if (JsonNode.DeepEquals(Canonical(oldSpec["image"]), Canonical(newSpec["image"])) && oldSpec["bootOrder"]?.GetValue<string>() == newSpec["bootOrder"]?.GetValue<string>())
            {
                Console.WriteLine("Edit cancelled, no changes made.");
                return 0;
            }

            bool orderChanged = oldSpec["bootOrder"]?.GetValue<string>() != newSpec["bootOrder"]?.GetValue<string>();
            bool imageChanged = !JsonNode.DeepEquals(Canonical(oldSpec["image"]), Canonical(newSpec["image"]));
            if (orderChanged && imageChanged)
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Cannot change the image and the boot order at once");
            }

            if (orderChanged)
            {
                RollbackLocked(s, booted);
                return 0;
            }

            var spec = BootcHost.ParseImageReference(newSpec["image"]);
            var report = Pull(s, spec, registry.Build(pr), pr.GetValue(quiet) ? null : Console.WriteLine, null);
            Stage(s, booted, spec, report.Image, downloadOnly: false, null);
            return 0;
        });
        return cmd;
    }

    private static JsonNode? Canonical(JsonNode? node)
    {
        if (node is JsonObject o && o["signature"] is JsonValue v && v.GetValue<string>() == "insecure")
        {
            // (bootc writes no signature for the insecure policy; a file may spell it out)
            var copy = (JsonObject)o.DeepClone();
            copy.Remove("signature");
            return copy;
        }

        return node;
    }

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
        var report = ImageStore.PullAsync(s.Repo, spec, registry, log, progress, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
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
