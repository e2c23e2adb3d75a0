using System.Globalization;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// The guest OS of the boot tests (<c>tests/vm/build-guest.sh</c>: Debian forky, systemd, dracut, ostree-boot
/// 2026.x, laid out as a bootc image), cached under /var/tmp; and two versions of it as OCI images, v1 and v2, with
/// our AOT binary in /usr/bin.
/// </summary>
public sealed class GuestFixture : IDisposable
{
    public GuestFixture()
    {
        var cache = Environment.GetEnvironmentVariable("OSTREE_SHARP_GUEST_CACHE") is { Length: > 0 } c ? c : "/var/tmp/ostree-sharp-test-cache/guest";
        var build = Tools.Run("bash", [Path.Combine(Vm.RepoRoot, "tests/vm/build-guest.sh"), cache]);
        Assert.True(build.ExitCode == 0, "build-guest.sh failed: " + build.Stderr + build.Stdout);
        Root = Path.Combine(cache, "rootfs");
        var bin = Tools.OursBinary ?? throw new InvalidOperationException("the VM tests need the native binary (OSTREE_SHARP_BIN, set by scripts/test.sh)");
        Work = new TempDir();
        Images = Work["images"];
        var repo = Work["build"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        foreach (var v in new[] { "v1", "v2" })
        {
            // What differs between versions: the version file, and a default in /etc that the merge must update.
            var overlay = Work["overlay-" + v];
            Directory.CreateDirectory(Path.Combine(overlay, "usr/bin"));
            Directory.CreateDirectory(Path.Combine(overlay, "usr/share/ostree-sharp-test"));
            Directory.CreateDirectory(Path.Combine(overlay, "usr/lib/bootc/install"));
            Directory.CreateDirectory(Path.Combine(overlay, "usr/etc"));
            File.Copy(bin, Path.Combine(overlay, "usr/bin/ostree-sharp"));
            File.WriteAllText(Path.Combine(overlay, "usr/share/ostree-sharp-test/version"), v + "\n");
            File.WriteAllText(Path.Combine(overlay, "usr/etc/ostree-sharp-release"), $"release {v}\n");
            // The image's kernel arguments: the serial console, and what makes a boot under TCG fast
            // (tests/vm/build-guest.sh says why each helps).
            File.WriteAllText(Path.Combine(overlay, "usr/lib/bootc/install/50-test.toml"), """
                [install.filesystem.root]
                type = "ext4"
                [install]
                kargs = ["console=ttyS0", "panic=5", "norandmaps", "mitigations=off", "tsc=reliable", "systemd.show_status=error",
                    "systemd.tty.term.console=vt220", "systemd.tty.rows.console=24", "systemd.tty.columns.console=80"]
                """);
            Tools.Ours("commit", "--repo=" + repo, "--branch=guest/" + v, "--bootable", "--tree=dir=" + Root, "--tree=dir=" + overlay,
                "--owner-uid=0", "--owner-gid=0", $"--subject=guest {v}", $"--add-metadata-string=version={v}").Ok("commit " + v);
            Tools.Ours("container", "encapsulate", "--repo=" + repo, "--label=containers.bootc=1", "guest/" + v, $"oci:{Images}:{v}").Ok("encapsulate " + v);
        }

        // The tag hosts follow; the same image as v2 (encapsulation is deterministic: no blob is written twice).
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--label=containers.bootc=1", "guest/v2", $"oci:{Images}:stable").Ok("encapsulate stable");

        FileUtil.DeleteAny(repo);
    }

    /// <summary>The cached guest root.</summary>
    public string Root { get; }

    /// <summary>An OCI layout with the tags v1, v2 and stable (= v2).</summary>
    public string Images { get; }

    internal TempDir Work { get; }

    public void Dispose() => Work.Dispose();
}

[CollectionDefinition("vm", DisableParallelization = true)]
public sealed class VmCollection : ICollectionFixture<GuestFixture>;

/// <summary>
/// Boot for real: <c>install to-disk</c> a disk image, boot it under QEMU (TCG, no network device), switch, upgrade
/// and roll back inside the guest with our binary, and cut the power while it deploys.
/// </summary>
[Collection("vm")]
public sealed class VmTests(GuestFixture guest) : IDisposable
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(8);
    private const string Data = "/run/ostree-sharp-test/data";
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Install()
    {
        var disk = _tmp["disk.img"];
        using (var f = File.Create(disk))
        {
            f.SetLength(6L << 30);
        }

        var sw = System.Diagnostics.Stopwatch.StartNew();
        Tools.Ours("install", "to-disk", "--via-loopback", disk, "--source-imgref", $"oci:{guest.Images}:v1",
            "--target-imgref", $"{Data}/images:stable", "--target-transport", "oci", "--stateroot", "debian").Ok("install to-disk");
        Vm.Note($"install to-disk: {sw.Elapsed.TotalSeconds:F1} s");
        return disk;
    }

