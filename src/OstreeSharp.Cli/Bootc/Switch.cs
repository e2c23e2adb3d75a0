using System.CommandLine;
using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
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
}
