// Writing a deployment list: bootversion or subbootversion swap, with the crash-safe order of spec 2.1-2.3.
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Sysroot;

public sealed partial class OstreeSysroot
{
    /// <summary>Makes <paramref name="newList"/> the deployment list (spec 2.1); cleanup is the caller's.</summary>
    public void WriteDeployments(IReadOnlyList<Deployment> newList)
    {
        CheckBootloader();
        var list = newList.ToList();
        AssignBootSerials(list);
        for (int i = 0; i < list.Count; i++)
        {
            if (!Directory.Exists(DeploymentPath(list[i])))
            {
                throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Deployment {list[i]} has no directory {DeploymentPath(list[i])}");
            }

            list[i].Index = i;
        }

        if (Booted is { } booted && !list.Any(d => d.SameAs(booted)))
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, "Attempting to remove booted deployment");
        }

        // As libostree: a new list that leaves out the staged deployment drops it (the caller's cleanup removes it).
        if (Staged is not null && !list.Any(d => d.SameAs(Staged)))
        {
            File.Delete(StagedStatePath);
            File.Delete(StagedLockedPath);
            Staged = null;
            _stagedState = null;
        }

        bool full = NeedsFullSwap(Deployments, list);
        if (!full && Deployments.Count == list.Count && Deployments.Zip(list).All(p => p.First.SameAs(p.Second)))
        {
            return;
        }

        int change = list.Count - Deployments.Count;
        string message;
        if (full)
        {
            int newBoot = 1 - BootVersion;
            WriteFullSwap(list, newBoot);
            message = $"Bootloader updated; bootconfig swap: yes; bootversion: boot.{newBoot}.{ReadSubBootVersion(newBoot)}, deployment count change: {change}";
        }
        else
        {
            int newSub = 1 - SubBootVersion;
            FaultPoint.Hit("sub-before-farm");
            WriteBootlinkFarm(list, BootVersion, newSub);
            SyncAll();
            FaultPoint.Hit("sub-before-rename");
            ReplaceSymlink($"boot.{BootVersion}.{newSub}", Combine($"ostree/boot.{BootVersion}"));

            // The commit point of this swap is on the root filesystem: made durable before the command returns
            // (libostree leaves it to a later sync; a power cut right after could still boot the old deployment).
            if (!Opt("skip-sync"))
            {
                Native.FsyncPath(Combine("ostree"));
            }

            FaultPoint.Hit("sub-after-rename");
            message = $"Transaction complete; bootconfig swap: no; bootversion: boot.{BootVersion}.{newSub}, deployment count change: {change}";
        }

        Native.Touch(Combine("ostree/deploy"));
        Load();
        Log(message);
    }

    /// <summary>BOOTSERIAL: the count of earlier deployments of the list with the same boot checksum (spec 1.6).</summary>
    private static void AssignBootSerials(List<Deployment> list)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var d in list)
        {
            counts.TryGetValue(d.BootChecksum, out int n);
            d.BootSerial = n;
            counts[d.BootChecksum] = n + 1;
        }
    }

    private bool NeedsFullSwap(IReadOnlyList<Deployment> old, List<Deployment> list)
    {
        if (old.Count != list.Count)
        {
            return true;
        }

        for (int i = 0; i < list.Count; i++)
        {
            Deployment a = old[i], b = list[i];
            if (a.BootChecksum != b.BootChecksum || !a.Entry.OverlayInitrds.SequenceEqual(b.Entry.OverlayInitrds)
                || KargsWithoutOstree(a.Options) != KargsWithoutOstree(b.Options) || CommitVersion(a.Commit) != CommitVersion(b.Commit))
            {
                return true;
            }
        }

        return false;
    }

    private static string KargsWithoutOstree(string? options)
    {
        var k = KernelArgs.Parse(options);
        k.RemoveKey("ostree");
        return k.ToString();
    }

    private void WriteFullSwap(List<Deployment> list, int newBoot)
    {
        var entries = Combine($"boot/loader.{newBoot}/entries");
        FileUtil.DeleteAny(entries);
        Directory.CreateDirectory(entries);
        bool manyStateroots = list.Select(d => d.OsName).Distinct().Count() > 1;
        var appendExceptDefault = Repo.Config.Get("sysroot", "bls-append-except-default");

        // sysroot.bootprefix: paths in the entries start with /boot, which works whether /boot is its own
        // filesystem (through its boot -> . link) or a folder of the root filesystem.
        var prefix = Repo.Config.GetBoolean("sysroot", "bootprefix", false) ? "/boot" : string.Empty;
        int tries = Repo.BootCountingTries;
        FaultPoint.Hit("full-before-entries");
        for (int i = 0; i < list.Count; i++)
        {
            var d = list[i];
            var layout = KernelLayout.Find(DeploymentPath(d));
            var bootDir = $"ostree/{d.OsName}-{d.BootChecksum}";
            InstallBootFiles(layout, Combine("boot/" + bootDir));
            var fileName = d.Entry.FileNameFor(EntryName(list.Count, i, d.OsName), tries);
            var entry = d.Entry.Clone();
            entry["title"] = Title(d, i, manyStateroots);
            entry["version"] = (list.Count - i).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var kargs = KernelArgs.Parse(entry["options"]);
            var bootlink = $"/ostree/boot.{newBoot}/{d.OsName}/{d.BootChecksum}/{d.BootSerial}";
            if (layout.Initramfs is null)
            {
                kargs.Replace($"init={bootlink}/usr/lib/ostree/ostree-prepare-root");
            }

            kargs.Replace("ostree=" + bootlink);
            entry["options"] = kargs.ToString();
            entry["linux"] = $"{prefix}/{bootDir}/{layout.Kernel.Dest}";
            entry["initrd"] = layout.Initramfs is { } ir ? $"{prefix}/{bootDir}/{ir.Dest}" : null;
            entry["devicetree"] = layout.Devicetree is { } dt ? $"{prefix}/{bootDir}/{dt.Dest}" : null;
            entry["fdtdir"] = layout.DtbDirectory is { } dtb ? $"{prefix}/{bootDir}/{dtb}" : null;
            if (i != 0 && appendExceptDefault is { Length: > 0 })
            {
                foreach (var kv in appendExceptDefault.Split(';', StringSplitOptions.RemoveEmptyEntries))
                {
                    int eq = kv.IndexOf('=');
                    if (eq > 0)
                    {
                        entry[kv[..eq]] = kv[(eq + 1)..];
                    }
                }
            }

            FileUtil.WriteAtomic(System.IO.Path.Combine(entries, fileName), Encoding.UTF8.GetBytes(entry.Serialize()), fsync: false);
            entry.WrittenAs(fileName);
            d.Entry = entry;
        }

        FaultPoint.Hit("full-before-farm");
        int newSub = 1 - ReadSubBootVersion(newBoot);
        WriteBootlinkFarm(list, newBoot, newSub);
        ReplaceSymlink($"boot.{newBoot}.{newSub}", Combine($"ostree/boot.{newBoot}"));
        if (DetectBootloader() is { } bootloader)
        {
            WriteBootloaderConfig(bootloader, newBoot, list);
        }

        if (!Native.TryLStat(Combine("boot/boot"), out _))
        {
            Native.Symlink(".", Combine("boot/boot"));
        }

        ReplaceSymlink($"loader.{newBoot}", Combine("boot/loader.tmp"));
        SyncAll();
        FaultPoint.Hit("full-before-commit");

        // The commit point.
        Native.Rename(Combine("boot/loader.tmp"), Combine("boot/loader"));
        Native.FsyncPath(Combine("boot"));

        // The rename is only in the journal until it is checkpointed: on the booted host, freeze and thaw /boot
        // again so that a loader that does not replay the journal (GRUB on XFS or ext4) boots the new entries.
        FreezeBootIfBooted();
        FaultPoint.Hit("full-after-commit");
    }

    private string Title(Deployment d, int index, bool manyStateroots)
    {
        var root = DeploymentPath(d);
        var osRelease = new[] { "usr/lib/os-release", "etc/os-release" }.Select(p => System.IO.Path.Combine(root, p)).FirstOrDefault(File.Exists);
        var values = osRelease is null ? new Dictionary<string, string>() : OsRelease.Parse(File.ReadAllText(osRelease));
        var title = values.GetValueOrDefault("PRETTY_NAME") ?? values.GetValueOrDefault("ID")
            ?? throw new OstreeException(OstreeErrorCode.InvalidData, $"No PRETTY_NAME or ID in /etc/os-release of {root}");
        if (CommitVersion(d.Commit) is { Length: > 0 } v && !title.Contains(v, StringComparison.Ordinal))
        {
            title += " " + v;
        }

        return $"{title} (ostree{(manyStateroots ? ":" + d.OsName : string.Empty)}:{index})";
    }

    private static void InstallBootFiles(KernelLayout layout, string bootDir)
    {
        Directory.CreateDirectory(bootDir);
        foreach (var f in new[] { layout.Kernel, layout.Initramfs, layout.Devicetree, layout.Hmac }.OfType<(string Source, string Dest)>())
        {
            var dest = System.IO.Path.Combine(bootDir, f.Dest);
            if (!Native.TryLStat(dest, out _))
            {
                LinkOrCopy(System.IO.Path.Combine(layout.SourceDirectory, f.Source), dest);
            }
        }

        if (layout.DtbDirectory is { } dtb && !Native.TryLStat(System.IO.Path.Combine(bootDir, dtb), out _))
        {
            EtcMerge.CopyTree(System.IO.Path.Combine(layout.SourceDirectory, dtb), System.IO.Path.Combine(bootDir, dtb));
        }
    }

    /// <summary>Hardlinks a boot file; across filesystems, a synced copy with the source's owner and mode.</summary>
    private static void LinkOrCopy(string source, string dest)
    {
        int errno = Native.LinkErrno(source, dest);
        if (errno == 0)
        {
            return;
        }

        if (errno is not (18 or 31 or 1))
        {
            throw new IOException($"link {source} to {dest}: errno {errno}");
        }

        var tmp = dest + ".tmp";
        File.Copy(source, tmp, overwrite: true);
        var st = Native.LStat(source);
        if (Native.EffectiveUid == 0)
        {
            Native.LChown(tmp, st.Uid, st.Gid);
        }

        Native.Chmod(tmp, st.Mode & 0xFFF);
        Native.FsyncPath(tmp);
        Native.Rename(tmp, dest);
    }

    private void WriteBootlinkFarm(List<Deployment> list, int boot, int sub)
    {
        var farm = Combine($"ostree/boot.{boot}.{sub}");
        FileUtil.DeleteAny(farm);
        Directory.CreateDirectory(farm);
        foreach (var d in list)
        {
            var dir = System.IO.Path.Combine(farm, d.OsName, d.BootChecksum);
            Directory.CreateDirectory(dir);
            ReplaceSymlink($"../../../deploy/{d.OsName}/deploy/{d.DirectoryName}", System.IO.Path.Combine(dir, d.BootSerial.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>Creates <c>NAME.tmp</c> then renames it over NAME, so the link changes atomically.</summary>
    private static void ReplaceSymlink(string target, string path)
    {
        var tmp = path + ".tmp";
        FileUtil.DeleteAny(tmp);
        Native.Symlink(target, tmp);
        Native.Rename(tmp, path);
    }

    /// <summary>
    /// libostree's global sync: syncfs of the filesystem holding the repository (and the deployments), then of
    /// /boot; on a booted host, then a freeze and thaw of the
    /// filesystem holding /boot, so that a boot loader that reads it without replaying its journal sees the new
    /// entries. Nothing is frozen anywhere but on the booted host's own /boot.
    /// </summary>
    private void SyncAll()
    {
        if (Opt("skip-sync"))
        {
            return;
        }

        // Through the repository, not the sysroot path: on a booted host whose root is composefs, "/" is an overlay
        // without an upper layer, and its syncfs writes nothing of the real root filesystem (/ostree leads there).
        Native.SyncFs(Combine("ostree/repo"));
        Native.SyncFs(Combine("boot"));
        FreezeBootIfBooted();
    }

    private void FreezeBootIfBooted()
    {
        // OSTREE_SYSROOT_DEBUG=test-fifreeze, libostree's test of the watchdog, runs it on any sysroot and aborts
        // before anything is frozen.
        bool test = DebugFlag("test-fifreeze");
        if ((!IsBootedHostRoot || Opt("skip-sync") || Opt("no-freeze")) && !test)
        {
            return;
        }

        var boot = Combine("boot");
        using var watchdog = FreezeWatchdog.Start(boot, test);
        if (test)
        {
            watchdog.WaitForExit();
            throw new OstreeException(OstreeErrorCode.FreezeFailed, "During fsfreeze-thaw: aborting due to test-fifreeze");
        }

        Native.FreezeThaw(boot);
        watchdog.Done();
    }
}

/// <summary><c>os-release</c> parsing: KEY=value lines, shell-unquoted values.</summary>
internal static class OsRelease
{
    /// <summary>Parses the text; comments and lines without <c>=</c> are skipped.</summary>
    public static Dictionary<string, string> Parse(string text)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || line.IndexOf('=') is var eq && eq < 0)
            {
                continue;
            }

            d[line[..eq]] = Unquote(line[(eq + 1)..]);
        }

        return d;
    }

    private static string Unquote(string v)
    {
        var sb = new StringBuilder();
        char quote = '\0';
        for (int i = 0; i < v.Length; i++)
        {
            char c = v[i];
            if (quote == '\'')
            {
                if (c == '\'')
                {
                    quote = '\0';
                }
                else
                {
                    sb.Append(c);
                }
            }
            else if (c == '\\' && i + 1 < v.Length && (quote == '\0' || v[i + 1] is '"' or '\\' or '$' or '`'))
            {
                sb.Append(v[++i]);
            }
            else if (quote == '"' && c == '"')
            {
                quote = '\0';
            }
            else if (quote == '\0' && c is '"' or '\'')
            {
                quote = c;
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
