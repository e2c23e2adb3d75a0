// The boot loader back-ends of libostree besides BLS: syslinux, U-Boot and GRUB 2. Each reads the BLS entries just
// written for the new boot version and writes its own configuration into boot/loader.N/ (EFI GRUB: next to the EFI
// grub.cfg), before the boot version swap makes it current.
using System.Diagnostics;
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Sysroot;

public sealed partial class OstreeSysroot
{
    private const string SyslinuxConfig = "boot/syslinux/syslinux.cfg";
    private const string UbootConfig = "boot/loader/uEnv.txt";

    /// <summary>
    /// <c>sysroot.bootloader</c> as libostree reads it: <c>none</c> (null: BLS entries only), a back-end by name, or
    /// <c>auto</c>, which probes syslinux, then GRUB 2, then U-Boot, by the files their installers leave in /boot.
    /// </summary>
    public string? DetectBootloader()
    {
        var configured = Repo.Config.Get("sysroot", "bootloader") ?? "auto";
        return configured switch
        {
            "none" => null,
            "auto" => Native.TryLStat(Combine(SyslinuxConfig), out _) ? "syslinux"
                : Grub2ConfigPath() is not null ? "grub2"
                : Native.TryLStat(Combine(UbootConfig), out _) ? "uboot" : null,
            "grub2" or "syslinux" or "uboot" or "zipl" => configured,
            _ => throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"Invalid sysroot.bootloader '{configured}' in {Repo.ConfigPath}"),
        };
    }

    /// <summary>Refuses, before anything is written, a back-end we do not have (zipl, which needs s390x tools).</summary>
    public void CheckBootloader()
    {
        if (DetectBootloader() == "zipl")
        {
            throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"Bootloader 'zipl' (configured in {Repo.ConfigPath}) is not supported by ostree-sharp; set sysroot.bootloader=none to write BLS entries only");
        }
    }

    /// <summary>
    /// The GRUB 2 configuration that makes GRUB the active loader: boot/grub/grub.cfg or boot/grub2/grub.cfg (a
    /// dangling link counts, as the installer points it at loader/grub.cfg before the first deployment), else
    /// boot/efi/EFI/VENDOR/grub.cfg. None when bootupd manages static GRUB configurations.
    /// </summary>
    private (string Path, bool Efi)? Grub2ConfigPath()
    {
        var bootupd = Combine("boot/bootupd-state.json");
        if (File.Exists(bootupd))
        {
            var state = File.ReadAllText(bootupd);
            if (state.Contains("\"static-configs\"", StringComparison.Ordinal) && !state.Contains("\"static-configs\":null", StringComparison.Ordinal))
            {
                return null;
            }
        }

        foreach (var bios in new[] { "boot/grub/grub.cfg", "boot/grub2/grub.cfg" })
        {
            if (Native.TryLStat(Combine(bios), out _))
            {
                return (Combine(bios), false);
            }
        }

        var efi = Combine("boot/efi/EFI");
        if (Directory.Exists(efi))
        {
            foreach (var vendor in Directory.GetDirectories(efi).Order(StringComparer.Ordinal))
            {
                var cfg = System.IO.Path.Combine(vendor, "grub.cfg");
                if (System.IO.Path.GetFileName(vendor) != "BOOT" && !(Native.TryLStat(vendor, out var st) && st.Type == 0xA000) && File.Exists(cfg))
                {
                    return (cfg, true);
                }
            }
        }

        return null;
    }

    /// <summary>Writes the configuration of <paramref name="bootloader"/> for boot version <paramref name="newBoot"/>.</summary>
    private void WriteBootloaderConfig(string bootloader, int newBoot, IReadOnlyList<Deployment> list)
    {
        switch (bootloader)
        {
            case "syslinux":
                WriteSyslinux(newBoot, list);
                break;
            case "uboot":
                WriteUboot(newBoot, list);
                break;
            case "grub2":
                WriteGrub2(newBoot, list);
                break;
            default:
                throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"Bootloader '{bootloader}' is not supported by ostree-sharp");
        }
    }

    /// <summary>
    /// syslinux.cfg: the current file with its ostree LABEL blocks dropped (those whose KERNEL is under /ostree/ or
    /// /boot/ostree/) and one block per deployment appended; DEFAULT names the first unless the file's own DEFAULT
    /// points at something other than an ostree entry.
    /// </summary>
    private void WriteSyslinux(int newBoot, IReadOnlyList<Deployment> list)
    {
        var current = ReadLoaderConfig(SyslinuxConfig);
        var lines = new List<string>();
        var label = new List<string>();
        string? kernel = null;
        bool sawDefault = false, regenerateDefault = false, inLabel = false;
        var source = current.Split('\n');
        for (int i = 0; i <= source.Length; i++)
        {
            string? line = i < source.Length ? source[i] : null;
            if (inLabel && (line is null || !line.StartsWith('\t')))
            {
                inLabel = false;
                if (kernel is null)
                {
                    throw new OstreeFormatException($"{Combine(SyslinuxConfig)}: no KERNEL argument found after LABEL");
                }

                if (!kernel.StartsWith("/ostree/", StringComparison.Ordinal) && !kernel.StartsWith("/boot/ostree/", StringComparison.Ordinal))
                {
                    lines.AddRange(label);
                }

                label.Clear();
            }

            if (line is null)
            {
                break;
            }

            bool skip = false;
            if (!inLabel && line.StartsWith("LABEL ", StringComparison.Ordinal))
            {
                inLabel = true;
                label.Clear();
            }
            else if (inLabel && line.StartsWith("\tKERNEL ", StringComparison.Ordinal))
            {
                kernel = line["\tKERNEL ".Length..];
            }
            else if (!inLabel && line.StartsWith("DEFAULT ", StringComparison.Ordinal))
            {
                sawDefault = true;
                regenerateDefault |= line.StartsWith("DEFAULT ostree:", StringComparison.Ordinal) || line.Contains("(ostree", StringComparison.Ordinal);
                skip = true;
            }

            if (!skip)
            {
                (inLabel ? label : lines).Add(line);
            }
        }

        regenerateDefault |= !sawDefault;

        // Paths in the entries are relative to the boot partition; syslinux reads them from the root, so they get
        // /boot in front unless sysroot.bootprefix already put it there.
        var prefix = Repo.Config.GetBoolean("sysroot", "bootprefix", false) ? string.Empty : "/boot";
        for (int i = 0; i < list.Count; i++)
        {
            var e = list[i].Entry;
            var title = e["title"] ?? "(Untitled)";
            if (regenerateDefault && i == 0)
            {
                lines.Add("DEFAULT " + title);
            }

            lines.Add("LABEL " + title);
            lines.Add($"\tKERNEL {prefix}{e["linux"] ?? throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"No \"linux\" key in the boot entry of {list[i]}")}");
            AddIf(lines, "\tINITRD " + prefix, e["initrd"]);
            AddIf(lines, "\tDEVICETREE " + prefix, e["devicetree"]);
            AddIf(lines, "\tAPPEND ", e["options"]);
        }

        WriteLoaderFile($"boot/loader.{newBoot}/syslinux.cfg", lines);
    }

    /// <summary>
    /// uEnv.txt: kernel_image, ramdisk_image, fdt_file, fdtdir and bootargs of each deployment (suffix 2, 3, ... after
    /// the first), then the first deployment's own usr/lib/ostree-boot/uEnv.txt when it has one.
    /// </summary>
    private void WriteUboot(int newBoot, IReadOnlyList<Deployment> list)
    {
        ReadLoaderConfig(UbootConfig); // must exist, as for libostree; its content is replaced
        var lines = new List<string>();
        for (int i = 0; i < list.Count; i++)
        {
            var e = list[i].Entry;
            var suffix = i == 0 ? string.Empty : (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            lines.Add($"kernel_image{suffix}=/boot{e["linux"] ?? throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"No \"linux\" key in the boot entry of {list[i]}")}");
            AddIf(lines, $"ramdisk_image{suffix}=/boot", e["initrd"]);
            AddIf(lines, $"fdt_file{suffix}=/boot", e["devicetree"]);
            AddIf(lines, $"fdtdir{suffix}=/boot", e["fdtdir"]);
            if (e["options"] is { } options)
            {
                lines.Add($"bootargs{suffix}={options}");
                if (i == 0)
                {
                    var ostreeArg = KernelArgs.Parse(options).Items.LastOrDefault(a => a.Key == "ostree").Value
                        ?? throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"No ostree= kernel argument in the boot entry of {list[i]}");
                    var systemUenv = Combine(ostreeArg.TrimStart('/') + "/usr/lib/ostree-boot/uEnv.txt");
                    if (File.Exists(systemUenv))
                    {
                        lines.Add(File.ReadAllText(systemUenv));
                    }
                }
            }
        }

        WriteLoaderFile($"boot/loader.{newBoot}/uEnv.txt", lines);
    }

    /// <summary>
    /// GRUB 2 through a generator, as libostree: <c>$OSTREE_GRUB2_EXEC</c> or grub2-mkconfig, run with
    /// <c>-o FILE</c> and _OSTREE_GRUB2_BOOTVERSION (and _OSTREE_GRUB2_IS_EFI) in its environment. grub2-mkconfig runs
    /// chrooted in the first new deployment when the sysroot is not the booted root. BIOS: FILE is
    /// boot/loader.N/grub.cfg, made current by the swap; EFI: FILE is grub.cfg.new beside the EFI grub.cfg, which is
    /// then replaced (the old one kept as grub.cfg.old; FAT has no atomic rename).
    /// </summary>
    private void WriteGrub2(int newBoot, IReadOnlyList<Deployment> list)
    {
        var (config, efi) = Grub2ConfigPath() ?? (Combine("boot/grub2/grub.cfg"), false);
        var exec = Environment.GetEnvironmentVariable("OSTREE_GRUB2_EXEC");
        const string mkconfig = "/usr/sbin/grub2-mkconfig";
        bool systemMkconfig = exec is null || exec.EndsWith(mkconfig, StringComparison.Ordinal);
        exec ??= mkconfig;
        var output = efi ? System.IO.Path.Combine(System.IO.Path.GetDirectoryName(config)!, "grub.cfg.new") : Combine($"boot/loader.{newBoot}/grub.cfg");
        FileUtil.DeleteAny(output);
        var psi = new ProcessStartInfo { UseShellExecute = false };
        if (systemMkconfig && Booted is null && System.IO.Path.GetFullPath(Path) != "/")
        {
            // An installer's sysroot: GRUB's scripts run inside the deployment they configure.
            psi.FileName = "chroot";
            psi.ArgumentList.Add(DeploymentPath(list[0]));
            psi.ArgumentList.Add(exec);
        }
        else
        {
            psi.FileName = exec;
        }

        psi.ArgumentList.Add("-o");
        psi.ArgumentList.Add(output);
        psi.Environment["_OSTREE_GRUB2_BOOTVERSION"] = newBoot.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (efi)
        {
            psi.Environment["_OSTREE_GRUB2_IS_EFI"] = "1";
        }

        bool show = Environment.GetEnvironmentVariable("OSTREE_DEBUG_GRUB2") is not null || Environment.GetEnvironmentVariable("INVOCATION_ID") is not null;
        psi.RedirectStandardOutput = !show;
        psi.RedirectStandardError = !show;
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"{exec}: could not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"{exec}: {e.Message}");
        }

        using (process)
        {
            if (!show)
            {
                process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
                process.StandardError.BaseStream.CopyToAsync(Stream.Null);
            }

            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"{exec}: Child process exited with code {process.ExitCode}");
            }
        }

        if (!File.Exists(output))
        {
            throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"{exec} wrote no {output}");
        }

        Native.FsyncPath(output);
        if (efi)
        {
            var old = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(config)!, "grub.cfg.old");
            File.Copy(config, old, overwrite: true);
            File.Delete(config);
            Native.Rename(output, config);
        }
    }

    private string ReadLoaderConfig(string relative)
    {
        try
        {
            return File.ReadAllText(Combine(relative));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OstreeException(OstreeErrorCode.IOFailed, $"Reading {Combine(relative)}: {e.Message}");
        }
    }

    private static void AddIf(List<string> lines, string prefix, string? value)
    {
        if (value is not null)
        {
            lines.Add(prefix + value);
        }
    }

    /// <summary>
    /// Joins lines as libostree does: each ends with a newline; an empty first line is dropped, and of the empty
    /// lines after it only the first is kept.
    /// </summary>
    private void WriteLoaderFile(string relative, List<string> lines)
    {
        var sb = new StringBuilder();
        bool sawEmpty = false;
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Length == 0)
            {
                if (sawEmpty || i == 0)
                {
                    continue;
                }

                sawEmpty = true;
            }

            sb.Append(lines[i]).Append('\n');
        }

        FileUtil.WriteAtomic(Combine(relative), Encoding.UTF8.GetBytes(sb.ToString()), fsync: !Opt("skip-sync"));
    }
}
