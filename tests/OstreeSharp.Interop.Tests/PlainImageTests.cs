using System.Text.Json;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Images without an ostree commit inside, as podman builds them from a bootc base (see <see cref="PlainImages"/>):
/// every layer is a derived layer; the store builds the base from the layers as ostree-ext does.
/// </summary>
public sealed class PlainImageTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly HttpServers _servers = new();

    public void Dispose()
    {
        _servers.Dispose();
        _tmp.Dispose();
    }

    private static void Write(string root, string path, string text)
    {
        var full = Path.Combine(root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
    }

    /// <summary>
    /// oci:LAYOUT:v1 (a base layer as a container root has it, /etc and all, and a "RUN" layer with whiteouts) and
    /// v2 (one more layer on v1). Returns the layout.
    /// </summary>
    private string Images()
    {
        var layout = _tmp["layout"];
        var root = _tmp["l1"];
        SysrootTests.WriteOsTree(root, 1);
        Directory.Move(Path.Combine(root, "usr/etc"), Path.Combine(root, "etc"));
        Write(root, "etc/hostname", string.Empty);
        Write(root, "etc/resolv.conf", string.Empty);
        Write(root, "usr/lib/ostree/prepare-root.conf", "[composefs]\nenabled = true\n");
        Write(root, "usr/bin/gone", "to be removed");
        Write(root, "usr/share/doc/a", "a");
        Write(root, "usr/share/doc/b", "b");
        Write(root, "var/lib/app/state", "kept");
        Write(root, "opt/app/bin", "an app outside /usr");
        Write(root, "run/pidfile", "1");
        Write(root, "tmp/scratch", "x");
        PlainImages.AddLayer(layout, null, "v1-base", root);

        var run = _tmp["l2"];
        Write(run, "etc/motd", "Welcome to the derived build\n");
        Write(run, "usr/bin/tool", "tool");
        Write(run, "usr/bin/.wh.gone", string.Empty);
        Write(run, "usr/share/doc/.wh..wh..opq", string.Empty);
        Write(run, "usr/share/doc/new", "new");
        PlainImages.AddLayer(layout, "v1-base", "v1", run);

        var more = _tmp["l3"];
        Write(more, "usr/share/extra", "v2 only");
        PlainImages.AddLayer(layout, "v1", "v2", more);
        return layout;
    }

    private static string MergeOf(string pullOutput) => pullOutput.Split('\n')[^1].Split(" => ")[1];

    [Fact]
    public void A_podman_style_image_is_merged_from_its_layers_and_layers_seen_before_are_not_fetched_again()
    {
        var layout = Images();
        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init");

        // container unencapsulate wants the ostree commit, which this image does not have.
        var refused = Tools.Ours("container", "unencapsulate", "--repo=" + host, $"ostree-unverified-image:oci:{layout}:v1");
        Assert.Contains("No ostree.final-diffid label found, not an ostree encapsulated container", refused.Stderr, StringComparison.Ordinal);

        var first = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:v1").Ok("pull v1");
        Assert.Contains("layers already present: 0; layers needed: 2", first, StringComparison.Ordinal);
        Assert.Contains("Image contains non-ostree compatible file paths: pidfile: 1 scratch: 1", first, StringComparison.Ordinal);
        var merge = MergeOf(first);
        var tree = _tmp["merged"];
        Tools.Ostree("checkout", "--repo=" + host, "-U", merge, tree).Ok("checkout the merge commit");
        Assert.Equal("Welcome to the derived build\n", File.ReadAllText(Path.Combine(tree, "usr/etc/motd")));
        Assert.Contains("VERSION_ID=1", File.ReadAllText(Path.Combine(tree, "usr/etc/os-release")), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(tree, "etc")));
        Assert.False(File.Exists(Path.Combine(tree, "usr/etc/hostname")));
        Assert.False(File.Exists(Path.Combine(tree, "usr/etc/resolv.conf")));
        Assert.False(File.Exists(Path.Combine(tree, "usr/bin/gone")));
        Assert.Equal(["new"], Directory.GetFileSystemEntries(Path.Combine(tree, "usr/share/doc")).Select(Path.GetFileName));
        Assert.Equal("kept", File.ReadAllText(Path.Combine(tree, "var/lib/app/state")));
        Assert.Equal("an app outside /usr", File.ReadAllText(Path.Combine(tree, "opt/app/bin")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(tree, "run")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(tree, "tmp")));

        // The merge commit carries ostree-ext's metadata keys; no parent (there is no base commit).
        foreach (var key in new[] { "ostree.manifest-digest", "ostree.manifest", "ostree.container.image-config", "ostree.importer.version" })
        {
            Tools.Ostree("show", "--repo=" + host, "--print-metadata-key=" + key, merge).Ok("metadata " + key);
        }

        Assert.DoesNotContain("Parent:", Tools.Ostree("log", "--repo=" + host, merge).Ok("log"), StringComparison.Ordinal);
        Tools.Ostree("fsck", "--repo=" + host).Ok("fsck");

        // v2 shares both layers with v1: only the new one is fetched.
        var second = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:v2").Ok("pull v2");
        Assert.Contains("layers already present: 2; layers needed: 1", second, StringComparison.Ordinal);
        Assert.Single(second.Split('\n'), l => l.StartsWith("Fetching layer", StringComparison.Ordinal));
        var merge2 = MergeOf(second);
        Assert.Equal("v2 only", Tools.Ostree("cat", "--repo=" + host, merge2, "/usr/share/extra").Ok("cat"));
        Assert.Equal(5, Tools.Ours("refs", "--repo=" + host).Ok("refs").Split('\n').Length); // two images, three layers

        // reexport keeps the layer structure (three plain layers, no ostree commit, the labels) and pulls back to the same tree.
        var copy = _tmp["copy"];
        Tools.Ours("container", "image", "reexport", "--repo=" + host, $"oci:{layout}:v2", $"oci:{copy}:v2").Ok("reexport");
        using (var inspect = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", $"oci:{copy}:v2"]).Ok("skopeo inspect")))
        {
            Assert.Equal(3, inspect.RootElement.GetProperty("Layers").GetArrayLength());
            var labels = inspect.RootElement.GetProperty("Labels");
            Assert.Equal("1", labels.GetProperty("containers.bootc").GetString());
            Assert.False(labels.TryGetProperty("ostree.final-diffid", out _));
        }

        var back = _tmp["back"];
        Tools.Ours("init", "--repo=" + back, "--mode=bare-user").Ok("init back");
        var again = MergeOf(Tools.Ours("container", "image", "pull", back, $"ostree-unverified-image:oci:{copy}:v2").Ok("pull the reexported image"));
        Assert.Equal(Tools.Ostree("ls", "--repo=" + host, "-R", "-C", merge2).Ok("ls"), Tools.Ostree("ls", "--repo=" + back, "-R", "-C", again).Ok("ls back"));
    }

    [Fact]
    public void A_host_deploys_switches_and_upgrades_plain_images_and_serves_and_installs_them()
    {
        var layout = _tmp["layout"];
        Images();
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=exampleos", $"--imgref=ostree-unverified-image:oci:{layout}:v1").Ok("deploy v1");
        var s = OstreeSysroot.Open(sr);
        var d = Assert.Single(s.Deployments);
        var root = s.DeploymentPath(d);
        Assert.Equal("Welcome to the derived build\n", File.ReadAllText(Path.Combine(root, "etc/motd")));
        Assert.True(File.Exists(Path.Combine(root, ".ostree.cfs")), "prepare-root.conf enables composefs: the deployment has its image");
        Assert.True(Directory.Exists(Path.Combine(root, "opt/app")));
        Tools.Ostree("admin", "status", "--sysroot=" + sr).Ok("ostree admin status");

        // switch to v2: one layer fetched.
        var switched = Tools.Ours("admin", "switch", "--sysroot=" + sr, $"ostree-unverified-image:oci:{layout}:v2").Ok("switch");
        Assert.Contains("layers already present: 2; layers needed: 1", switched, StringComparison.Ordinal);
        s = OstreeSysroot.Open(sr);
        Assert.Equal("v2 only", File.ReadAllText(Path.Combine(s.DeploymentPath(s.Deployments[0]), "usr/share/extra")));

        // v2 rebuilt (another layer on top): upgrade sees it and fetches only that layer.
        Assert.Equal(77, Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--check").ExitCode);
        var fix = _tmp["l4"];
        Write(fix, "usr/share/fix", "v2 respin");
        PlainImages.AddLayer(layout, "v2", "v2", fix);
        var upgraded = Tools.Ours("admin", "upgrade", "--sysroot=" + sr).Ok("upgrade");
        Assert.Contains("layers already present: 3; layers needed: 1", upgraded, StringComparison.Ordinal);
        s = OstreeSysroot.Open(sr);
        Assert.Equal("v2 respin", File.ReadAllText(Path.Combine(s.DeploymentPath(s.Deployments[0]), "usr/share/fix")));
        Tools.Ostree("fsck", "--repo=" + Path.Combine(sr, "ostree/repo")).Ok("fsck");

        // serve --image: the merge commit, over HTTP, to the real ostree.
        var (_, url) = _servers.Ours(["--image=oci:" + layout + ":v2", "--ref=os/stable", "--cache-dir=" + _tmp["cache"], "--port=0", "--quiet"]);
        var dest = _tmp["dest"];
        Tools.Ostree("init", "--repo=" + dest, "--mode=bare-user").Ok("init dest");
        Tools.Ostree("remote", "add", "--repo=" + dest, "--no-gpg-verify", "img", url).Ok("remote add");
        Tools.Ostree("pull", "--repo=" + dest, "img", "os/stable").Ok("ostree pull from serve --image");
        Assert.Equal("v2 respin", Tools.Ostree("cat", "--repo=" + dest, "img:os/stable", "/usr/share/fix").Ok("cat served"));
        // The merge commit does not depend on which layers a host had already: the served one is the deployed one.
        Assert.Equal(s.Deployments[0].Commit.ToHex(), Tools.Ostree("rev-parse", "--repo=" + dest, "img:os/stable").Ok("rev-parse"));

        // install to-filesystem from the plain image.
        var target = _tmp["target"];
        Directory.CreateDirectory(Path.Combine(target, "boot"));
        Tools.Ours("install", "to-filesystem", target, "--source-imgref", $"oci:{layout}:v2", "--root-mount-spec", "LABEL=root").Ok("install to-filesystem");
        var installed = OstreeSysroot.Open(target);
        Assert.Equal(s.Deployments[0].Commit, Assert.Single(installed.Deployments).Commit);
        Assert.True(File.Exists(Path.Combine(installed.DeploymentPath(installed.Deployments[0]), ".ostree.cfs")));
        Tools.Ostree("fsck", "--repo=" + Path.Combine(target, "ostree/repo")).Ok("fsck installed");
    }
}
