using System.Text.Json;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// <c>install to-disk</c> and <c>install to-filesystem</c>: what lands on the disk image is read back as a boot loader
/// and the real tools read it (sfdisk, debugfs without replaying the journal, e2fsck, mtools, the real ostree).
/// </summary>
public sealed class InstallTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    // A bootable image in an OCI layout, with bootc's install configuration and a kargs.d fragment.
    private string Image(int build)
    {
        var repo = _tmp["build"];
        if (!Directory.Exists(repo))
        {
            Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init build repo");
        }

        var tree = _tmp["tree"];
        SysrootTests.WriteOsTree(tree, build);
        Directory.CreateDirectory(Path.Combine(tree, "usr/lib/bootc/install"));
        Directory.CreateDirectory(Path.Combine(tree, "usr/lib/bootc/kargs.d"));
        File.WriteAllText(Path.Combine(tree, "usr/lib/bootc/install/00-base.toml"), "[install.filesystem.root]\ntype = \"ext4\"\n[install]\nkargs = [\"console=ttyS0\", \"quiet\"]\n");
        File.WriteAllText(Path.Combine(tree, "usr/lib/bootc/install/10-other-arch.toml"), "[install]\nmatch-architectures = [\"s390x\"]\nkargs = [\"never=here\"]\n");
        File.WriteAllText(Path.Combine(tree, "usr/lib/bootc/kargs.d/10-image.toml"), "kargs = [\"image.karg=1\", \"mitigations=auto\"]\n");
        Directory.CreateDirectory(Path.Combine(tree, "root"));
        Tools.Ours("commit", "--repo=" + repo, "--branch=exampleos/stable", "--tree=dir=" + tree, "--owner-uid=0", "--owner-gid=0", "--bootable",
            $"--subject=Example OS build {build}", $"--add-metadata-string=version={build}.0", $"--timestamp=@{1700000000 + (build * 86400)}").Ok("commit");
        var layout = _tmp["images"];
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--label=containers.bootc=1", "exampleos/stable", $"oci:{layout}:{build}").Ok("encapsulate");
        return $"oci:{layout}:{build}";
    }

    private static RunResult Tool(string file, params string[] args) => Tools.Run(file, args);

    private static string Debugfs(string image, long offset, string request) =>
        Tool("debugfs", "-c", "-R", request, $"{image}?offset={offset}").Ok("debugfs " + request);

    [Fact]
    public void To_disk_writes_bootcs_partitions_and_filesystems_a_loader_and_the_real_ostree_read()
    {
        var source = Image(1);
        var disk = _tmp["disk.img"];
        using (var f = File.Create(disk))
        {
            f.SetLength(3L << 30);
        }

        var keys = _tmp["authorized_keys"];
        File.WriteAllText(keys, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyForTests test@example\n");
        var json = Tools.Ours("install", "to-disk", "--via-loopback", disk, "--source-imgref", source, "--target-imgref", "quay.io/example/os:stable",
            "--stateroot", "exampleos", "--karg", "foo=bar", "--karg-delete", "quiet", "--root-ssh-authorized-keys", keys, "--json").Ok("install to-disk");
        using var result = JsonDocument.Parse(json.Split('\n')[^1]);
        var rootUuid = result.RootElement.GetProperty("rootUuid").GetString()!;
        var bootUuid = result.RootElement.GetProperty("bootUuid").GetString()!;
        var deployName = result.RootElement.GetProperty("deployment").GetString()!;

        // bootc's table: BIOS boot, ESP, boot, root.
        using var table = JsonDocument.Parse(Tool("sfdisk", "--json", disk).Ok("sfdisk --json"));
        var parts = table.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(["BIOS-BOOT", "EFI-SYSTEM", "boot", "root"], parts.Select(p => p.GetProperty("name").GetString()));
        Assert.Equal(["21686148-6449-6E6F-744E-656564454649", "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "0FC63DAF-8483-4772-8E79-3D69D8477DE4"], parts.Select(p => p.GetProperty("type").GetString()));
        long Offset(int i) => parts[i].GetProperty("start").GetInt64() * 512;
        long espAt = Offset(1), bootAt = Offset(2), rootAt = Offset(3);

        // Each filesystem is clean and carries the UUID the kernel arguments name.
        foreach (var (at, uuid, label) in new[] { (bootAt, bootUuid, "boot"), (rootAt, rootUuid, "root") })
        {
            Tool("e2fsck", "-fn", $"{disk}?offset={at}").Ok("e2fsck " + label);
            var super = Tool("dumpe2fs", "-h", $"{disk}?offset={at}").Ok("dumpe2fs " + label);
            Assert.Contains("Filesystem UUID:          " + uuid, super, StringComparison.Ordinal);
            Assert.Contains("Filesystem volume name:   " + label, super, StringComparison.Ordinal);
        }

        Assert.Contains("verity", Tool("dumpe2fs", "-h", $"{disk}?offset={rootAt}").Ok("dumpe2fs root"), StringComparison.Ordinal);
        Assert.Contains("EFI-SYSTEM", Tool("mlabel", "-s", "-i", $"{disk}@@{espAt}", "::").Ok("mlabel"), StringComparison.Ordinal);

        // The boot filesystem as a BLS loader reads it: the entry, its kernel and initramfs.
        var entry = Debugfs(disk, bootAt, "cat /loader/entries/ostree-1.conf");
        var options = entry.Split('\n').Single(l => l.StartsWith("options ", StringComparison.Ordinal))["options ".Length..];
        Assert.StartsWith($"root=UUID={rootUuid} rw boot=UUID={bootUuid} console=ttyS0 image.karg=1 mitigations=auto foo=bar ostree=/ostree/boot.1/exampleos/", options, StringComparison.Ordinal);
        foreach (var key in new[] { "linux", "initrd" })
        {
            var path = entry.Split('\n').Single(l => l.StartsWith(key + " ", StringComparison.Ordinal))[(key.Length + 1)..];
            Assert.StartsWith("/boot/ostree/exampleos-", path, StringComparison.Ordinal);
            Assert.StartsWith("fake ", Debugfs(disk, bootAt, "cat " + path), StringComparison.Ordinal);
        }

        // The root filesystem, copied out, is a sysroot the real ostree reads: status, fsck, the origin.
        var copy = _tmp["copy"];
        Directory.CreateDirectory(copy);
        Debugfs(disk, rootAt, $"rdump / {copy}");
        Debugfs(disk, bootAt, $"rdump / {Path.Combine(copy, "boot")}");
        Tools.Ostree("fsck", "--repo=" + Path.Combine(copy, "ostree/repo")).Ok("ostree fsck");
        var status = Tools.Ostree("admin", "status", "--sysroot=" + copy).Ok("ostree admin status");
        Assert.Contains("exampleos " + deployName, status, StringComparison.Ordinal);
        var deployment = Path.Combine(copy, "ostree/deploy/exampleos/deploy", deployName);
        Assert.Contains("container-image-reference=ostree-unverified-registry:quay.io/example/os:stable", File.ReadAllText(deployment + ".origin"), StringComparison.Ordinal);
        Assert.Equal($"UUID={bootUuid} /boot auto ro 0 0\n", File.ReadAllText(Path.Combine(deployment, "etc/fstab")));
        Assert.StartsWith("f~ /root/.ssh/authorized_keys 600 root root - c3NoLWVkMjU1MTk", File.ReadAllText(Path.Combine(deployment, "etc/tmpfiles.d/bootc-root-ssh.conf")), StringComparison.Ordinal);
        var config = File.ReadAllText(Path.Combine(copy, "ostree/repo/config"));
        Assert.Contains("bootloader=none", config, StringComparison.Ordinal);
        Assert.Contains("readonly=true", config, StringComparison.Ordinal);
        Assert.Equal("docker://quay.io/example/os:stable", Tools.Ours("container", "image", "list", "--repo=" + Path.Combine(copy, "ostree/repo")).Ok("image list"));
        Assert.True(File.Exists(Path.Combine(copy, ".bootc-aleph.json")));
    }

    [Fact]
    public void To_disk_refuses_what_it_cannot_do_and_leaves_the_target_as_it_was()
    {
        var source = Image(1);
        var disk = _tmp["disk.img"];
        using (var f = File.Create(disk))
        {
            f.SetLength(3L << 30);
        }

        RunResult Install(params string[] extra) => Tools.Ours(["install", "to-disk", "--source-imgref", source, .. extra]);
        void Refused(RunResult r, string message)
        {
            Assert.Equal(1, r.ExitCode);
            Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }

        Refused(Install(disk), "is a regular file: pass --via-loopback");
        Refused(Install("--via-loopback", "--filesystem", "xfs", disk), "--filesystem xfs");
        Refused(Install("--via-loopback", "--bootloader", "grub", disk), "Installing a boot loader is not supported");
        Refused(Install("--via-loopback", "--block-setup", "tpm2-luks", disk), "--block-setup tpm2-luks is not supported");
        Refused(Install("--via-loopback", "--composefs-backend", disk), "composefs backend");
        Refused(Tools.Ours("install", "to-disk", "--via-loopback", disk), "--source-imgref is required");
        Refused(Install("--via-loopback", _tmp["missing.img"]), "no such device or file");
        Assert.Equal(0, Tool("sh", "-c", $"cmp -s -n 1048576 {disk} /dev/zero").ExitCode);

        var small = _tmp["small.img"];
        using (var f = File.Create(small))
        {
            f.SetLength(1L << 30);
        }

        Refused(Install("--via-loopback", small), "too small");
        Assert.Equal(0, Tool("sh", "-c", $"cmp -s -n 1048576 {small} /dev/zero").ExitCode);

        // A second install onto a partitioned disk needs --wipe.
        Install("--via-loopback", disk).Ok("install to-disk");
        Refused(Install("--via-loopback", disk), "Detected existing partitions on " + disk);
        Install("--via-loopback", "--wipe", disk).Ok("install to-disk --wipe");
        Assert.Equal(4, Tool("sfdisk", "--json", disk).Ok("sfdisk").Split("\"node\"").Length - 1);
    }

    [Fact]
    public void To_filesystem_installs_into_a_folder_with_the_given_mount_specs()
    {
        var source = Image(2);
        var root = _tmp["target"];
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        Tools.Ours("install", "to-filesystem", root, "--source-imgref", source, "--root-mount-spec", "LABEL=root", "--boot-mount-spec", "", "--karg", "console=hvc0").Ok("install to-filesystem");
        var status = Tools.Ostree("admin", "status", "--sysroot=" + root).Ok("ostree admin status");
        Assert.Contains("default ", status, StringComparison.Ordinal);
        var entry = File.ReadAllText(Directory.GetFiles(Path.Combine(root, "boot/loader/entries")).Single());
        Assert.Contains("options root=LABEL=root rw console=ttyS0 quiet image.karg=1 mitigations=auto console=hvc0 ostree=", entry, StringComparison.Ordinal);
        Tools.Ostree("fsck", "--repo=" + Path.Combine(root, "ostree/repo")).Ok("ostree fsck");

        // A failed installation takes back what it wrote.
        var failed = _tmp["failed"];
        Directory.CreateDirectory(Path.Combine(failed, "boot"));
        var missing = Tools.Ours("install", "to-filesystem", failed, "--source-imgref", $"oci:{_tmp["no-such-layout"]}:1", "--root-mount-spec", "LABEL=root");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal(["boot"], Directory.EnumerateFileSystemEntries(failed).Select(Path.GetFileName));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(failed, "boot")));

        // A folder that already holds files is refused, unless told to wipe it.
        var busy = _tmp["busy"];
        Directory.CreateDirectory(busy);
        File.WriteAllText(Path.Combine(busy, "old-file"), "x");
        var refused = Tools.Ours("install", "to-filesystem", busy, "--source-imgref", source, "--root-mount-spec", "LABEL=root");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("is not empty (old-file)", refused.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(busy, "ostree")));
        Tools.Ours("install", "to-filesystem", busy, "--replace=wipe", "--source-imgref", source, "--root-mount-spec", "LABEL=root").Ok("to-filesystem --replace=wipe");
        Assert.False(File.Exists(Path.Combine(busy, "old-file")));

        // Wiping an installation removes its deployments, which are immutable (chattr +i) where the
        // filesystem allows it.
        var deployment = Directory.GetDirectories(Path.Combine(busy, "ostree/deploy/default/deploy")).Single();
        Tools.Ours("install", "to-filesystem", busy, "--replace=wipe", "--source-imgref", source, "--root-mount-spec", "LABEL=root").Ok("to-filesystem --replace=wipe over an installation");
        Assert.Single(Directory.GetDirectories(Path.Combine(busy, "ostree/deploy/default/deploy")));
        Assert.True(Directory.Exists(deployment));
    }
}
