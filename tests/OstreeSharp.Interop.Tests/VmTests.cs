using System.Globalization;
using System.Text;
using System.Text.Json;
using OstreeSharp.Internal;

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

        // Images as podman builds them FROM a bootc base: plain tar layers, no ostree commit, containers.bootc=1, and
        // the base's prepare-root.conf with composefs on. The base layer is the guest root as a container has it
        // (/etc, not /usr/etc); each version adds one layer.
        PlainImages.AddLayer(Images, null, "base", Root, tarOptions: ["--transform=flags=rh;s,^\\./usr/etc,./etc,"]);
        foreach (var v in new[] { "v1", "v2" })
        {
            // What differs between versions: the version file, and a default in /etc that the merge must update.
            var overlay = Work["overlay-" + v];
            Directory.CreateDirectory(Path.Combine(overlay, "usr/bin"));
            Directory.CreateDirectory(Path.Combine(overlay, "usr/share/ostree-sharp-test"));
            Directory.CreateDirectory(Path.Combine(overlay, "usr/lib/bootc/install"));
            Directory.CreateDirectory(Path.Combine(overlay, "etc"));
            File.Copy(bin, Path.Combine(overlay, "usr/bin/ostree-sharp"));
            // bootc's commands: the same binary, called as bootc.
            File.CreateSymbolicLink(Path.Combine(overlay, "usr/bin/bootc"), "ostree-sharp");
            File.WriteAllText(Path.Combine(overlay, "usr/share/ostree-sharp-test/version"), v + "\n");
            File.WriteAllText(Path.Combine(overlay, "etc/ostree-sharp-release"), $"release {v}\n");
            // The image's kernel arguments: the serial console, and what makes a boot under TCG fast
            // (tests/vm/build-guest.sh says why each helps).
            File.WriteAllText(Path.Combine(overlay, "usr/lib/bootc/install/50-test.toml"), """
                [install.filesystem.root]
                type = "ext4"
                [install]
                kargs = ["console=ttyS0", "panic=5", "norandmaps", "mitigations=off", "tsc=reliable", "systemd.show_status=error",
                    "systemd.tty.term.console=vt220", "systemd.tty.rows.console=24", "systemd.tty.columns.console=80"]
                """);
            if (v == "v2")
            {
                // v2 finalizes staged deployments with ostree-sharp (the drop-ins the project ships for images that have
                // both tools); v1 keeps ostree's own finalization.
                foreach (var unit in new[] { "ostree-finalize-staged.service.d", "ostree-finalize-staged-hold.service.d" })
                {
                    var dir = Path.Combine(overlay, "usr/lib/systemd/system", unit);
                    Directory.CreateDirectory(dir);
                    File.Copy(Path.Combine(Vm.RepoRoot, "dist/systemd", unit, "50-ostree-sharp.conf"), Path.Combine(dir, "50-ostree-sharp.conf"));
                }

                // A kernel argument of the image's own (bootc's kargs.d), which upgrades and switches carry to the host.
                Directory.CreateDirectory(Path.Combine(overlay, "usr/lib/bootc/kargs.d"));
                File.WriteAllText(Path.Combine(overlay, "usr/lib/bootc/kargs.d/50-ostree-sharp-test.toml"), "kargs = [\"ostree-sharp-kargs-d=v2\"]\nmatch-architectures = [\"x86_64\"]\n");
            }

            PlainImages.AddLayer(Images, "base", v, overlay);
        }

        // The tag hosts follow: the same image as v2.
        PlainImages.AddLayer(Images, "base", "stable", Work["overlay-v2"]);

        // v3: signed composefs. An ostree commit (encapsulated: an image whose merge commit has it as parent) signed
        // with ed25519, with its composefs digest; prepare-root.conf says enabled = signed, in the tree and in the
        // initramfs, which also holds the public key where ostree-prepare-root reads it.
        var kver = File.ReadAllText(Path.Combine(cache, "kver")).Trim();
        var v3 = Work["overlay-v3"];
        Directory.CreateDirectory(Path.Combine(v3, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(v3, "usr/share/ostree-sharp-test"));
        Directory.CreateDirectory(Path.Combine(v3, "usr/etc"));
        Directory.CreateDirectory(Path.Combine(v3, "usr/lib/ostree"));
        Directory.CreateDirectory(Path.Combine(v3, "usr/lib/modules", kver));
        File.Copy(bin, Path.Combine(v3, "usr/bin/ostree-sharp"));
        File.CreateSymbolicLink(Path.Combine(v3, "usr/bin/bootc"), "ostree-sharp");
        File.WriteAllText(Path.Combine(v3, "usr/share/ostree-sharp-test/version"), "v3\n");
        File.WriteAllText(Path.Combine(v3, "usr/etc/ostree-sharp-release"), "release v3\n");
        const string SignedConf = "[composefs]\nenabled = signed\n[sysroot]\nreadonly = true\n";
        File.WriteAllText(Path.Combine(v3, "usr/lib/ostree/prepare-root.conf"), SignedConf);
        SigningKey = OstreeSharp.Signing.Ed25519SecretKey.FromSeed([.. Enumerable.Range(7, 32).Select(i => (byte)i)]);
        Vm.AppendToInitramfs(Path.Combine(Root, "usr/lib/modules", kver, "initramfs.img"), Path.Combine(v3, "usr/lib/modules", kver, "initramfs.img"),
            [("etc/ostree/initramfs-root-binding.key", SigningKey.PublicKey.Base64 + "\n"), ("etc/ostree/prepare-root.conf", SignedConf)]);
        var repo = Work["signed-repo"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        var commit = Tools.Ours("commit", "--repo=" + repo, "--branch=guest/v3", "--bootable", "--tree=dir=" + Root, "--tree=dir=" + v3,
            "--subject=guest v3", "--add-metadata-string=version=v3", "--generate-composefs-metadata").Ok("commit v3");
        Tools.Ours("sign", "--repo=" + repo, commit, SigningKey.Base64).Ok("sign v3");
        // The signature over the commit object's bytes, checked by OpenSSL with the public key the initramfs holds
        // (Debian builds ostree, 2022.7 and 2026.4 alike, without ed25519: "Requested signature type is not implemented").
        var objects = Path.Combine(repo, "objects", commit[..2]);
        var detached = OstreeSharp.GVariant.GVariantParser.Parse(OstreeSharp.GVariant.GVariantType.Parse("a{sv}"), File.ReadAllBytes(Path.Combine(objects, commit[2..] + ".commitmeta")));
        File.WriteAllBytes(Work["v3.sig"], detached.Lookup("ostree.sign.ed25519")![0].GetBytes());
        File.WriteAllText(Work["v3.pem"], $"-----BEGIN PUBLIC KEY-----\n{Convert.ToBase64String([.. Convert.FromHexString("302a300506032b6570032100"), .. SigningKey.PublicKey.Bytes])}\n-----END PUBLIC KEY-----\n");
        Assert.Contains("Signature Verified Successfully", Tools.Run("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", Work["v3.pem"], "-rawin",
            "-in", Path.Combine(objects, commit[2..] + ".commit"), "-sigfile", Work["v3.sig"]]).Ok("openssl pkeyutl -verify"), StringComparison.Ordinal);
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--label=containers.bootc=1", "guest/v3", $"oci:{Images}:v3").Ok("encapsulate v3");
        FileUtil.DeleteAny(repo);
    }

    /// <summary>The key v3 is signed with.</summary>
    public OstreeSharp.Signing.Ed25519SecretKey SigningKey { get; }

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

    /// <summary>/ is the composefs mount ostree-prepare-root makes from the deployment's .ostree.cfs (an overlay over an EROFS image).</summary>
    private static void AssertComposefsRoot(BootReport r) =>
        Assert.True(r.Has("root-mount=overlay composefs"), $"{r.Name}: / is not composefs:\n{Tail(r.Log)}");

    /// <summary>A YAML document as JSON (plain null, booleans and integers typed; every other scalar a string).</summary>
    private static System.Text.Json.Nodes.JsonNode? YamlToJson(string yaml)
    {
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode);

        static System.Text.Json.Nodes.JsonNode? Convert(YamlDotNet.RepresentationModel.YamlNode node) => node switch
        {
            YamlDotNet.RepresentationModel.YamlMappingNode m => new System.Text.Json.Nodes.JsonObject(m.Children.Select(kv => KeyValuePair.Create(((YamlDotNet.RepresentationModel.YamlScalarNode)kv.Key).Value!, Convert(kv.Value)))),
            YamlDotNet.RepresentationModel.YamlSequenceNode q => new System.Text.Json.Nodes.JsonArray([.. q.Children.Select(Convert)]),
            YamlDotNet.RepresentationModel.YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "null" } => null,
            YamlDotNet.RepresentationModel.YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" } b => System.Text.Json.Nodes.JsonValue.Create(b.Value == "true"),
            YamlDotNet.RepresentationModel.YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } n when long.TryParse(n.Value, CultureInfo.InvariantCulture, out var l) => System.Text.Json.Nodes.JsonValue.Create(l),
            YamlDotNet.RepresentationModel.YamlScalarNode v => System.Text.Json.Nodes.JsonValue.Create(v.Value),
            _ => throw new InvalidOperationException("unexpected YAML node " + node),
        };
    }

    /// <summary>The JSON an agent line <c>KEY=JSON</c> carries (canonical JSON has no spaces).</summary>
    private static string JsonLine(BootReport r, string key) =>
        r.Lines.Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..]
            ?? throw new Xunit.Sdk.XunitException($"{r.Name}: no {key}= line:\n{Tail(r.Log)}");

    private static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(60));

    [Fact]
    public void Install_boot_switch_upgrade_rollback()
    {
        var disk = Install();

        // a. v1 boots through ostree-prepare-root: /sysroot read-only, /etc writable, the real ostree sees it booted.
        // b. In it, with our binary: a local change to /etc; the reference it follows (stable) now has v2: upgrade
        //    --check sees it and upgrade deploys it; a switch to the v2 tag then replaces that pending deployment.
        var b1 = Boot("1-install-v1", disk, $"""
            # (/sysroot is a read-only bind mount: made writable only in a mount namespace of its own)
            unshare --mount --propagation private sh -c 'mount -o remount,bind,rw /sysroot && ostree-sharp config --repo=/sysroot/ostree/repo set ex-integrity.fsverity yes'
            # install to-disk builds the root filesystem from a folder (no fs-verity there): post-copy enables it.
            ostree-sharp admin post-copy; echo "OSTREE-SHARP-TEST post-copy-exit=$?"
            echo "OSTREE-SHARP-TEST all-objects=$(find /sysroot/ostree/repo/objects -type f | wc -l) all-verity=$(find /sysroot/ostree/repo/objects -type f -print0 | xargs -0 fsverity measure 2>/dev/null | grep -c '^sha256:')"
            # The booted deployment as we see it is the one the real ostree sees.
            [ "$(ostree-sharp admin status | grep '^\*')" = "$(ostree admin status | grep '^\*')" ] && echo "OSTREE-SHARP-TEST status-booted-same=yes"
            echo local-change > /etc/ostree-sharp-local.conf
            sed -i 's/release v1/release v1 edited/' /etc/ostree-sharp-release
            ostree-sharp admin upgrade --check; echo "OSTREE-SHARP-TEST upgrade-check-exit=$?"
            ostree-sharp admin upgrade; echo "OSTREE-SHARP-TEST upgrade-exit=$?"
            ostree-sharp admin switch ostree-unverified-image:oci:{Data}/images:v2; echo "OSTREE-SHARP-TEST switch-exit=$?"
            ostree-sharp admin status
            # The new deployment's composefs image, and fs-verity (asked for above) on it and on the objects v2 brought.
            booted=$(ostree admin status | sed -n 's/^\* debian //p')
            cfs=$(ls -d /sysroot/ostree/deploy/debian/deploy/*.[0-9] | grep -v "/$booted\$" | head -n1)/.ostree.cfs
            echo "OSTREE-SHARP-TEST new-cfs=$(fsverity measure "$cfs" 2>&1 | cut -d' ' -f1 | cut -c1-7)"
            # (and on every object: post-copy did the old ones, each write since does its own)
            echo "OSTREE-SHARP-TEST end-objects=$(find /sysroot/ostree/repo/objects -type f | wc -l) end-verity=$(find /sysroot/ostree/repo/objects -type f -print0 | xargs -0 fsverity measure 2>/dev/null | grep -c '^sha256:')"
            """);
        Booted(b1, "v1");
        AssertComposefsRoot(b1);
        Assert.True(b1.Has("post-copy-exit=0"), "1: admin post-copy failed:\n" + Tail(b1.Log));
        var (all, allVerity) = (b1.Values.GetValueOrDefault("all-objects", "0"), b1.Values.GetValueOrDefault("all-verity", "-"));
        Assert.True(all != "0" && all == allVerity, $"1: after post-copy, {allVerity} of {all} objects have fs-verity:\n" + Tail(b1.Log));
        Assert.True(b1.Has("status-booted-same=yes"), "1: our admin status does not mark the booted deployment as ostree does:\n" + Tail(b1.Log));
        Assert.True(b1.Values.GetValueOrDefault("new-cfs") == "sha256:", "1: the v2 deployment's .ostree.cfs has no fs-verity:\n" + Tail(b1.Log));
        var (objects, verity) = (b1.Values.GetValueOrDefault("end-objects", "0"), b1.Values.GetValueOrDefault("end-verity", "-"));
        Assert.True(int.Parse(objects, CultureInfo.InvariantCulture) > int.Parse(all, CultureInfo.InvariantCulture) && objects == verity, $"1: after the switch, {verity} of {objects} objects have fs-verity:\n" + Tail(b1.Log));
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
            grep -qw ostree-sharp-kargs-d=v2 /proc/cmdline && echo "OSTREE-SHARP-TEST kargs-d=yes"
            d=$(ostree admin status | awk '$1 == "*" { print $3 }')
            sed -n 's/^container-image-reference=/OSTREE-SHARP-TEST origin=/p' /ostree/deploy/debian/deploy/$d.origin
            ostree-sharp admin upgrade --check; echo "OSTREE-SHARP-TEST upgrade-check-exit=$?"
            ostree-sharp admin upgrade | tee /dev/stderr | grep -qx 'No update available.' && echo "OSTREE-SHARP-TEST upgrade-none=yes"
            # bootc's commands, through the bootc symlink: status as fleet tools read it, a check, a /usr overlay.
            echo "OSTREE-SHARP-TEST bootc-status=$(bootc status --format=json)"
            bootc status --verbose --format=humanreadable | tee /dev/stderr | grep -q "Booted image: oci:/run/ostree-sharp-test/data/images:v2$" && echo "OSTREE-SHARP-TEST bootc-human=yes"
            bootc upgrade --check | tee /dev/stderr | grep -q '^No changes in: ' && echo "OSTREE-SHARP-TEST bootc-check-none=yes"
            touch /usr/share/ostree-sharp-test/written 2>/dev/null || echo "OSTREE-SHARP-TEST usr-readonly-before=yes"
            bootc usr-overlay; echo "OSTREE-SHARP-TEST usr-overlay-exit=$?"
            touch /usr/share/ostree-sharp-test/written && echo "OSTREE-SHARP-TEST usr-writable=yes"
            ostree admin status | grep -q 'Unlocked: development' && echo "OSTREE-SHARP-TEST ostree-sees-unlocked=yes"
            echo "OSTREE-SHARP-TEST bootc-status-overlay=$(bootc status --format=json --booted)"
            bootc status
            bootc rollback; echo "OSTREE-SHARP-TEST rollback-exit=$?"
            # The YAML form of the same object; bootc edit takes it back: the queued rollback reverted, then queued again.
            bootc status --format=yaml > /run/ostree-sharp-host.yaml
            echo "OSTREE-SHARP-TEST bootc-yaml=$(base64 -w0 /run/ostree-sharp-host.yaml)"
            echo "OSTREE-SHARP-TEST bootc-status-rollback=$(bootc status --format=json)"
            sed -i 's/^  bootOrder: rollback$/  bootOrder: default/' /run/ostree-sharp-host.yaml
            bootc edit -f /run/ostree-sharp-host.yaml | tee /dev/stderr | grep -qx 'Next boot: current deployment' && echo "OSTREE-SHARP-TEST edit-reverted=yes"
            bootc edit -f /run/ostree-sharp-host.yaml | tee /dev/stderr | grep -qx 'Edit cancelled, no changes made.' && echo "OSTREE-SHARP-TEST edit-unchanged=yes"
            bootc rollback; echo "OSTREE-SHARP-TEST rollback-again-exit=$?"
            ostree admin status
            """);
        Booted(b2, "v2");
        AssertComposefsRoot(b2);
        Assert.Equal($"ostree-unverified-image:oci:{Data}/images:v2", b2.Values.GetValueOrDefault("origin"));
        Assert.True(b2.Has("etc: local-change"), "2: the /etc change of v1 was lost:\n" + Tail(b2.Log));
        Assert.True(b2.Has("etc: release v1 edited"), "2: the edited /etc file was not kept:\n" + Tail(b2.Log));
        Assert.True(b2.Has("upgrade-check-exit=77") && b2.Has("upgrade-none=yes"), "2: admin upgrade of the same reference did not find it up to date:\n" + Tail(b2.Log));
        Assert.True(b2.Has("rollback-exit=0"), "2: bootc rollback failed:\n" + Tail(b2.Log));
        var status = BootcSchema.AssertValid(JsonLine(b2, "bootc-status"), "2: bootc status --format=json");
        var booted = status.GetProperty("status").GetProperty("booted");
        Assert.Equal("bootcHost", status.GetProperty("status").GetProperty("type").GetString());
        Assert.Equal($"{Data}/images:v2", booted.GetProperty("image").GetProperty("image").GetProperty("image").GetString());
        Assert.Equal("oci", booted.GetProperty("image").GetProperty("image").GetProperty("transport").GetString());
        Assert.Equal("debian", booted.GetProperty("ostree").GetProperty("stateroot").GetString());
        Assert.Equal(JsonValueKind.Object, status.GetProperty("status").GetProperty("rollback").ValueKind);
        Assert.Equal(JsonValueKind.Null, status.GetProperty("status").GetProperty("usrOverlay").ValueKind);
        Assert.True(b2.Has("bootc-human=yes"), "2: bootc status --format=humanreadable does not show the booted image:\n" + Tail(b2.Log));
        Assert.True(b2.Has("bootc-check-none=yes"), "2: bootc upgrade --check of the same image found a change:\n" + Tail(b2.Log));
        Assert.True(b2.Has("usr-readonly-before=yes") && b2.Has("usr-overlay-exit=0") && b2.Has("usr-writable=yes"), "2: bootc usr-overlay did not make /usr writable:\n" + Tail(b2.Log));
        Assert.True(b2.Has("ostree-sees-unlocked=yes"), "2: ostree admin status does not show the unlocked deployment:\n" + Tail(b2.Log));
        var overlay = BootcSchema.AssertValid(JsonLine(b2, "bootc-status-overlay"), "2: bootc status --format=json --booted").GetProperty("status");
        Assert.Equal("readWrite", overlay.GetProperty("usrOverlay").GetProperty("accessMode").GetString());
        Assert.Equal("transient", overlay.GetProperty("usrOverlay").GetProperty("persistence").GetString());
        Assert.Equal(JsonValueKind.Null, overlay.GetProperty("rollback").ValueKind);
        var queued = BootcSchema.AssertValid(JsonLine(b2, "bootc-status-rollback"), "2: bootc status --format=json after bootc rollback");
        Assert.Equal("rollback", queued.GetProperty("spec").GetProperty("bootOrder").GetString());
        Assert.True(queued.GetProperty("status").GetProperty("rollbackQueued").GetBoolean());
        var yaml = Encoding.UTF8.GetString(Convert.FromBase64String(b2.Values["bootc-yaml"]));
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(JsonLine(b2, "bootc-status-rollback")), YamlToJson(yaml)), "2: the YAML status is not the JSON one:\n" + yaml);
        Assert.True(b2.Has("edit-reverted=yes") && b2.Has("edit-unchanged=yes"), "2: bootc edit -f did not revert the queued rollback, or not only once:\n" + Tail(b2.Log));
        Assert.True(b2.Has("rollback-again-exit=0"), "2: bootc rollback after the edit failed:\n" + Tail(b2.Log));
        Vm.Note("2: bootc status --format=json: " + JsonLine(b2, "bootc-status"));
        Assert.True(b2.Has("kargs-d=yes"), "2: the kernel argument of v2's kargs.d is not on its command line:\n" + Tail(b2.Log));

        // c. After the rollback, v1 again: first in the loader's view, then booted.
        Assert.Equal("v1", Vm.DefaultVersion(disk, _tmp.Path));
        // Then a switch to v3, whose base commit is signed and whose prepare-root.conf says enabled = signed.
        var b3 = Boot("3-rolled-back-v1", disk, $"""
            ostree-sharp admin status
            grep -qw ostree-sharp-kargs-d=v2 /proc/cmdline || echo "OSTREE-SHARP-TEST kargs-d-gone=yes"
            [ -e /usr/share/ostree-sharp-test/written ] || echo "OSTREE-SHARP-TEST overlay-gone=yes"
            touch /usr/share/ostree-sharp-test/written 2>/dev/null || echo "OSTREE-SHARP-TEST usr-readonly=yes"
            # (staged: ostree's finalization in v1 writes its boot entry at shutdown)
            bootc switch --transport oci {Data}/images:v3; echo "OSTREE-SHARP-TEST switch-exit=$?"
            echo "OSTREE-SHARP-TEST bootc-status-staged=$(bootc status --format=json)"
            """);
        Booted(b3, "v1");
        Assert.True(b3.Has("kargs-d-gone=yes"), "3: the kernel argument of v2's kargs.d is still there after the rollback to v1:\n" + Tail(b3.Log));
        Assert.True(b3.Has("switch-exit=0"), "3: bootc switch to v3 failed:\n" + Tail(b3.Log));
        Assert.True(b3.Has("overlay-gone=yes") && b3.Has("usr-readonly=yes"), "3: the /usr overlay of the previous boot is still there:\n" + Tail(b3.Log));
        var staged = BootcSchema.AssertValid(JsonLine(b3, "bootc-status-staged"), "3: bootc status --format=json after the switch");
        Assert.Equal($"{Data}/images:v3", staged.GetProperty("spec").GetProperty("image").GetProperty("image").GetString());
        Assert.Equal($"{Data}/images:v3", staged.GetProperty("status").GetProperty("staged").GetProperty("image").GetProperty("image").GetProperty("image").GetString());

        // d. v3 boots with / on composefs, its digest checked against the signed base commit by ostree-prepare-root:
        //    found through the merge commit's parent, its signature checked with the key in the initramfs. Debian's
        //    ostree-prepare-root (forky, 2026.4) is built without an ed25519 implementation: it stops at that check,
        //    with its own message, after everything before it succeeded (the signature is checked above with ostree).
        var prepareRoot = File.ReadAllText(Path.Combine(guest.Root, "usr/lib/ostree/ostree-prepare-root"), Encoding.Latin1);
        bool ed25519 = !prepareRoot.Contains("ed25519 signature validation requested, but support not compiled in", StringComparison.Ordinal);
        var b4 = Boot("4-signed-v3", disk, "ostree admin status\n");
        Assert.Contains("composefs+ostree: Validating composefs using bootc base commit", b4.Log, StringComparison.Ordinal);
        if (ed25519)
        {
            Booted(b4, "v3");
            AssertComposefsRoot(b4);
            Assert.True(b4.Has("prepare-root: composefs+ostree: Validated commit signature using '/etc/ostree/initramfs-root-binding.key'"), "4: no signature check:\n" + Tail(b4.Log));
            Assert.True(b4.Has("prepare-root: composefs: mounted successfully (verity=true)"), "4: composefs without verity:\n" + Tail(b4.Log));
            Assert.True(b4.Lines.Any(l => l.StartsWith("booted-meta=", StringComparison.Ordinal) && l.Split(' ').Contains("composefs.signed")), "4: /run/ostree-booted records no composefs.signed:\n" + Tail(b4.Log));
        }
        else
        {
            Assert.Contains("Checking commit signature: signature verification failed: ed25519 signature validation requested, but support not compiled in", b4.Log, StringComparison.Ordinal);
            Vm.Note("4-signed-v3: the guest's ostree-prepare-root has no ed25519 support (Debian's build): it found the signed base commit and the key, and stopped at the signature check");
        }
    }

    // The finalization's journal on the serial console when ostree-finalize-staged.service stops at shutdown (this
    // boot only: a runtime drop-in), prefixed so that the harness keeps it.
    private const string JournalToConsole = """
        printf '%s\n' '#!/bin/sh' 'journalctl -b -o cat --no-pager -u ostree-finalize-staged.service | sed "s/^/OSTREE-SHARP-TEST finalize: /" > /dev/console' > /run/ostree-sharp-finalize-log.sh
        mkdir -p /run/systemd/system/ostree-finalize-staged.service.d
        printf '[Service]\nExecStopPost=/bin/sh /run/ostree-sharp-finalize-log.sh\n' > /run/systemd/system/ostree-finalize-staged.service.d/90-log.conf
        systemctl daemon-reload

        """;

    [Fact]
    public void Staged_deployments_are_finalized_at_shutdown_by_either_tool()
    {
        var disk = Install();

        // a. v1, whose shutdown runs ostree's finalization: we stage the upgrade to stable (v2). Nothing changes for the
        //    boot loader while the host runs; /etc written after staging still reaches v2 (merged at shutdown).
        var s1 = Boot("s1-stage-v2", disk, JournalToConsole + """
            echo "OSTREE-SHARP-TEST entries-before=$(ls /boot/loader/entries | wc -l)"
            bootc upgrade --progress-fd 3 3>/run/ostree-sharp-progress.jsonl; echo "OSTREE-SHARP-TEST stage-exit=$?"
            sed 's/^/OSTREE-SHARP-TEST progress=/' /run/ostree-sharp-progress.jsonl
            echo "OSTREE-SHARP-TEST bootc-status=$(bootc status --format=json)"
            echo "OSTREE-SHARP-TEST entries-staged=$(ls /boot/loader/entries | wc -l)"
            ostree admin status | tee /dev/stderr | grep -q ' (staged)$' && echo "OSTREE-SHARP-TEST ostree-sees-staged=yes"
            ostree-sharp admin status | grep -q ' (staged)$' && echo "OSTREE-SHARP-TEST ours-sees-staged=yes"
            echo "OSTREE-SHARP-TEST finalize-unit=$(systemctl is-active ostree-finalize-staged.service)"
            echo written-after-staging > /etc/ostree-sharp-after-staging.conf
            """);
        Booted(s1, "v1");
        Assert.True(s1.Has("stage-exit=0"), "s1: bootc upgrade failed:\n" + Tail(s1.Log));
        var host = BootcSchema.AssertValid(JsonLine(s1, "bootc-status"), "s1: bootc status --format=json with a staged deployment").GetProperty("status");
        Assert.Equal($"{Data}/images:stable", host.GetProperty("staged").GetProperty("image").GetProperty("image").GetProperty("image").GetString());
        Assert.NotEqual(host.GetProperty("booted").GetProperty("image").GetProperty("imageDigest").GetString(), host.GetProperty("staged").GetProperty("image").GetProperty("imageDigest").GetString());
        Assert.False(host.GetProperty("staged").GetProperty("downloadOnly").GetBoolean());
        AssertProgress(s1.Lines.Where(l => l.StartsWith("progress=", StringComparison.Ordinal)).Select(l => l["progress=".Length..]).ToList());
        Assert.True(s1.Values.GetValueOrDefault("entries-before") is { } before && before == s1.Values.GetValueOrDefault("entries-staged"), "s1: staging changed the boot entries:\n" + Tail(s1.Log));
        Assert.True(s1.Has("ostree-sees-staged=yes"), "s1: ostree admin status does not show our staged deployment:\n" + Tail(s1.Log));
        Assert.True(s1.Has("ours-sees-staged=yes"), "s1: our admin status does not show the staged deployment:\n" + Tail(s1.Log));
        Assert.True(s1.Has("finalize-unit=active"), "s1: ostree-finalize-staged.service was not started:\n" + Tail(s1.Log));
        Assert.Equal("v2", Vm.DefaultVersion(disk, _tmp.Path));
        Assert.Contains("finalize: Finalizing staged deployment", s1.Log, StringComparison.Ordinal);

        // b. v2, whose shutdown runs our finalization: ostree stages the previous commit (v1) with a kernel argument.
        var s2 = Boot("s2-staged-by-ostree", disk, JournalToConsole + """
            [ "$(cat /etc/ostree-sharp-after-staging.conf)" = written-after-staging ] && echo "OSTREE-SHARP-TEST etc-after-staging=yes"
            v1=$(ostree admin status | awk '/\(rollback\)$/ { print $2 }' | cut -d. -f1)
            ostree admin deploy --stage --karg-append=ostree-sharp-staged=by-ostree "$v1"; echo "OSTREE-SHARP-TEST stage-exit=$?"
            ostree-sharp admin status | tee /dev/stderr | grep -q ' (staged)$' && echo "OSTREE-SHARP-TEST ours-sees-staged=yes"
            systemctl cat ostree-finalize-staged.service | grep -q 'ostree-sharp admin finalize-staged' && echo "OSTREE-SHARP-TEST finalized-by=ostree-sharp"
            """);
        Booted(s2, "v2");
        Assert.True(s2.Has("etc-after-staging=yes"), "s2: /etc written after staging did not reach the staged deployment:\n" + Tail(s2.Log));
        Assert.True(s2.Has("stage-exit=0"), "s2: ostree admin deploy --stage failed:\n" + Tail(s2.Log));
        Assert.True(s2.Has("ours-sees-staged=yes"), "s2: our admin status does not show ostree's staged deployment:\n" + Tail(s2.Log));
        Assert.True(s2.Has("finalized-by=ostree-sharp"), "s2: the drop-in is not in effect:\n" + Tail(s2.Log));
        Assert.Equal("v1", Vm.DefaultVersion(disk, _tmp.Path));
        Assert.Contains("finalize: Finalizing staged deployment", s2.Log, StringComparison.Ordinal);
        Assert.Contains("ostree-sharp-staged=by-ostree", Vm.DefaultEntry(disk, Vm.Partitions(disk)["boot"], _tmp.Path).Options, StringComparison.Ordinal);

        // c. A power cut after staging, before shutdown: the staged deployment never becomes the default.
        var s3 = Boot("s3-cut-after-staging", disk, """
            ostree-sharp admin upgrade --stage; echo "OSTREE-SHARP-TEST stage-exit=$?"
            """, "stage-exit=0", TimeSpan.Zero);
        Booted(s3, "v1");
        Assert.True(s3.Killed, "s3: the power was not cut");
        Assert.Equal("v1", Vm.DefaultVersion(disk, _tmp.Path));

        // d. The old deployment boots, with the kernel argument ostree staged; a staging locked for finalization
        //    (--lock-finalization, then unlocked and locked again) is shown as such by both tools and left alone at
        //    shutdown.
        var s4 = Boot("s4-after-cut-locked", disk, JournalToConsole + """
            grep -qw ostree-sharp-staged=by-ostree /proc/cmdline && echo "OSTREE-SHARP-TEST karg=yes"
            ostree-sharp admin status | grep -q ' (staged)$' || echo "OSTREE-SHARP-TEST no-staged=yes"
            v2=$(ostree admin status | awk '/\(rollback\)$/ { print $2 }' | cut -d. -f1)
            ostree-sharp admin deploy --lock-finalization "$v2"; echo "OSTREE-SHARP-TEST stage-exit=$?"
            ostree-sharp admin lock-finalization --unlock; echo "OSTREE-SHARP-TEST unlock-exit=$?"
            ostree admin status | grep -q ' (staged)$' && echo "OSTREE-SHARP-TEST ostree-sees-unlocked=yes"
            ostree-sharp admin lock-finalization; echo "OSTREE-SHARP-TEST lock-exit=$?"
            ostree admin status | tee /dev/stderr | grep -q ' (finalization locked)$' && echo "OSTREE-SHARP-TEST ostree-sees-locked=yes"
            """);
        Booted(s4, "v1");
        Assert.True(s4.Has("karg=yes"), "s4: the kernel argument of the staged deployment is not on the command line:\n" + Tail(s4.Log));
        Assert.True(s4.Has("no-staged=yes"), "s4: a staged deployment survived the power cut:\n" + Tail(s4.Log));
        Assert.True(s4.Has("stage-exit=0") && s4.Has("unlock-exit=0") && s4.Has("lock-exit=0"), "s4: staging, unlocking or locking failed:\n" + Tail(s4.Log));
        Assert.True(s4.Has("ostree-sees-unlocked=yes"), "s4: ostree does not see the unlocked staged deployment:\n" + Tail(s4.Log));
        Assert.True(s4.Has("ostree-sees-locked=yes"), "s4: ostree does not see the finalization lock:\n" + Tail(s4.Log));
        Assert.Contains("finalize: Not finalizing; deployment is locked for finalization", s4.Log, StringComparison.Ordinal);
        Assert.Equal("v1", Vm.DefaultVersion(disk, _tmp.Path));
    }

    // bootc's --progress-fd events (v0): Start first, pulling bytes by layer up to the total, importing, then the
    // staging steps up to 3 of 3.
    private static void AssertProgress(List<string> lines)
    {
        Assert.True(lines.Count > 3, "too few progress events:\n" + string.Join('\n', lines));
        var events = lines.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.Equal("Start", events[0].GetProperty("type").GetString());
        Assert.Equal("0.1.0", events[0].GetProperty("version").GetString());
        var pulling = events.Where(e => e.GetProperty("type").GetString() == "ProgressBytes").ToList();
        Assert.NotEmpty(pulling);
        Assert.All(pulling, e => Assert.Equal("pulling", e.GetProperty("task").GetString()));
        var lastPull = pulling[^1];
        Assert.Equal(lastPull.GetProperty("bytesTotal").GetInt64(), lastPull.GetProperty("bytes").GetInt64());
        Assert.Equal(lastPull.GetProperty("stepsTotal").GetInt64(), lastPull.GetProperty("steps").GetInt64());
        Assert.True(lastPull.GetProperty("stepsTotal").GetInt64() >= 1, "no layer fetched: " + lastPull);
        var steps = events.Where(e => e.GetProperty("type").GetString() == "ProgressSteps").ToList();
        Assert.Contains(steps, e => e.GetProperty("task").GetString() == "importing" && e.GetProperty("steps").GetInt64() == 1);
        var last = events[^1];
        Assert.Equal("staging", last.GetProperty("task").GetString());
        Assert.Equal(3, last.GetProperty("steps").GetInt64());
        Assert.Equal(3, last.GetProperty("stepsTotal").GetInt64());
        Assert.All(last.GetProperty("subtasks").EnumerateArray(), t => Assert.True(t.GetProperty("completed").GetBoolean()));
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
