// `container image deploy` and `container image prune-images`: the image store of a sysroot's repository.
using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Internal;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static class ContainerDeployCommands
{
    public static Command Deploy()
    {
        var cmd = new Command("deploy", "Pull a container image into a sysroot's repository and deploy it (as ostree-ext and bootc do)");
        var sysroot = new Option<string>("--sysroot") { Description = "Path to the system root", Required = true };
        var stateroot = new Option<string?>("--stateroot") { Description = "Name of the stateroot, created when missing (default: the booted one, else 'default')" };
        var imgref = new Option<string?>("--imgref") { Description = "Image reference to pull and deploy (ostree-unverified-registry:..., ostree-remote-image:..., ...); or give --image" };
        var imageName = new Option<string?>("--image") { Description = "Name of the image (for the registry transport e.g. quay.io/exampleos/foo:latest); instead of --imgref" };
        var transport = new Option<string?>("--transport") { Description = "With --image: registry (default), oci, oci-archive, dir or docker-archive" };
        var enforce = new Option<bool>("--enforce-container-sigpolicy") { Description = "With --image: the image must satisfy containers-policy.json, which must not accept anything by default (ostree-image-signed:)" };
        var ostreeRemote = new Option<string?>("--ostree-remote") { Description = "With --image and --enforce-container-sigpolicy: verify the commit with this ostree remote's keys instead (as ostree-ext, it has no effect without --enforce-container-sigpolicy)" };
        var noSigVerify = new Option<bool>("--no-signature-verification") { Description = "Does nothing (deprecated in ostree-ext: unverified is the default)", Hidden = true };
        var commitIdTo = new Option<string?>("--write-commitid-to") { Description = "Write the deployed commit's checksum to FILE" };
        var target = new Option<string?>("--target-imgref") { Description = "Record this image reference in the origin (the one the host follows), instead of --imgref" };
        var noImgref = new Option<bool>("--no-imgref") { Description = "Keep the image's layers in the store but not the image itself (it is not pinned there)" };
        var karg = new Option<string[]>("--karg") { Description = "Kernel argument (replaces the merge deployment's arguments; repeatable)" };
        var json = new Option<bool>("--json") { Description = "Print the new deployment as JSON" };
        var registry = new RegistryCliOptions(policy: true);
        foreach (var o in new Option[] { sysroot, stateroot, imgref, imageName, transport, enforce, ostreeRemote, noSigVerify, target, noImgref, karg, commitIdTo, json })
        {
            cmd.Options.Add(o);
        }

        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            // As ostree-ext: --image with --transport builds the reference; without --enforce-container-sigpolicy it
            // is unverified (even with --ostree-remote), with it the remote's keys or else the container policy.
            OstreeImageReference image;
            switch (pr.GetValue(imgref), pr.GetValue(imageName))
            {
                case ({ } text, null):
                    image = OstreeImageReference.Parse(text);
                    break;
                case (null, { } name):
                    if (pr.GetValue(noSigVerify) && pr.GetValue(enforce))
                    {
                        throw new ArgumentException("--no-signature-verification cannot be used with --enforce-container-sigpolicy");
                    }

                    var kind = pr.GetValue(transport) ?? "registry";
                    var reference = ImageReference.Parse(kind is "registry" or "docker" ? "docker://" + name : kind + ":" + name);
                    image = !pr.GetValue(enforce) ? new OstreeImageReference(SignaturePolicy.AllowInsecure, null, reference)
                        : pr.GetValue(ostreeRemote) is { } remote ? new OstreeImageReference(SignaturePolicy.OstreeRemote, remote, reference)
                        : new OstreeImageReference(SignaturePolicy.ContainerPolicy, null, reference);
                    break;
                case (null, null):
                    throw new ArgumentException("One of --imgref and --image is required");
                default:
                    throw new ArgumentException("--imgref and --image cannot be used together");
            }

            if (pr.GetValue(imgref) is not null && (pr.GetValue(transport) is not null || pr.GetValue(enforce) || pr.GetValue(ostreeRemote) is not null))
            {
                throw new ArgumentException("--transport, --enforce-container-sigpolicy and --ostree-remote go with --image; --imgref carries its own");
            }

            var s = OstreeSysroot.Open(pr.GetValue(sysroot)!);
            s.Log = Console.WriteLine;
            s.Note = Console.Error.WriteLine;
            using var _ = s.Lock(CliSupport.WaitingForSysrootLockOnStderr);
            s.Load();
            var os = pr.GetValue(stateroot) ?? s.Booted?.OsName ?? "default";
            if (!Directory.Exists(s.Combine($"ostree/deploy/{os}")))
            {
                s.InitOs(os);
            }

            var kargs = pr.GetValue(karg) ?? [];
            var options = new DeployOptions { OsName = os, KargNone = kargs.Length > 0, Kargs = kargs };
            var targetRef = pr.GetValue(target) is { } t ? OstreeImageReference.Parse(t) : null;
            var d = await SysrootImages.DeployAsync(s, new ImageDeployRequest(image, options) { Target = targetRef, NoImgref = pr.GetValue(noImgref), Registry = registry.Build(pr) }, CliSupport.MakePullProgress(pr, "pull"), CliSupport.Stopping);
            if (pr.GetValue(commitIdTo) is { } idFile)
            {
                File.WriteAllText(idFile, d.Commit.ToString());
            }

            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(AdminCommands.ToJson(s, d), CliJsonContext.Default.DeploymentJson));
            }
            else
            {
                Console.WriteLine($"Deployed: {d.OsName} {d.DirectoryName} (index {d.Index})");
            }

            return 0;
        });
        return cmd;
    }

    public static Command PruneImages()
    {
        var cmd = new Command("prune-images", "Remove stored images no deployment of the sysroot uses, then their unused layers");
        var sysroot = new Option<string>("--sysroot") { Description = "Path to the system root", Required = true };
        var full = new Option<bool>("--full") { Description = "Also prune the repository's unreachable objects" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(full);
        cmd.Options.Add(json);
        CliSupport.SetRun(cmd, pr =>
        {
            var s = OstreeSysroot.Open(pr.GetValue(sysroot)!);
            using var _ = s.Lock(CliSupport.WaitingForSysrootLockOnStderr);
            s.Load();
            var (removed, layers, objects) = SysrootImages.PruneImages(s, pr.GetValue(full));
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new PruneImagesJson([.. removed], layers, objects?.Deleted ?? 0, objects?.BytesFreed ?? 0), CliJsonContext.Default.PruneImagesJson));
                return 0;
            }

            foreach (var r in removed)
            {
                Console.WriteLine($"Removed image: {r}");
            }

            Console.WriteLine($"Removed images: {removed.Count}, layers: {layers}");
            if (objects is not null)
            {
                Console.WriteLine($"Freed objects: {SizeFormat.Format(objects.BytesFreed)}");
            }

            return 0;
        });
        return cmd;
    }
}
