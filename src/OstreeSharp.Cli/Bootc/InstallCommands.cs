// `install to-disk` and `install to-filesystem`, with bootc's flags.
using System.CommandLine;
using System.Globalization;
using OstreeSharp.Containers.Install;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

internal static class InstallCommands
{
    public static Command Create()
    {
        var install = new Command("install", "Install an OS image to a disk or a filesystem (as `bootc install`)");
        install.Subcommands.Add(ToDisk());
        install.Subcommands.Add(ToFilesystem());
        return install;
    }

    // The options both verbs share: bootc's InstallSourceOpts, InstallTargetOpts and InstallConfigOpts.
    private sealed class Common
    {
        public readonly Option<string?> SourceImgref = new("--source-imgref") { Description = "The image to install (a container reference: docker://..., oci:DIR[:TAG], oci-archive:FILE, or an ostree image reference)" };
        public readonly Option<string> TargetTransport = new("--target-transport") { Description = "Transport of --target-imgref: registry (default), oci, oci-archive", DefaultValueFactory = _ => "registry" };
        public readonly Option<string?> TargetImgref = new("--target-imgref") { Description = "The image the installed system follows for updates (default: the source)" };
        public readonly Option<bool> EnforceSigpolicy = new("--enforce-container-sigpolicy") { Description = "Require containers-policy.json to demand signatures (the image is pulled as ostree-image-signed:)" };
        public readonly Option<bool> TargetNoSigVerify = new("--target-no-signature-verification") { Description = "Does nothing (bootc keeps it for compatibility)", Hidden = true };
        public readonly Option<bool> RunFetchCheck = new("--run-fetch-check") { Description = "After installing, check that the target image can be fetched" };
        public readonly Option<bool> SkipFetchCheck = new("--skip-fetch-check") { Description = "Do not check that the target image can be fetched (the default)" };
        public readonly Option<bool> DisableSelinux = new("--disable-selinux") { Description = "Boot the installed system with selinux=0" };
        public readonly Option<string[]> Karg = new("--karg") { Description = "Add a kernel argument (repeatable)" };
        public readonly Option<string[]> KargDelete = new("--karg-delete") { Description = "Remove a kernel argument: KEY (every one) or KEY=VALUE (repeatable)" };
        public readonly Option<string?> RootSshKeys = new("--root-ssh-authorized-keys") { Description = "An authorized_keys file for root, installed through tmpfiles.d" };
        public readonly Option<bool> GenericImage = new("--generic-image") { Description = "Install every boot loader and skip firmware changes (refused: no boot loader is installed)" };
        public readonly Option<string> BoundImages = new("--bound-images") { Description = "Logically bound images: stored (default), skip, pull", DefaultValueFactory = _ => "stored" };
        public readonly Option<string?> Stateroot = new("--stateroot") { Description = "The stateroot name (default: the install configuration's, else default)" };
        public readonly Option<bool> BootupdSkipBootUuid = new("--bootupd-skip-boot-uuid") { Description = "bootupd option (refused: no boot loader is installed)" };
        public readonly Option<string?> Bootloader = new("--bootloader") { Description = "The boot loader: none (BLS entries only; grub and systemd are refused)" };
        public readonly Option<bool> ComposefsBackend = new("--composefs-backend") { Description = "bootc's composefs backend (refused)" };
        public readonly Option<bool> AllowMissingVerity = new("--allow-missing-verity") { Description = "composefs backend option (refused)" };
        public readonly Option<string[]> UkiAddon = new("--uki-addon") { Description = "composefs backend option (refused)" };
        public readonly Option<bool> Json = new("--json") { Description = "Print the result as JSON" };
        public readonly RegistryCliOptions Registry = new(policy: true);

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { SourceImgref, TargetTransport, TargetImgref, EnforceSigpolicy, TargetNoSigVerify, RunFetchCheck, SkipFetchCheck, DisableSelinux, Karg, KargDelete, RootSshKeys, GenericImage, BoundImages, Stateroot, BootupdSkipBootUuid, Bootloader, ComposefsBackend, AllowMissingVerity, UkiAddon, Json })
            {
                cmd.Options.Add(o);
            }

