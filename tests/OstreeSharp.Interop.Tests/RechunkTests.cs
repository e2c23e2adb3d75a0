using System.Text.Json;
using OstreeSharp.Internal;
using Xunit.Abstractions;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// <c>container rechunk</c> on the Debian tree built as two layers (the root, then a layer adding a package and its
/// dpkg status), before and after a one-package upgrade: layers by package, the layout of the previous build kept,
/// the output read by skopeo and umoci and deployed to the source's tree.
/// </summary>
public sealed class RechunkTests(DebianUpgradeFixture debian, ITestOutputHelper output) : IClassFixture<DebianUpgradeFixture>, IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    // base: the Debian root; v1 and v2: base plus the layer of the package's old or new version.
    private string SourceImages()
    {
        var layout = _tmp["images"];
        PlainImages.AddLayer(layout, null, "base", debian.Root);
        PlainImages.AddLayer(layout, "base", "v1", debian["overlay-v1"]);
        PlainImages.AddLayer(layout, "base", "v2", debian["overlay-v2"]);
        return layout;
    }

    private static JsonElement Manifest(string layout, string tag)
    {
        using var index = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "index.json")));
        var digest = index.RootElement.GetProperty("manifests").EnumerateArray()
            .Single(m => m.TryGetProperty("annotations", out var a) && a.GetProperty("org.opencontainers.image.ref.name").GetString() == tag)
            .GetProperty("digest").GetString()!;
        return JsonDocument.Parse(File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", digest[7..]))).RootElement.Clone();
    }

    private static string ManifestFile(string layout, string tag, string file)
    {
        File.WriteAllText(file, Manifest(layout, tag).GetRawText());
        return file;
    }

    [Fact]
    public void A_one_package_upgrade_changes_only_that_package_layer_and_the_package_database()
    {
        var images = SourceImages();
        var outDir = _tmp["out"];
        // An ordinary user: no mounts, no root; owners and modes come from the layers.
        Directory.CreateDirectory(outDir);
        Tools.Run("chmod", ["-R", "a+rX,a+w", _tmp.Path]).Ok("chmod");
        var asNobody = new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--" };
        var first = Tools.Run("setpriv", asNobody.Concat(OursCommand("container", "rechunk", $"oci:{images}:v1", $"oci:{outDir}:v1", "--format-version", "2", "--bootc", "--json")), new Dictionary<string, string> { ["HOME"] = _tmp.Path, ["TMPDIR"] = _tmp.Path }).Ok("rechunk v1 as nobody");
        var v1 = JsonDocument.Parse(first).RootElement;
        Assert.Equal("dpkg", v1.GetProperty("database").GetString());
        Assert.True(v1.GetProperty("packages").GetInt32() > 50, first);
        var previous = ManifestFile(outDir, "v1", _tmp["v1-manifest.json"]);
        Tools.Ours("container", "rechunk", $"oci:{images}:v2", $"oci:{outDir}:v2", "--format-version", "2", "--bootc", "--previous-build-manifest", previous).Ok("rechunk v2");

        var before = Manifest(outDir, "v1").GetProperty("layers").EnumerateArray().ToList();
        var after = Manifest(outDir, "v2").GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(before.Count, after.Count);
        Assert.True(after.Count >= 16, $"{after.Count} layers");
        var old = before.Select(l => l.GetProperty("digest").GetString()).ToHashSet();
        var changed = after.Where(l => !old.Contains(l.GetProperty("digest").GetString())).ToList();
        string Components(JsonElement l) => l.GetProperty("annotations").GetProperty("ostree.components").GetString()!;
        Assert.Contains(changed, l => Components(l).Split(',').Contains(debian.Package));
        Assert.All(changed, l => Assert.True(Components(l).Split(',').Intersect([debian.Package, "system-state"]).Any(), "unexpected changed layer: " + Components(l)));
        long total = after.Sum(l => l.GetProperty("size").GetInt64());
        long fetched = changed.Sum(l => l.GetProperty("size").GetInt64());
        output.WriteLine($"{after.Count} layers, {total} bytes; the {debian.Package} {debian.OldVersion} -> {debian.NewVersion} update changes {changed.Count} layers, {fetched} bytes ({100.0 * fetched / total:F2}%)");
        Assert.True(fetched <= total / 20, $"the update fetches {fetched} of {total} bytes");

        // Same input, same image.
        var again = _tmp["again"];
        var digest = Tools.Ours("container", "rechunk", $"oci:{images}:v1", $"oci:{again}:v1", "--format-version", "2", "--bootc", "-q").Ok("rechunk v1 again").Trim();
        Assert.Equal(v1.GetProperty("digest").GetString(), digest);

        // skopeo and umoci read it, and umoci's unpacked tree is the source's.
        var inspect = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", $"oci:{outDir}:v1"]).Ok("skopeo inspect")).RootElement;
        Assert.Equal(after.Count, inspect.GetProperty("Layers").GetArrayLength());
        Assert.Equal("1", inspect.GetProperty("Labels").GetProperty("containers.bootc").GetString());
        Tools.Run("skopeo", ["copy", $"oci:{outDir}:v1", "dir:" + _tmp["skopeo-dir"]]).Ok("skopeo copy");
        Tools.Run("umoci", ["unpack", "--image", $"{outDir}:v1", _tmp["bundle"]]).Ok("umoci unpack");
        Tools.Run("umoci", ["unpack", "--image", $"{images}:v1", _tmp["source-bundle"]]).Ok("umoci unpack the source");
        Tools.Run("diff", ["-r", "--no-dereference", _tmp["source-bundle/rootfs"], _tmp["bundle/rootfs"]]).Ok("diff -r of the unpacked trees");
        Assert.Equal(Tools.Describe(_tmp["source-bundle/rootfs"]), Tools.Describe(_tmp["bundle/rootfs"]));
    }

    [Fact]
    public void Rechunked_images_in_both_formats_deploy_to_the_source_tree()
    {
        var images = SourceImages();
        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init");
        string Merge(string reference) => Tools.Ours("container", "image", "pull", host, "ostree-unverified-image:" + reference).Ok("pull " + reference).Split('\n')[^1].Split(" => ")[1];
        string Listing(string commit) => Tools.Ostree("ls", "--repo=" + host, "-R", "-C", "-X", commit).Ok("ls");

        var source = Merge($"oci:{images}:v1");
        Tools.Ours("container", "rechunk", $"oci:{images}:v1", $"oci:{_tmp["plain"]}:v1", "--format-version", "2", "--max-layers", "24", "-q").Ok("rechunk format 2");
        var plain = Merge($"oci:{_tmp["plain"]}:v1");
        Assert.Equal(Listing(source), Listing(plain));

        Tools.Ours("container", "rechunk", "--from", $"oci:{images}:v1", "--output", $"oci:{_tmp["chunked"]}", "--reference", "v1", "--format-version", "1", "--max-layers", "24", "-q").Ok("rechunk format 1");
        var layers = Manifest(_tmp["chunked"], "v1").GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(24, layers.Count);
        Assert.False(layers[0].TryGetProperty("annotations", out _), "format 1 starts with the ostree layer");
        var chunked = Merge($"oci:{_tmp["chunked"]}:v1");
        Assert.Equal(Listing(source), Listing(chunked));

        // diff -r of the checkouts.
        Tools.Ostree("checkout", "--repo=" + host, "-U", source, _tmp["co-source"]).Ok("checkout source");
        Tools.Ostree("checkout", "--repo=" + host, "-U", chunked, _tmp["co-chunked"]).Ok("checkout chunked");
        Tools.Run("diff", ["-r", "--no-dereference", _tmp["co-source"], _tmp["co-chunked"]]).Ok("diff -r of the checkouts");

        // A host deploys the rechunked image, then switches to the rechunked upgrade: it fetches two layers.
        var layout = _tmp["bootc"];
        Tools.Ours("container", "rechunk", $"oci:{images}:v1", $"oci:{layout}:v1", "--format-version", "2", "--max-layers", "24", "--bootc", "-q").Ok("rechunk v1");
        var previous = ManifestFile(layout, "v1", _tmp["bootc-v1.json"]);
        Tools.Ours("container", "rechunk", $"oci:{images}:v2", $"oci:{layout}:v2", "--format-version", "2", "--max-layers", "24", "--bootc", "--previous-build-manifest", previous, "-q").Ok("rechunk v2");
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=debian", $"--imgref=ostree-unverified-image:oci:{layout}:v1").Ok("deploy the rechunked v1");
        var switched = Tools.Ours("admin", "switch", "--sysroot=" + sr, $"ostree-unverified-image:oci:{layout}:v2").Ok("switch to the rechunked v2");
        output.WriteLine(switched);
        Assert.Contains("layers needed: 2", switched, StringComparison.Ordinal);
        var upgraded = Merge($"oci:{images}:v2");
        var sysroot = OstreeSharp.Sysroot.OstreeSysroot.Open(sr);
        Assert.Equal(Listing(upgraded), Tools.Ostree("ls", "--repo=" + Path.Combine(sr, "ostree/repo"), "-R", "-C", "-X", sysroot.Deployments[0].Commit.ToHex()).Ok("ls the deployment"));
    }

    [Fact]
    public void A_root_folder_is_rechunked_with_its_hard_links_and_a_bad_previous_manifest_is_refused()
    {
        var root = _tmp["root"];
        Directory.CreateDirectory(Path.Combine(root, "usr/bin"));
        File.WriteAllText(Path.Combine(root, "usr/bin/tool"), "a tool");
        Tools.Run("ln", [Path.Combine(root, "usr/bin/tool"), Path.Combine(root, "usr/bin/tool-alias")]).Ok("ln");
        Tools.Run("setfattr", ["-n", "user.component", "-v", "tooling", Path.Combine(root, "usr/bin/tool")]).Ok("setfattr");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc/os-release"), "ID=test\n");
        var json = JsonDocument.Parse(Tools.Ours("container", "rechunk", "--rootfs", root, $"oci:{_tmp["out"]}:1", "--format-version", "2", "--json").Ok("rechunk")).RootElement;
        var layers = json.GetProperty("layers").EnumerateArray().ToList();
        var tooling = layers.Single(l => l.GetProperty("components").GetString()!.Split(',').Contains("tooling"));
        var unpacked = _tmp["unpacked"];
        Tools.Run("umoci", ["unpack", "--image", $"{_tmp["out"]}:1", unpacked]).Ok("umoci unpack");
        var a = Objects.Native(Path.Combine(unpacked, "rootfs/usr/bin/tool"));
        var b = Objects.Native(Path.Combine(unpacked, "rootfs/usr/bin/tool-alias"));
        Assert.Equal(a, b);
        Assert.NotNull(tooling.GetProperty("digest").GetString());

        File.WriteAllText(_tmp["bad.json"], "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + new string('0', 64) + "\",\"size\":1},\"layers\":[]}");
        var refused = Tools.Ours("container", "rechunk", "--rootfs", root, $"oci:{_tmp["out"]}:2", "--previous-build-manifest", _tmp["bad.json"]);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("no layer with an ostree.components annotation", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ref.name\":\"2\"", File.ReadAllText(Path.Combine(_tmp["out"], "index.json")), StringComparison.Ordinal);
    }

    // Builds a noarch rpm with rpmbuild holding FILES (path -> content) and two changelog entries.
    private string BuildRpm(string name, params (string Path, string Content)[] files)
    {
        var top = _tmp["rpmbuild"];
        Directory.CreateDirectory(Path.Combine(top, "SPECS"));
        var install = string.Join("\n", files.Select(f => $"mkdir -p %{{buildroot}}{Path.GetDirectoryName(f.Path)}\nprintf '%s' '{f.Content}' > %{{buildroot}}{f.Path}"));
        var spec = Path.Combine(top, "SPECS", name + ".spec");
        File.WriteAllText(spec, $"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: test\nLicense: MIT\nBuildArch: noarch\n%description\ntest\n%install\n{install}\n%files\n{string.Join("\n", files.Select(f => f.Path))}\n%changelog\n* Tue Feb 13 2024 A <a@example.org> - 1.0-1\n- new\n* Mon Jan 01 2024 A <a@example.org> - 0.9-1\n- old\n");
        Tools.Run("rpmbuild", ["-bb", "--define", "_topdir " + top, spec]).Ok("rpmbuild " + name);
        return Directory.EnumerateFiles(Path.Combine(top, "RPMS", "noarch"), name + "-*.rpm").Single();
    }

    private static List<string> LayerPaths(string layout, JsonElement layer) =>
        [.. Tools.Run("tar", ["-tzf", Path.Combine(layout, "blobs", "sha256", layer.GetProperty("digest").GetString()![7..])]).Ok("tar -t").Split('\n', StringSplitOptions.RemoveEmptyEntries)];

    [Fact]
    public void An_rpm_root_is_grouped_by_its_rpmdb_sqlite_with_its_write_ahead_log_applied()
    {
        var hello = BuildRpm("hello-tool", ("/usr/bin/hello", "hi"), ("/usr/share/hello/data", "data"));
        var other = BuildRpm("other-tool", ("/usr/bin/other", "other"), ("/usr/share/other/data", "more"));
        var root = _tmp["rpmroot"];
        Tools.Run("rpm", ["--root", root, "--dbpath", "/usr/lib/sysimage/rpm", "--initdb"]).Ok("rpm --initdb");
        Tools.Run("rpm", ["--root", root, "--dbpath", "/usr/lib/sysimage/rpm", "-i", "--nodeps", "--noscripts", hello, other]).Ok("rpm -i");
        // A file no package lists, beside the files of one package: it goes with that package.
        File.WriteAllText(Path.Combine(root, "usr/share/hello/generated.cache"), "generated");
        var outDir = _tmp["rpm-out"];
        var json = JsonDocument.Parse(Tools.Ours("container", "rechunk", "--rootfs", root, $"oci:{outDir}:1", "--format-version", "2", "--json").Ok("rechunk")).RootElement;
        Assert.Equal("rpm", json.GetProperty("database").GetString());
        Assert.Equal(2, json.GetProperty("packages").GetInt32());
        var layers = json.GetProperty("layers").EnumerateArray().ToList();
        var helloLayer = layers.Single(l => l.GetProperty("components").GetString()!.Split(',').Contains("hello-tool"));
        var paths = LayerPaths(outDir, helloLayer);
        Assert.Contains("usr/bin/hello", paths);
        Assert.Contains("usr/share/hello/data", paths);
        Assert.Contains("usr/share/hello/generated.cache", paths);
        Assert.DoesNotContain("usr/bin/other", paths);
        Assert.Contains("usr/bin/other", LayerPaths(outDir, layers.Single(l => l.GetProperty("components").GetString()!.Split(',').Contains("other-tool"))));

        // rpm's database in WAL mode: a change still in rpmdb.sqlite-wal (other-tool removed) is what counts.
        var db = Path.Combine(root, "usr/lib/sysimage/rpm/rpmdb.sqlite");
        File.Copy(db, _tmp["db.orig"]);
        var script = "import sqlite3, shutil, sys\n" +
            "c = sqlite3.connect(sys.argv[1]); c.execute('pragma journal_mode=wal'); c.execute('pragma wal_autocheckpoint=0')\n" +
            "c.execute(\"delete from Packages where hnum = (select max(hnum) from Packages)\"); c.commit()\n" +
            "shutil.copy(sys.argv[1] + '-wal', sys.argv[2]); c.close()\n";
        Tools.Run("python3", ["-c", script, db, _tmp["wal"]]).Ok("python3 sqlite3");
        File.Copy(_tmp["db.orig"], db, overwrite: true);
        File.Copy(_tmp["wal"], db + "-wal", overwrite: true);
        Assert.True(new FileInfo(db + "-wal").Length > 0);
        var walJson = JsonDocument.Parse(Tools.Ours("container", "rechunk", "--rootfs", root, $"oci:{outDir}:2", "--format-version", "2", "--json").Ok("rechunk with a WAL")).RootElement;
        Assert.Equal(1, walJson.GetProperty("packages").GetInt32());

        // A database that is not one is refused, naming it, and nothing is written.
        File.WriteAllText(db, "not sqlite");
        File.Delete(db + "-wal");
        var refused = Tools.Ours("container", "rechunk", "--rootfs", root, $"oci:{outDir}:3", "--format-version", "2");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("usr/lib/sysimage/rpm/rpmdb.sqlite: not an SQLite 3 database", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ref.name\":\"3\"", File.ReadAllText(Path.Combine(outDir, "index.json")), StringComparison.Ordinal);
    }

    private static string[] OursCommand(params string[] args) => [.. Tools.OursArgv, .. args];

    private static class Objects
    {
        public static (ulong, ulong) Native(string path)
        {
            var st = OstreeSharp.Internal.Native.LStat(path);
            return (st.Device, st.Inode);
        }
    }
}