    private BootReport Boot(string name, string disk, string run, string? killMark = null, TimeSpan? killAfter = null) =>
        Vm.Boot(name, disk, Vm.DataDisk(_tmp.Path, guest.Images, run), _tmp.Path, BootTimeout, killMark, killAfter);

    private static void Booted(BootReport r, string version)
    {
        Assert.True(r.Values.GetValueOrDefault("version") == version, $"{r.Name}: expected {version}; serial log {Path.Combine(Vm.LogDirectory, r.Name + ".log")}:\n{Tail(r.Log)}");
        Assert.True(r.Has("ostree-booted=yes"), r.Name + ": no /run/ostree-booted");
    }

    private static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(60));

    [Fact]
    public void Install_boot_switch_upgrade_rollback()
    {
        var disk = Install();

        // a. v1 boots through ostree-prepare-root: /sysroot read-only, /etc writable, the real ostree sees it booted.
        // b. In it, with our binary: a local change to /etc; the reference it follows (stable) now has v2: upgrade
        //    --check sees it and upgrade deploys it; a switch to the v2 tag then replaces that pending deployment.
        var b1 = Boot("1-install-v1", disk, $"""
            echo local-change > /etc/ostree-sharp-local.conf
            sed -i 's/release v1/release v1 edited/' /etc/ostree-sharp-release
            ostree-sharp admin upgrade --check; echo "OSTREE-SHARP-TEST upgrade-check-exit=$?"
            ostree-sharp admin upgrade; echo "OSTREE-SHARP-TEST upgrade-exit=$?"
            ostree-sharp admin switch ostree-unverified-image:oci:{Data}/images:v2; echo "OSTREE-SHARP-TEST switch-exit=$?"
            ostree-sharp admin status
            """);
        Booted(b1, "v1");
        Assert.True(b1.Has("sysroot-readonly=yes"), "1: /sysroot is not read-only");
        Assert.True(b1.Has("etc-writable=yes"), "1: /etc is not writable");
        Assert.Matches(@"^\* debian [0-9a-f]{64}\.0$", b1.Status.Split('\n').Select(l => l.Trim()).First(l => l.StartsWith('*')));
        Assert.True(b1.Has("upgrade-check-exit=0"), "1: admin upgrade --check did not see v2:\n" + Tail(b1.Log));
        Assert.True(b1.Has("upgrade-exit=0"), "1: admin upgrade failed:\n" + Tail(b1.Log));
        Assert.True(b1.Has("switch-exit=0"), "1: admin switch failed:\n" + Tail(b1.Log));

        // The boot loader's view: the new entry is the default (read without replaying the journal: the freeze).
        Assert.Equal("v2", Vm.DefaultVersion(disk, _tmp.Path));

        // v2 boots; the /etc changes made under v1 are kept by the merge; an upgrade of the reference it follows
        // (the v2 tag) finds nothing newer; then a rollback.
        var b2 = Boot("2-switched-v2", disk, """
            cat /etc/ostree-sharp-local.conf /etc/ostree-sharp-release | sed 's/^/OSTREE-SHARP-TEST etc: /'
            d=$(ostree admin status | awk '$1 == "*" { print $3 }')
            sed -n 's/^container-image-reference=/OSTREE-SHARP-TEST origin=/p' /ostree/deploy/debian/deploy/$d.origin
            ostree-sharp admin upgrade --check; echo "OSTREE-SHARP-TEST upgrade-check-exit=$?"
            ostree-sharp admin upgrade | tee /dev/stderr | grep -qx 'No update available.' && echo "OSTREE-SHARP-TEST upgrade-none=yes"
            ostree-sharp admin rollback; echo "OSTREE-SHARP-TEST rollback-exit=$?"
            """);
        Booted(b2, "v2");
        Assert.Equal($"ostree-unverified-image:oci:{Data}/images:v2", b2.Values.GetValueOrDefault("origin"));
        Assert.True(b2.Has("etc: local-change"), "2: the /etc change of v1 was lost:\n" + Tail(b2.Log));
        Assert.True(b2.Has("etc: release v1 edited"), "2: the edited /etc file was not kept:\n" + Tail(b2.Log));
        Assert.True(b2.Has("upgrade-check-exit=77") && b2.Has("upgrade-none=yes"), "2: admin upgrade of the same reference did not find it up to date:\n" + Tail(b2.Log));
        Assert.True(b2.Has("rollback-exit=0"), "2: admin rollback failed:\n" + Tail(b2.Log));

        // c. After the rollback, v1 again.
        var b3 = Boot("3-rolled-back-v1", disk, "ostree-sharp admin status\n");
        Booted(b3, "v1");
    }

    [Fact]
    public void Power_cuts_while_deploying_land_on_the_old_or_the_new_deployment()
    {
        int cuts = int.TryParse(Environment.GetEnvironmentVariable("OSTREE_SHARP_VM_CUTS"), CultureInfo.InvariantCulture, out var n) ? n : 3;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("OSTREE_SHARP_VM_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 20261202;
        var random = new Random(seed);
        var disk = Install();

        // Each boot checks the repository with the real ostree and with ours, completes the deployment the power cut
        // interrupted (a switch to the version not booted), then starts the next one, which the harness cuts.
        static string Script(bool complete, bool startNext) => $$"""
            ostree fsck --repo=/ostree/repo; echo "OSTREE-SHARP-TEST ostree-fsck-exit=$?"
            ostree-sharp fsck --repo=/ostree/repo; echo "OSTREE-SHARP-TEST our-fsck-exit=$?"
            other=v2; [ "$(cat /usr/share/ostree-sharp-test/version)" = v2 ] && other=v1
            {{(complete ? $"ostree-sharp admin switch ostree-unverified-image:oci:{Data}/images:$other; echo \"OSTREE-SHARP-TEST upgrade-exit=$?\"" : string.Empty)}}
            {{(startNext ? $"sync; echo \"OSTREE-SHARP-TEST deploy-start\"; ostree-sharp admin switch ostree-unverified-image:oci:{Data}/images:$other; echo \"OSTREE-SHARP-TEST deploy-exit=$?\"" : string.Empty)}}
            """;

        // How long a deployment takes in this guest once the image is stored, so that cuts fall anywhere inside one.
        var measure = Boot("cut-0-measure", disk, $"""
            ostree-sharp admin switch ostree-unverified-image:oci:{Data}/images:v2; echo "OSTREE-SHARP-TEST pull-exit=$?"
            start=$(date +%s%N)
            ostree-sharp admin switch ostree-unverified-image:oci:{Data}/images:v1; echo "OSTREE-SHARP-TEST deploy-exit=$?"
            echo "OSTREE-SHARP-TEST deploy-ms=$(( ($(date +%s%N) - start) / 1000000 ))"
            """);
        Booted(measure, "v1");
        Assert.True(measure.Has("pull-exit=0") && measure.Has("deploy-exit=0"), "measure: deployment failed:\n" + Tail(measure.Log));
        var deployMs = int.Parse(measure.Values["deploy-ms"], CultureInfo.InvariantCulture);

        var landed = new Dictionary<string, int>(StringComparer.Ordinal) { ["v1"] = 0, ["v2"] = 0, ["failed"] = 0 };
        var failures = new List<string>();
        for (int i = 1; i <= cuts; i++)
        {
            var delay = TimeSpan.FromMilliseconds(random.Next(0, deployMs + 1));
            var cut = Boot($"cut-{i}", disk, Script(complete: i > 1, startNext: true), "deploy-start", delay);
            Verify(cut, afterCut: i > 1);
            Vm.Note($"cut {i}: {delay.TotalMilliseconds:F0} ms after deploy-start (a deployment takes {deployMs} ms), killed={cut.Killed}");
        }

        // The last interrupted deployment completes, and the power goes the moment it has: the boot loader, which
        // does not replay the journal, must already see the new default entry (the freeze and thaw of /boot).
        var after = Boot($"cut-{cuts}-after", disk, Script(complete: true, startNext: false), "upgrade-exit=0", TimeSpan.Zero);
        Verify(after, afterCut: true);
        Vm.Note($"power cuts: {cuts}, seed {seed}: landed on v1 {landed["v1"]}, on v2 {landed["v2"]}, failed {landed["failed"]}");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
        var target = after.Values["version"] == "v1" ? "v2" : "v1";
        Assert.Equal(target, Vm.DefaultVersion(disk, _tmp.Path));
        var final = Boot($"cut-{cuts}-final", disk, "ostree admin status\n");
        Assert.Equal(target, final.Values.GetValueOrDefault("version"));

        // A boot after a cut must land on v1 or v2, both fscks must pass, and the interrupted deployment complete.
        void Verify(BootReport r, bool afterCut)
        {
            var v = r.Values.GetValueOrDefault("version");
            var problems = new List<string>();
            if (v is not ("v1" or "v2"))
            {
                problems.Add("did not boot");
            }
            else
            {
                if (!r.Has("ostree-fsck-exit=0"))
                {
                    problems.Add("ostree fsck failed");
                }

                if (!r.Has("our-fsck-exit=0"))
                {
                    problems.Add("our fsck failed");
                }

                if (afterCut && !r.Has("upgrade-exit=0"))
                {
                    problems.Add("the interrupted deployment did not complete");
                }
            }

            if (afterCut)
            {
                landed[problems.Count == 0 ? v! : "failed"]++;
            }

            if (problems.Count > 0)
            {
                failures.Add($"{r.Name}: {string.Join(", ", problems)}; serial log {Path.Combine(Vm.LogDirectory, r.Name + ".log")}:\n{Tail(r.Log)}");
            }
        }
    }
}