            Registry.AddTo(cmd);
        }

        public InstallOptions Build(ParseResult pr)
        {
            if (pr.GetValue(GenericImage) || pr.GetValue(BootupdSkipBootUuid) || pr.GetValue(Bootloader) is { } b && b != "none")
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, "Installing a boot loader is not supported: ostree-sharp writes BLS entries for a loader already on the disk (--bootloader=none)");
            }

            if (pr.GetValue(ComposefsBackend) || pr.GetValue(AllowMissingVerity) || (pr.GetValue(UkiAddon)?.Length ?? 0) > 0)
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, "bootc's composefs backend (--composefs-backend, --allow-missing-verity, --uki-addon) is not supported: the ostree backend is used");
            }

            if (pr.GetValue(RunFetchCheck) && pr.GetValue(SkipFetchCheck))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "--run-fetch-check and --skip-fetch-check cannot be combined");
            }

            var source = pr.GetValue(SourceImgref) ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, "--source-imgref is required: ostree-sharp does not run inside the image it installs");
            var sigpolicy = pr.GetValue(EnforceSigpolicy);
            var sourceRef = ToOstreeRef(source, sigpolicy);
            OstreeImageReference? target = null;
            if (pr.GetValue(TargetImgref) is { } t)
            {
                var transport = pr.GetValue(TargetTransport) ?? "registry";
                if (transport is not ("registry" or "oci" or "oci-archive" or "docker"))
                {
                    throw new OstreeException(OstreeErrorCode.NotSupported, $"--target-transport {transport} is not supported (registry, oci, oci-archive)");
                }

                target = ToOstreeRef(OstreeImageReference.TryParse(t, out _) || t.Contains("://", StringComparison.Ordinal) ? t : (transport == "registry" ? "docker://" : transport + ":") + t, sigpolicy);
            }

            string? keys = pr.GetValue(RootSshKeys) is { } f ? File.ReadAllText(f) : null;
            if (pr.GetValue(BoundImages) is not ("stored" or "skip" or "pull"))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, $"--bound-images {pr.GetValue(BoundImages)}: expected stored, skip or pull");
            }

            return new InstallOptions
            {
                Source = sourceRef,
                Target = target,
                Stateroot = pr.GetValue(Stateroot),
                Kargs = pr.GetValue(Karg) ?? [],
                KargDeletes = pr.GetValue(KargDelete) ?? [],
                RootSshAuthorizedKeys = keys,
                DisableSelinux = pr.GetValue(DisableSelinux),
                BoundImages = pr.GetValue(BoundImages)!,
                Registry = Registry.Build(pr),
                Log = Console.WriteLine,
            };
        }

        public void AfterInstall(ParseResult pr, InstallOptions options, InstallResult result)
        {
            if (pr.GetValue(RunFetchCheck))
            {
                var target = options.Target ?? options.Source;
                var source = OstreeSharp.Containers.Signatures.ContainerPolicy.OpenSource(target, options.Registry);
                try
                {
                    var layout = OstreeSharp.Containers.Store.Unencapsulator.FetchLayoutAsync(source, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                    Console.WriteLine($"Fetch check: {target.Image} => {layout.Manifest.Digest}");
                }
                finally
                {
                    source.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }

            if (pr.GetValue(Json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new InstallJson(result.Deployment.OsName, result.Deployment.DirectoryName, result.Kargs, result.RootUuid, result.BootUuid), CliJsonContext.Default.InstallJson));
            }
        }

        // bootc takes container references (docker://, oci:, ...); ostree image references are taken as they are.
        private static OstreeImageReference ToOstreeRef(string text, bool signed)
        {
            if (OstreeImageReference.TryParse(text, out var r))
            {
                return r;
            }

            var image = ImageReference.Parse(text);
            if (image.Transport == Transport.ContainersStorage)
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, $"{text}: containers-storage is not supported (no container engine underneath); use docker://, oci: or oci-archive:");
            }

            return new OstreeImageReference(signed ? SignaturePolicy.ContainerPolicy : SignaturePolicy.AllowInsecure, null, image);
        }
    }

    private static Command ToDisk()
    {
        var cmd = new Command("to-disk", "Partition a block device (or with --via-loopback a disk image file) and install to it, as bootc does");
        var device = new Argument<string>("DEVICE") { Description = "The block device, or the disk image file with --via-loopback" };
        var wipe = new Option<bool>("--wipe") { Description = "Overwrite existing partitions" };
        var blockSetup = new Option<string?>("--block-setup") { Description = "direct (tpm2-luks is refused)" };
        var filesystem = new Option<string?>("--filesystem") { Description = "The root filesystem type: ext4 (xfs and btrfs are refused: they cannot be built from a folder without mounting)" };
        var rootSize = new Option<string?>("--root-size") { Description = "Size of the root partition (M, G or T; default: the rest of the disk)" };
        var viaLoopback = new Option<bool>("--via-loopback") { Description = "DEVICE is a regular file: a raw disk image (written directly, no loop device)" };
        var common = new Common();
        cmd.Arguments.Add(device);
        foreach (var o in new Option[] { wipe, blockSetup, filesystem, rootSize, viaLoopback })
        {
            cmd.Options.Add(o);
        }

        common.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            if (pr.GetValue(blockSetup) is { } bs && bs != "direct")
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, $"--block-setup {bs} is not supported (direct)");
            }

            var options = common.Build(pr);
            var fs = pr.GetValue(filesystem);
            if (fs is not (null or "ext4" or "xfs" or "btrfs"))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, $"--filesystem {fs}: expected ext4, xfs or btrfs");
            }

            long? size = pr.GetValue(rootSize) is { } rs ? ParseMib(rs) : null;
            var result = await Installer.ToDiskAsync(pr.GetValue(device)!, pr.GetValue(viaLoopback), pr.GetValue(wipe), fs, size, options, cancellationToken: CliSupport.Stopping);
            common.AfterInstall(pr, options, result);
            return 0;
        });
        return cmd;
    }

    private static Command ToFilesystem()
    {
        var cmd = new Command("to-filesystem", "Install into a mounted root filesystem (or a folder), as bootc does");
        var root = new Argument<string>("ROOT_PATH") { Description = "The root filesystem (its boot folder or mounted boot filesystem is used for /boot)" };
        var rootSpec = new Option<string?>("--root-mount-spec") { Description = "root= of the installed system (default: UUID=... of the filesystem at ROOT_PATH)" };
        var bootSpec = new Option<string?>("--boot-mount-spec") { Description = "The source of /boot for fstab and boot= (default: UUID=... of ROOT_PATH/boot when it is a mount; empty: none)" };
        var replace = new Option<string?>("--replace") { Description = "wipe: remove what ROOT_PATH holds first; alongside: keep it" };
        var acknowledge = new Option<bool>("--acknowledge-destructive") { Description = "Confirm --replace=alongside on the booted system" };
        var skipFinalize = new Option<bool>("--skip-finalize") { Description = "Do not sync the target filesystems at the end" };
        var common = new Common();
        cmd.Arguments.Add(root);
        foreach (var o in new Option[] { rootSpec, bootSpec, replace, acknowledge, skipFinalize })
        {
            cmd.Options.Add(o);
        }

        common.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var options = common.Build(pr);
            var path = Path.GetFullPath(pr.GetValue(root)!);
            var mode = pr.GetValue(replace) switch
            {
                null => ReplaceMode.None,
                "wipe" => ReplaceMode.Wipe,
                "alongside" => ReplaceMode.Alongside,
                var other => throw new OstreeException(OstreeErrorCode.InvalidArgument, $"--replace {other}: expected wipe or alongside"),
            };
            if (path == "/" && !pr.GetValue(acknowledge))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Installing to / replaces the running system: pass --acknowledge-destructive");
            }

            var rspec = pr.GetValue(rootSpec) ?? FindUuid(path) ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Cannot find the UUID of the filesystem mounted at {path}; pass --root-mount-spec");
            var bspec = pr.GetValue(bootSpec) ?? (Directory.Exists(Path.Combine(path, "boot")) ? FindUuid(Path.Combine(path, "boot")) : null) ?? string.Empty;
            var result = await Installer.ToFilesystemAsync(path, rspec, bspec, mode, options, cancellationToken: CliSupport.Stopping);
            if (!pr.GetValue(skipFinalize))
            {
                OstreeSharp.Internal.Native.SyncFs(path);
                if (Directory.Exists(Path.Combine(path, "boot")))
                {
                    OstreeSharp.Internal.Native.SyncFs(Path.Combine(path, "boot"));
                }
            }

            common.AfterInstall(pr, options, result);
            return 0;
        });
        return cmd;
    }

    // UUID=... of the filesystem mounted exactly at PATH (findmnt), or null when PATH is not a mount point.
    private static string? FindUuid(string path)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("findmnt") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-n", "-o", "UUID", "--mountpoint", path })
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using var p = System.Diagnostics.Process.Start(psi)!;
            var uuid = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 && uuid.Length > 0 ? "UUID=" + uuid : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static long ParseMib(string text)
    {
        var t = text.Trim();
        long mult = t[^1] switch { 'M' or 'm' => 1L << 20, 'G' or 'g' => 1L << 30, 'T' or 't' => 1L << 40, _ => 0 };
        var digits = mult == 0 ? t : t[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            throw new OstreeException(OstreeErrorCode.InvalidArgument, $"--root-size {text}: expected a size such as 4096M, 8G or 1T");
        }

        return n * (mult == 0 ? 1L << 20 : mult);
    }
}

internal sealed record InstallJson(string Stateroot, string Deployment, string Kargs, string? RootUuid, string? BootUuid);
