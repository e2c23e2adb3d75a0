using OstreeSharp.Internal;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Interop.Tests;

/// <summary>Deployments against the sysroot vectors recorded with the real `ostree admin` (libostree 2022.7).</summary>
public sealed class SysrootTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static string VectorsDir => Path.Combine(AppContext.BaseDirectory, "TestData", "sysroot-vectors");

    /// <summary>A folder with an `ostree` that is our CLI, so the vectors' own scripts drive our tool.</summary>
    private string Shim()
    {
        var dir = _tmp["shim"];
        Directory.CreateDirectory(dir);
        var exec = $"exec {Tools.OursShell} \"$@\"";
        var path = Path.Combine(dir, "ostree");
        File.WriteAllText(path, $"#!/bin/sh\nif [ \"$1\" = --version ]; then printf \"libostree:\\n Version: '2022.7'\\n\"; exit 0; fi\n{exec}\n");
        OstreeSharp.Internal.Native.Chmod(path, 0x1ED);
        return dir;
    }

    private RunResult RunVectorScript(string script, string outDir)
    {
        var work = _tmp["work"];
        Directory.CreateDirectory(work);
        return Tools.Run("bash", [Path.Combine(VectorsDir, script), outDir], new Dictionary<string, string>
        {
            ["PATH"] = Shim() + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["SYSROOT_VECTORS_WORKDIR"] = work,
            // Our deployer never freezes a filesystem, so the script's tmpfs guard does not apply.
            ["SYSROOT_VECTORS_ALLOW_FREEZE"] = "1",
            // libostree 2022.7 named boot entries ostree-N-STATEROOT.conf; since 2024.5 that takes this option.
            ["OSTREE_SYSROOT_OPTS"] = "bootloader-naming-1",
        });
    }

    [Fact]
    public void Our_admin_verbs_leave_every_recorded_state_byte_for_byte()
    {
        Assert.True(OstreeSharp.Internal.Native.EffectiveUid == 0, "the vectors were recorded as root (commit owners 0:0)");
        var outDir = _tmp["out"];
        RunVectorScript("make-sysroot.sh", outDir).Ok("make-sysroot.sh with our ostree");
        Assert.Equal(File.ReadAllText(Path.Combine(VectorsDir, "vars.txt")), File.ReadAllText(Path.Combine(outDir, "vars.txt")));
        var expectedRoot = Path.Combine(VectorsDir, "states");
        var actualRoot = Path.Combine(outDir, "states");
        var expected = Directory.EnumerateFiles(expectedRoot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expectedRoot, f)).Order(StringComparer.Ordinal).ToList();
        var actual = Directory.EnumerateFiles(actualRoot, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actualRoot, f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, actual);
        Assert.Equal(11, expected.Select(f => f.Split('/')[0]).Distinct().Count());
        foreach (var f in expected)
        {
            Assert.True(File.ReadAllText(Path.Combine(expectedRoot, f)) == File.ReadAllText(Path.Combine(actualRoot, f)),
                $"states/{f} differs:\n--- expected\n{File.ReadAllText(Path.Combine(expectedRoot, f))}\n--- ours\n{File.ReadAllText(Path.Combine(actualRoot, f))}");
        }
    }

    [Fact]
    public void Our_admin_verbs_give_the_recorded_edge_cases()
    {
        var outDir = _tmp["edge"];
        Directory.CreateDirectory(outDir);
        RunVectorScript("edge-cases.sh", outDir).Ok("edge-cases.sh with our ostree");
        var expected = Sections(File.ReadAllText(Path.Combine(VectorsDir, "edge-cases.txt")));
        var actual = Sections(File.ReadAllText(Path.Combine(outDir, "edge-cases.txt")));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, text) in expected)
        {
            if (name.StartsWith("A:", StringComparison.Ordinal))
            {
                // libostree 2022.7 fails on trees with /etc but no /usr/etc (a bug later versions fixed); we deploy them.
                Assert.Contains("error: Preparing /etc: No such file or directory: /usr/etc", text, StringComparison.Ordinal);
                Assert.Contains("Bootloader updated; bootconfig swap: yes", actual[name], StringComparison.Ordinal);
                Assert.Contains("./CSUM.0/etc/os-release", actual[name], StringComparison.Ordinal);
                continue;
            }

            Assert.Equal(text, actual[name]);
        }
    }

    private static Dictionary<string, string> Sections(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in text.Split("=================== ").Skip(1))
        {
            int nl = part.IndexOf('\n', StringComparison.Ordinal);
            result[part[..nl]] = part[(nl + 1)..];
        }

        return result;
    }

    /// <summary>The fake OS of the vectors' script: build 1 and 2 share a kernel, build 3 has a new one with a device tree.</summary>
    internal static void WriteOsTree(string tree, int build, string? extraFile = null)
    {
        FileUtil.DeleteAny(tree);
        var kver = build >= 3 ? "5.10.1" : "5.10.0";
        var krel = build == 2 ? 1 : build;
        Directory.CreateDirectory(Path.Combine(tree, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(tree, "usr/lib/modules", kver));
        Directory.CreateDirectory(Path.Combine(tree, "usr/etc"));
        File.WriteAllText(Path.Combine(tree, "usr/bin/sh"), $"#!fake shell, build {build}\n");
        File.WriteAllText(Path.Combine(tree, "usr/lib/modules", kver, "vmlinuz"), $"fake kernel {kver}, build {krel}\n");
        File.WriteAllText(Path.Combine(tree, "usr/lib/modules", kver, "initramfs.img"), $"fake initramfs {kver}, build {krel}\n");
        File.WriteAllText(Path.Combine(tree, "usr/etc/os-release"), $"NAME=\"Example OS\"\nID=exampleos\nVERSION_ID={build}\nPRETTY_NAME=\"Example OS {build}.0\"\n");
        File.WriteAllText(Path.Combine(tree, "usr/etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        File.WriteAllText(Path.Combine(tree, "usr/etc/motd"), $"Welcome to Example OS build {build}\n");
        File.WriteAllText(Path.Combine(tree, "usr/etc/empty.conf"), string.Empty);
        if (extraFile is not null)
        {
            File.WriteAllText(Path.Combine(tree, "usr/share-" + extraFile), extraFile);
        }
    }

    private string NewSysroot()
    {
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        Tools.Ours("admin", "os-init", "--sysroot=" + sr, "exampleos").Ok("os-init");
        return sr;
    }

    private string CommitBuild(string sysroot, int build, Action<string>? tweak = null)
    {
        WriteOsTree(_tmp["tree"], build);
        tweak?.Invoke(_tmp["tree"]);
        return Tools.Ours("commit", "--repo=" + Path.Combine(sysroot, "ostree/repo"), "--branch=exampleos/stable", "--tree=dir=" + _tmp["tree"],
            "--owner-uid=0", "--owner-gid=0", "--no-xattrs", "--bootable", $"--timestamp=@{1700000000 + (build * 86400)}",
            $"--subject=Example OS build {build}", $"--add-metadata-string=version={build}.0").Ok("commit");
    }

    private static RunResult Deploy(string sysroot, IDictionary<string, string>? env = null, params string[] extra) =>
        Tools.OursEnv(env ?? new Dictionary<string, string>(), ["admin", "deploy", "--sysroot=" + sysroot, "--os=exampleos", "--karg=root=LABEL=root", .. extra, "exampleos/stable"]);

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void The_real_ostree_reads_our_sysroot_as_its_own(string peer)
    {
        var sr = NewSysroot();
        CommitBuild(sr, 1);
        Deploy(sr).Ok("deploy 1");
        File.AppendAllText(Directory.GetDirectories(Path.Combine(sr, "ostree/deploy/exampleos/deploy")).Single() + "/etc/passwd", "alice:x:1000:1000::/var/home/alice:/bin/sh\n");
        CommitBuild(sr, 3);
        Deploy(sr, null, "--karg-append=console=ttyS0").Ok("deploy 3");
        Tools.Ours("admin", "pin", "--sysroot=" + sr, "1").Ok("pin");
        var ours = Tools.Ours("admin", "status", "--sysroot=" + sr).Ok("our status");
        Assert.Equal(Tools.Peer(peer, "admin", "status", "--sysroot=" + sr).Ok("ostree admin status"), ours);
        Assert.Contains("Pinned: yes", ours, StringComparison.Ordinal);
        Tools.Peer(peer, "fsck", "--repo=" + Path.Combine(sr, "ostree/repo")).Ok("ostree fsck of the sysroot repository");

        // The merged /etc kept the local change; the new default files are there, the empty one a copy, not a link.
        var s = OstreeSysroot.Open(sr);
        var top = s.DeploymentPath(s.Deployments[0]);
        Assert.Contains("alice", File.ReadAllText(Path.Combine(top, "etc/passwd")), StringComparison.Ordinal);
        Assert.Equal(1u, OstreeSharp.Internal.Native.LStat(Path.Combine(top, "usr/etc/empty.conf")).NLink);
        Assert.True(OstreeSharp.Internal.Native.LStat(Path.Combine(top, "usr/bin/sh")).NLink > 1);
        Assert.Contains("console=ttyS0", s.Deployments[0].Options, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Rollback_makes_the_previous_deployment_the_default_and_status_has_json(string peer)
    {
        var sr = NewSysroot();
        var rev1 = CommitBuild(sr, 1);
        Deploy(sr).Ok("deploy 1");
        var rev2 = CommitBuild(sr, 2);
        Deploy(sr).Ok("deploy 2");
        Assert.Contains("Moving '" + rev1 + ".0' to be first deployment", Tools.Ours("admin", "rollback", "--sysroot=" + sr).Ok("rollback"), StringComparison.Ordinal);
        var s = OstreeSysroot.Open(sr);
        Assert.Equal([rev1, rev2], s.Deployments.Select(d => d.Commit.ToHex()));
        Assert.Equal(Tools.Peer(peer, "admin", "status", "--sysroot=" + sr).Ok("ostree admin status"), Tools.Ours("admin", "status", "--sysroot=" + sr).Ok("status"));
        using var json = System.Text.Json.JsonDocument.Parse(Tools.Ours("admin", "status", "--json", "--sysroot=" + sr).Ok("status --json"));
        var deployments = json.RootElement.GetProperty("deployments");
        Assert.Equal(rev1, deployments[0].GetProperty("checksum").GetString());
        Assert.Equal("2.0", deployments[1].GetProperty("version").GetString());
    }

    [Fact]
    public void Whiteouts_pins_origins_and_extra_entry_keys_follow_libostree()
    {
        var sr = NewSysroot();
        CommitBuild(sr, 1, tree =>
        {
            Directory.CreateDirectory(Path.Combine(tree, "usr/share/overlay"));
            File.WriteAllText(Path.Combine(tree, "usr/share/overlay/.ostree-wh.gone"), string.Empty);
        });
        Deploy(sr).Ok("deploy 1");
        Tools.Ostree("config", "--repo=" + Path.Combine(sr, "ostree/repo"), "set", "sysroot.bls-append-except-default", "grub_users=\"\"").Ok("config set");
        Deploy(sr).Ok("deploy 1 again");
        var s = OstreeSysroot.Open(sr);
        var wh = OstreeSharp.Internal.Native.LStat(Path.Combine(s.DeploymentPath(s.Deployments[0]), "usr/share/overlay/gone"));
        Assert.Equal(OstreeSharp.Objects.UnixMode.CharDevice, wh.Type);
        Assert.Equal((0u, 0u), (wh.RdevMajor, wh.RdevMinor));
        Assert.Null(s.Deployments[0].Entry["grub_users"]);
        Assert.Equal("\"\"", s.Deployments[1].Entry["grub_users"]);

        Assert.Equal("Deployment 1 is now pinned", Tools.Ours("admin", "pin", "--sysroot=" + sr, "1").Ok("pin"));
        Assert.Equal("Deployment 1 is already pinned", Tools.Ours("admin", "pin", "--sysroot=" + sr, "1").Ok("pin again"));
        Assert.Equal("Deployment 1 is now unpinned", Tools.Ours("admin", "pin", "--sysroot=" + sr, "--unpin", "1").Ok("unpin"));
        Assert.Equal("[origin]\nrefspec=exampleos/stable\n", File.ReadAllText(OstreeSysroot.Open(sr).OriginPath(s.Deployments[1])));

        Tools.Ours("admin", "set-origin", "--sysroot=" + sr, "--set=gpg-verify=false", "upstream", "file:///srv/repo", "exampleos/next").Ok("set-origin");
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            Assert.Contains("origin refspec: upstream:exampleos/next", Tools.Peer(peer, "admin", "status", "--sysroot=" + sr).Ok($"ostree {peer} admin status"), StringComparison.Ordinal);
        }
        Assert.Contains("url=file:///srv/repo", File.ReadAllText(Path.Combine(sr, "ostree/repo/config")), StringComparison.Ordinal);
        // A grub.cfg makes GRUB 2 the loader, as for libostree: its generator runs with -o loader.N/grub.cfg and the
        // boot version in _OSTREE_GRUB2_BOOTVERSION; one that fails fails the deployment before the swap.
        Directory.CreateDirectory(Path.Combine(sr, "boot/grub2"));
        File.WriteAllText(Path.Combine(sr, "boot/grub2/grub.cfg"), "# grub\n");
        var generator = Path.Combine(sr, "..", "grub-generator");
        File.WriteAllText(generator, "#!/bin/sh\n[ \"$1\" = -o ] || exit 3\necho \"# generated for boot version $_OSTREE_GRUB2_BOOTVERSION\" > \"$2\"\n");
        Tools.Run("chmod", ["755", generator]).Ok("chmod");
        // (another kernel command line, so that the boot version swaps: GRUB's file is written for a new one only)
        var grub = Deploy(sr, new Dictionary<string, string> { ["OSTREE_GRUB2_EXEC"] = generator }, "--karg=quiet");
        Assert.True(grub.ExitCode == 0, grub.Stderr);
        var bootVersion = OstreeSysroot.Open(sr).BootVersion;
        Assert.Equal($"# generated for boot version {bootVersion}\n", File.ReadAllText(Path.Combine(sr, $"boot/loader.{bootVersion}/grub.cfg")));
        var failing = Deploy(sr, new Dictionary<string, string> { ["OSTREE_GRUB2_EXEC"] = "/bin/false" }, "--karg=splash");
        Assert.Equal(1, failing.ExitCode);
        Assert.Contains("/bin/false", failing.Stderr, StringComparison.Ordinal);
        Assert.Equal(bootVersion, OstreeSysroot.Open(sr).BootVersion);
        Tools.OursEnv(new Dictionary<string, string> { ["OSTREE_GRUB2_EXEC"] = generator }, "admin", "undeploy", "--sysroot=" + sr, "0").Ok("undeploy the GRUB deployment");
        Assert.Equal(OstreeSysroot.Open(sr).Deployments.Count, Directory.GetDirectories(Path.Combine(sr, "ostree/deploy/exampleos/deploy")).Length);
        Tools.Ostree("config", "--repo=" + Path.Combine(sr, "ostree/repo"), "set", "sysroot.bootloader", "none").Ok("config set");
        var err = Tools.Ours("admin", "undeploy", "--sysroot=" + sr, "7");
        Assert.Equal(1, err.ExitCode);
        Assert.Equal($"error: Out of range deployment index 7, expected < {OstreeSysroot.Open(sr).Deployments.Count}", err.Stderr.Trim());
    }

    /// <summary>The named steps of a deploy where the process is killed; see <see cref="FaultPoint"/>.</summary>
    public static TheoryData<string, bool> CrashPoints() => new()
    {
        { "after-checkout", true },
        { "after-etc-merge", true },
        { "after-origin", true },
        { "full-before-entries", true },
        { "full-before-farm", true },
        { "full-before-commit", true },
        { "full-after-commit", true },
        { "cleanup-deployment", false },
        { "sub-before-farm", false },
        { "sub-before-rename", false },
        { "sub-after-rename", false },
    };

    [Theory]
    [MemberData(nameof(CrashPoints))]
    public void A_deploy_killed_at_any_step_leaves_entries_that_all_point_at_complete_deployments(string point, bool fullSwap)
    {
        var sr = NewSysroot();
        CommitBuild(sr, 1);
        Deploy(sr).Ok("deploy 1");
        File.AppendAllText(Directory.GetDirectories(Path.Combine(sr, "ostree/deploy/exampleos/deploy")).Single() + "/etc/passwd", "alice:x:1000:1000::/var/home/alice:/bin/sh\n");
        CommitBuild(sr, 2);
        if (!fullSwap)
        {
            // Two deploys of build 2 leave the same kernels, kargs and versions at every index: the next is a subbootversion swap.
            Deploy(sr).Ok("deploy 2");
            Deploy(sr).Ok("deploy 2 again");
        }

        var killed = Deploy(sr, new Dictionary<string, string> { ["OSTREE_SHARP_FAULT"] = point });
        Assert.True(killed.ExitCode == 137, $"expected SIGKILL at {point}, got {killed.ExitCode}: {killed.Stderr}{killed.Stdout}");
        AssertBootable(sr);
        Tools.EveryPeerOk("reads the sysroot after the crash", "admin", "status", "--sysroot=" + sr);

        // The next run cleans up and completes.
        Deploy(sr).Ok("deploy after the crash");
        AssertBootable(sr);
        var s = OstreeSysroot.Open(sr);
        var onDisk = Directory.GetDirectories(Path.Combine(sr, "ostree/deploy/exampleos/deploy")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(s.Deployments.Select(d => d.DirectoryName).Order(StringComparer.Ordinal), onDisk);
        Assert.Contains("alice", File.ReadAllText(Path.Combine(s.DeploymentPath(s.Deployments[0]), "etc/passwd")), StringComparison.Ordinal);
    }

    private static void AssertBootable(string sr)
    {
        var s = OstreeSysroot.Open(sr);
        Assert.NotEmpty(s.Deployments);
        foreach (var d in s.Deployments)
        {
            var root = s.DeploymentPath(d);
            Assert.True(File.Exists(Path.Combine(root, "usr/bin/sh")), $"{d}: no usr/bin/sh");
            Assert.True(File.Exists(Path.Combine(root, "etc/passwd")), $"{d}: no merged etc");
            Assert.True(File.Exists(s.OriginPath(d)), $"{d}: no origin");
            Assert.True(File.Exists(Path.Combine(sr, "boot") + d.Entry["linux"]), $"{d}: kernel {d.Entry["linux"]} missing");
            Assert.True(File.Exists(Path.Combine(sr, "boot") + d.Entry["initrd"]), $"{d}: initramfs {d.Entry["initrd"]} missing");
            Assert.Contains($"ostree=/ostree/boot.{s.BootVersion}/exampleos/{d.BootChecksum}/{d.BootSerial}", d.Options, StringComparison.Ordinal);
        }
    }
}
