namespace OstreeSharp.Interop.Tests;

/// <summary><c>bootc container lint --image</c>: an image is checked as a container sees its root, without running it.</summary>
public sealed class BootcLintInteropTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    // A root as a bootc base image lays it out: API folders, /sysroot and the /ostree link, one kernel, composefs on,
    // /var/run a link; /etc kept as /usr/etc in the commit (the image's /etc).
    private string Image(string tag, bool varRunFolder)
    {
        var tree = _tmp["tree-" + tag];
        foreach (var d in new[] { "dev", "proc", "sys", "run", "tmp", "var", "sysroot", "boot", "usr/bin", "usr/etc", "usr/lib/ostree", "usr/lib/modules/6.1.0-test" })
        {
            Directory.CreateDirectory(Path.Combine(tree, d));
        }

        File.WriteAllText(Path.Combine(tree, "usr/bin/sh"), "#!/bin/true\n");
        File.WriteAllText(Path.Combine(tree, "usr/etc/os-release"), "ID=test\n");
        File.WriteAllText(Path.Combine(tree, "usr/lib/modules/6.1.0-test/vmlinuz"), "kernel\n");
        File.WriteAllText(Path.Combine(tree, "usr/lib/ostree/prepare-root.conf"), "[composefs]\nenabled = true\n");
        File.CreateSymbolicLink(Path.Combine(tree, "ostree"), "sysroot/ostree");
        if (varRunFolder)
        {
            Directory.CreateDirectory(Path.Combine(tree, "var/run"));
        }
        else
        {
            File.CreateSymbolicLink(Path.Combine(tree, "var/run"), "../run");
        }

        var repo = _tmp["repo"];
        if (!Directory.Exists(repo))
        {
            Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        }

        Tools.Ours("commit", "--repo=" + repo, "--branch=os/" + tag, "--tree=dir=" + tree, "--owner-uid=0", "--owner-gid=0").Ok("commit");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "os/" + tag, $"oci:{_tmp["layout"]}:{tag}").Ok("encapsulate");
        return $"oci:{_tmp["layout"]}:{tag}";
    }

    [Fact]
    public void An_image_is_linted_as_a_container_sees_its_root()
    {
        var goodImage = Image("good", varRunFolder: false);
        var good = Tools.Ours("bootc", "container", "lint", "--image", goodImage);
        Assert.True(good.ExitCode == 0, good.Stdout + good.Stderr);
        Assert.Matches(@"^Checks passed: \d+\nChecks skipped: 1\n", good.Stdout.Replace("\r", string.Empty, StringComparison.Ordinal));
        Assert.DoesNotContain("etc-usretc", good.Stdout, StringComparison.Ordinal);

        var bad = Tools.Ours("bootc", "container", "lint", "--image", Image("bad", varRunFolder: true));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Failed lint: var-run: Not a symlink: var/run", bad.Stdout, StringComparison.Ordinal);
        Assert.Equal("error: Linting: Checks failed: 1", bad.Stderr.Trim());

        // The image's checkout is gone afterwards, and --image does not go with --rootfs.
        Assert.Empty(Directory.EnumerateDirectories(Path.GetTempPath(), "ostree-sharp-lint-*"));
        var both = Tools.Ours("bootc", "container", "lint", "--image", goodImage, "--rootfs", "/");
        Assert.Equal("error: --image and --rootfs are exclusive", both.Stderr.Trim());
    }
}
