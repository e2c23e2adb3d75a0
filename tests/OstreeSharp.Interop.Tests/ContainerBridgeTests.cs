using System.Text.Json;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Interop.Tests;

/// <summary>ostree commits as container images: encapsulate, push, pull back, verify.</summary>
[Collection("registries")]
public sealed class ContainerBridgeTests(RegistryFixture registries) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Commit(string repo, string mode = "archive")
    {
        TestTrees.WriteTricky(_tmp["tree"], withOwners: false);
        Directory.CreateDirectory(_tmp["tree/usr/etc"]);
        File.WriteAllText(_tmp["tree/usr/etc/os-release"], "ID=test\n");
        Tools.Ours("init", "--repo=" + repo, "--mode=" + mode).Ok("init");
        return Tools.Ours("commit", "--repo=" + repo, "-b", "os/stable", "-s", "Test OS 1", "--add-metadata-string=version=1.0", "--timestamp=2024-03-01", _tmp["tree"]).Ok("commit");
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("zstd")]
    public void Encapsulated_commits_round_trip_through_a_registry_with_the_same_checksum(string compression)
    {
        var src = _tmp["src"];
        var commit = Commit(src);
        var reference = $"docker://{registries.Plain.Address}/bridge/os-{compression}:1.0";
        var digest = Tools.Ours("container", "encapsulate", "--repo=" + src, "--compression=" + compression, "--label", "org.example.team=os", "--tls-verify=false", "os/stable", reference).Ok("encapsulate to the registry");
        Assert.StartsWith("sha256:", digest, StringComparison.Ordinal);

        // Any container tool sees an ordinary image with our labels.
        using (var inspect = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--tls-verify=false", reference]).Ok("skopeo inspect")))
        {
            var labels = inspect.RootElement.GetProperty("Labels");
            Assert.Equal(commit, labels.GetProperty("ostree.commit").GetString());
            Assert.Equal("1.0", labels.GetProperty("org.opencontainers.image.version").GetString());
            Assert.Equal("os", labels.GetProperty("org.example.team").GetString());
            Assert.StartsWith("sha256:", labels.GetProperty("ostree.final-diffid").GetString(), StringComparison.Ordinal);
            Assert.Equal(digest, inspect.RootElement.GetProperty("Digest").GetString());
        }

        var dest = _tmp["dest"];
        Tools.Ours("init", "--repo=" + dest, "--mode=bare-user").Ok("init dest");
        var imported = Tools.Ours("container", "unencapsulate", "--repo=" + dest, "--tls-verify=false", "--write-ref=os/pulled", $"ostree-unverified-registry:{registries.Plain.Address}/bridge/os-{compression}:1.0").Ok("unencapsulate");
        Assert.Equal($"Imported: os/pulled => {commit}", imported);
        Tools.Ostree("fsck", "--repo=" + dest).Ok("ostree fsck of the pulled repository");
        Assert.Equal(commit, Tools.Ostree("rev-parse", "--repo=" + dest, "os/pulled").Ok("rev-parse"));
    }

    [Fact]
    public void The_image_unpacks_as_a_container_and_is_reproducible()
    {
        var src = _tmp["src"];
        var commit = Commit(src);
        var first = Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["a"]}:v1").Ok("encapsulate");
        var second = Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["b"]}:v1").Ok("encapsulate again");
        Assert.Equal(first, second);
        Tools.Run("umoci", ["unpack", "--rootless", "--image", _tmp["a"] + ":v1", _tmp["bundle"]]).Ok("umoci unpack");
        var rootfs = _tmp["bundle/rootfs"];
        Assert.Equal("ID=test\n", File.ReadAllText(Path.Combine(rootfs, "etc/os-release")));
        Assert.True(Directory.Exists(Path.Combine(rootfs, "sysroot/ostree/repo/objects")));
        Tools.Ostree("fsck", "--repo=" + Path.Combine(rootfs, "sysroot/ostree/repo")).Ok("the embedded repository is valid");
        Tools.Ostree("checkout", "--repo=" + src, "-U", commit, _tmp["checkout"]).Ok("checkout");
        // usr/etc is shown as /etc, as ostree-ext lays it out.
        var expected = Tools.Describe(_tmp["checkout/usr"], owners: false, xattrs: false);
        var actual = Tools.Describe(Path.Combine(rootfs, "usr"), owners: false, xattrs: false);
        Assert.Equal(expected.Keys.Where(k => !k.StartsWith("/etc", StringComparison.Ordinal)), actual.Keys);
        Assert.Equal(expected.Where(e => e.Key.StartsWith("/etc/", StringComparison.Ordinal)).Select(e => (e.Key[4..], e.Value)), Tools.Describe(Path.Combine(rootfs, "etc"), owners: false, xattrs: false).Select(e => (e.Key, e.Value)));
    }

    [Fact]
    public void Ostree_remote_references_verify_the_commit_signature_before_importing()
    {
        var src = _tmp["src"];
        var commit = Commit(src);
        var key = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Range(40, 32).Select(i => (byte)i).ToArray());
        var stranger = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Range(80, 32).Select(i => (byte)i).ToArray());
        Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["unsigned"]}:v1").Ok("unsigned image");
        Tools.Ours("sign", "--repo=" + src, commit, key.Base64).Ok("sign");
        Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["signed"]}:v1").Ok("signed image");
        Tools.Ours("sign", "--repo=" + src, "--delete", commit, key.PublicKey.Base64).Ok("unsign");
        Tools.Ours("sign", "--repo=" + src, commit, stranger.Base64).Ok("sign with another key");
        Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["wrongkey"]}:v1").Ok("image signed by a stranger");

        var dest = _tmp["dest"];
        Tools.Ours("init", "--repo=" + dest, "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + dest, "--no-gpg-verify", "--sign-verify=ed25519=inline:" + key.PublicKey.Base64, "os", "https://example.invalid/repo").Ok("remote add");

        foreach (var (image, why) in new[] { ("unsigned", "Expected commitmeta object"), ("wrongkey", string.Empty) })
        {
            var refused = Tools.Ours("container", "unencapsulate", "--repo=" + dest, "--write-ref=bad", $"ostree-remote-image:os:oci:{_tmp[image]}:v1");
            Assert.Equal(1, refused.ExitCode);
            var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
            Assert.Contains("Using remote os for verification", line, StringComparison.Ordinal);
            Assert.Contains(why, line, StringComparison.OrdinalIgnoreCase);
            Assert.Empty(Tools.Ours("refs", "--repo=" + dest).Ok("refs"));
            Assert.NotEqual(0, Tools.Ostree("show", "--repo=" + dest, commit).ExitCode);
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(dest, "objects"), "*", SearchOption.AllDirectories));
        }

        Assert.Equal($"Imported: {commit}", Tools.Ours("container", "unencapsulate", "--repo=" + dest, $"ostree-remote-image:os:oci:{_tmp["signed"]}:v1").Ok("signed image accepted"));
        Tools.Ostree("fsck", "--repo=" + dest).Ok("fsck");

        // Re-signing an image without re-encapsulating it: the good signature goes into the unsigned image.
        Tools.Ours("sign", "--repo=" + src, "--delete", commit, stranger.PublicKey.Base64).Ok("unsign stranger");
        Tools.Ours("sign", "--repo=" + src, commit, key.Base64).Ok("sign again");
        var commitmeta = Path.Combine(src, "objects", commit[..2], commit[2..] + ".commitmeta");
        Assert.StartsWith("Pushed: sha256:", Tools.Ours("container", "image", "replace-detached-metadata", "--src", $"oci:{_tmp["unsigned"]}:v1", "--dest", $"oci:{_tmp["resigned"]}:v1", commitmeta).Ok("replace-detached-metadata"), StringComparison.Ordinal);
        var dest2 = _tmp["dest2"];
        Tools.Ours("init", "--repo=" + dest2, "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + dest2, "--no-gpg-verify", "--sign-verify=ed25519=inline:" + key.PublicKey.Base64, "os", "https://example.invalid/repo").Ok("remote add");
        Assert.Equal($"Imported: {commit}", Tools.Ours("container", "unencapsulate", "--repo=" + dest2, $"ostree-remote-image:os:oci:{_tmp["resigned"]}:v1").Ok("re-signed image accepted"));
        // A tampered signature byte: refused as a bad signature.
        var tampered = File.ReadAllBytes(commitmeta);
        tampered[^20] ^= 0x01;
        File.WriteAllBytes(_tmp["tampered.commitmeta"], tampered);
        Tools.Ours("container", "image", "replace-detached-metadata", "--src", $"oci:{_tmp["unsigned"]}:v1", "--dest", $"oci:{_tmp["tampered"]}:v1", _tmp["tampered.commitmeta"]).Ok("tampered signature");
        var bad = Tools.Ours("container", "unencapsulate", "--repo=" + dest2, "--write-ref=t", $"ostree-remote-image:os:oci:{_tmp["tampered"]}:v1");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("Using remote os for verification", bad.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("ostree/container", Tools.Ours("refs", "--repo=" + dest2).Ok("refs"), StringComparison.Ordinal);
        Tools.Ours("container", "image", "replace-detached-metadata", "--src", $"oci:{_tmp["resigned"]}:v1", "--dest", $"oci:{_tmp["stripped"]}:v1").Ok("strip signatures");
        Assert.Equal(1, Tools.Ours("container", "unencapsulate", "--repo=" + dest2, $"ostree-remote-image:os:oci:{_tmp["stripped"]}:v1").ExitCode);
        Assert.Equal($"Imported: {commit}", Tools.Ours("container", "unencapsulate", "--repo=" + dest2, $"ostree-unverified-image:oci:{_tmp["stripped"]}:v1").Ok("stripped image still holds the commit"));
    }

    [Fact]
    public void Images_that_are_not_ostree_images_or_are_damaged_give_one_clear_error()
    {
        var dest = _tmp["dest"];
        Tools.Ours("init", "--repo=" + dest, "--mode=archive").Ok("init");
        OstreeSharp.TestSupport.TestImages.WriteSmallLayout(_tmp["plain"], "v1");
        var plain = Tools.Ours("container", "unencapsulate", "--repo=" + dest, $"ostree-unverified-image:oci:{_tmp["plain"]}:v1");
        Assert.Contains("No ostree.final-diffid label found, not an ostree encapsulated container", plain.Stderr, StringComparison.Ordinal);

        var src = _tmp["src"];
        Commit(src);
        Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["img"]}:v1").Ok("encapsulate");
        using var index = JsonDocument.Parse(File.ReadAllText(_tmp["img/index.json"]));
        var manifestDigest = Digest.Parse(index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!);
        var manifest = JsonSerializer.Deserialize(File.ReadAllBytes(_tmp["img/blobs/sha256/" + manifestDigest.Hex]), OciJsonContext.Default.ImageManifest)!;
        var layerPath = _tmp["img/blobs/sha256/" + manifest.Layers[0].GetDigest().Hex];
        var good = File.ReadAllBytes(layerPath);

        // A flipped byte: the digest check refuses it.
        var flipped = (byte[])good.Clone();
        flipped[flipped.Length / 2] ^= 0x40;
        File.WriteAllBytes(layerPath, flipped);
        var damaged = Tools.Ours("container", "unencapsulate", "--repo=" + dest, $"ostree-unverified-image:oci:{_tmp["img"]}:v1");
        Assert.Equal(1, damaged.ExitCode);
        Assert.Contains(manifest.Layers[0].Digest, damaged.Stderr, StringComparison.Ordinal);

        // Truncated: refused, and nothing is left in the repository.
        File.WriteAllBytes(layerPath, good[..(good.Length / 3)]);
        var truncated = Tools.Ours("container", "unencapsulate", "--repo=" + dest, "--write-ref=x", $"ostree-unverified-image:oci:{_tmp["img"]}:v1");
        Assert.Equal(1, truncated.ExitCode);
        Assert.Single(truncated.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(dest, "objects"), "*", SearchOption.AllDirectories));
        Assert.Empty(Tools.Ours("refs", "--repo=" + dest).Ok("refs"));
        File.WriteAllBytes(layerPath, good);
        Tools.Ours("container", "unencapsulate", "--repo=" + dest, $"ostree-unverified-image:oci:{_tmp["img"]}:v1").Ok("the intact image imports");
    }

    [Fact]
    public void Ostree_image_signed_refuses_an_accept_anything_policy()
    {
        var src = _tmp["src"];
        Commit(src);
        Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{_tmp["img"]}:v1").Ok("encapsulate");
        Directory.CreateDirectory(_tmp["home/.config/containers"]);
        File.WriteAllText(_tmp["home/.config/containers/policy.json"], """{"default":[{"type":"insecureAcceptAnything"}]}""");
        var refused = Tools.OursEnv(new Dictionary<string, string> { ["HOME"] = _tmp["home"] }, "container", "unencapsulate", "--repo=" + src, $"ostree-image-signed:oci:{_tmp["img"]}:v1");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage", refused.Stderr, StringComparison.Ordinal);
        File.WriteAllText(_tmp["home/.config/containers/policy.json"], """{"default":[{"type":"reject"}],"transports":{"oci":{"":[{"type":"insecureAcceptAnything"}]}}}""");
        Tools.OursEnv(new Dictionary<string, string> { ["HOME"] = _tmp["home"] }, "container", "unencapsulate", "--repo=" + src, $"ostree-image-signed:oci:{_tmp["img"]}:v1").Ok("a policy that is not accept-anything");
    }

    [Fact]
    public void The_image_store_pulls_only_what_changed_and_collects_old_layers()
    {
        var src = _tmp["src"];
        var v1 = Commit(src);
        var name = $"{registries.Plain.Address}/bridge/store:stable";
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--tls-verify=false", "os/stable", "docker://" + name).Ok("encapsulate v1");
        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init host");
        var imgref = "ostree-unverified-registry:" + name;

        var first = Tools.Ours("container", "image", "pull", host, imgref, "--tls-verify=false").Ok("pull v1");
        Assert.Contains("layers already present: 0; layers needed: 1", first, StringComparison.Ordinal);
        var merge1 = first.Split('\n')[^1].Split(" => ")[1];
        Assert.Equal($"No changes in docker://{name} => {merge1}", Tools.Ours("container", "image", "pull", host, imgref, "--tls-verify=false").Ok("pull again"));
        Assert.Equal($"docker://{name}", Tools.Ours("container", "image", "list", "--repo=" + host).Ok("list"));
        var refs = Tools.Ours("refs", "--repo=" + host).Ok("refs").Split('\n');
        Assert.Contains("ostree/container/image/docker_3A__2F__2F_127_2E_0_2E_0_2E_1_3A_" + registries.Plain.Port + "/bridge/store_3A_stable", refs);
        var blobRef = Assert.Single(refs, r => r.StartsWith("ostree/container/blob/sha256_3A_", StringComparison.Ordinal));
        Assert.Equal(v1, Tools.Ostree("rev-parse", "--repo=" + host, blobRef).Ok("the layer ref is the ostree commit"));
        Tools.Ostree("fsck", "--repo=" + host).Ok("fsck");

        using (var manifest = JsonDocument.Parse(Tools.Ours("container", "image", "metadata", "--repo=" + host, "docker://" + name).Ok("metadata")))
        {
            Assert.Single(manifest.RootElement.GetProperty("layers").EnumerateArray());
        }

        Assert.Contains("Test OS 1", Tools.Ours("container", "image", "history", "--repo=" + host, "docker://" + name).Ok("history"), StringComparison.Ordinal);
        var mergeMeta = Tools.Ostree("show", "--repo=" + host, "--print-metadata-key=ostree.manifest-digest", merge1).Ok("merge metadata");
        Assert.StartsWith("'sha256:", mergeMeta, StringComparison.Ordinal);

        // A new build under the same tag: the new layer is fetched, the old layer ref is collected.
        File.WriteAllText(_tmp["tree/usr/etc/os-release"], "ID=test\nVERSION=2\n");
        var v2 = Tools.Ours("commit", "--repo=" + src, "-b", "os/stable", "-s", "Test OS 2", "--timestamp=2024-04-01", _tmp["tree"]).Ok("commit v2");
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--tls-verify=false", "os/stable", "docker://" + name).Ok("encapsulate v2");
        Assert.Contains("Removed layers:   0     Size: 0 bytes", Tools.Ours("container", "compare", "--tls-verify=false", imgref, imgref).Ok("compare"), StringComparison.Ordinal);
        Assert.StartsWith($"{imgref} digest: sha256:", Tools.Ours("container", "info", "--tls-verify=false", imgref).Ok("info"), StringComparison.Ordinal);
        var checkFile = _tmp["new-manifest.json"];
        var checkOut = Tools.Ours("container", "image", "pull", host, imgref, "--tls-verify=false", "--check", checkFile).Ok("pull --check");
        Assert.Contains("Added layers:     1", checkOut, StringComparison.Ordinal);
        Assert.True(File.Exists(checkFile));
        Assert.Equal(merge1, Tools.Ours("rev-parse", "--repo=" + host, "ostree/container/image/docker_3A__2F__2F_127_2E_0_2E_0_2E_1_3A_" + registries.Plain.Port + "/bridge/store_3A_stable").Ok("unchanged by --check"));
        var second = Tools.Ours("container", "image", "pull", host, imgref, "--tls-verify=false").Ok("pull v2");
        Assert.Contains("layers needed: 1", second, StringComparison.Ordinal);
        var newBlob = Assert.Single(Tools.Ours("refs", "--repo=" + host).Ok("refs").Split('\n'), r => r.StartsWith("ostree/container/blob/", StringComparison.Ordinal));
        Assert.NotEqual(blobRef, newBlob);
        Assert.Equal(v2, Tools.Ostree("rev-parse", "--repo=" + host, newBlob).Ok("new layer"));

        var mirror = _tmp["mirror"];
        Tools.Ours("init", "--repo=" + mirror, "--mode=archive").Ok("init mirror");
        Tools.Ours("container", "image", "copy", "--src-repo=" + host, "--dest-repo=" + mirror, "docker://" + name, "--dest-imgref=oci:/srv/os:stable").Ok("image copy");
        Assert.Equal("oci:/srv/os:stable", Tools.Ours("container", "image", "list", "--repo=" + mirror).Ok("list mirror"));
        Tools.Ostree("fsck", "--repo=" + mirror).Ok("fsck mirror");
        Assert.Equal(v2, Tools.Ostree("rev-parse", "--repo=" + mirror, newBlob).Ok("layer copied"));

        Assert.Equal("Removed images: 1 layers: 1", Tools.Ours("container", "image", "remove", "--repo=" + host, "docker://" + name).Ok("remove"));
        Assert.Empty(Tools.Ours("refs", "--repo=" + host).Ok("refs after remove"));
        var missing = Tools.Ours("container", "image", "remove", "--repo=" + host, "docker://" + name);
        Assert.Contains("Missing images: docker://" + name, missing.Stderr, StringComparison.Ordinal);
        Assert.Equal("Removed layers: 0", Tools.Ours("container", "image", "prune-layers", "--repo=" + host).Ok("prune-layers"));
    }

    [Fact]
    public void A_derived_layer_is_filtered_and_merged_with_whiteouts()
    {
        // Base: an ostree image.
        var tree = _tmp["base"];
        foreach (var (path, text) in new[] { ("usr/bin/tool", "tool"), ("usr/bin/gone", "gone"), ("usr/share/doc/a", "a"), ("usr/share/doc/b", "b"), ("usr/etc/os-release", "ID=base\n") })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tree, path))!);
            File.WriteAllText(Path.Combine(tree, path), text);
        }

        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        var baseCommit = Tools.Ours("commit", "--repo=" + src, "-b", "base", "-s", "base", tree).Ok("commit base");
        var layout = _tmp["layout"];
        Tools.Ours("container", "encapsulate", "--repo=" + src, "base", $"oci:{layout}:base").Ok("encapsulate");

        // Derived: one more layer, as a Containerfile build would add it.
        var (gz, diffId) = DerivedLayer(
        [
            ("etc/", null), ("etc/motd", "hello\n"), ("usr/", null), ("usr/bin/", null), ("usr/bin/.wh.gone", string.Empty),
            ("usr/share/", null), ("usr/share/doc/", null), ("usr/share/doc/.wh..wh..opq", string.Empty), ("usr/share/doc/new", "new"),
            ("opt/", null), ("opt/app", "x"), ("run/", null), ("run/pidfile", "1"), ("usr/bin/tool", "tool v2"),
        ]);
        OstreeSharp.TestSupport.TestImages.AddLayer(layout, "base", "derived", gz, diffId);

        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init host");
        var refused = Tools.Ours("container", "unencapsulate", "--repo=" + host, $"ostree-unverified-image:oci:{layout}:derived");
        Assert.Contains("Image has 1 non-ostree layers", refused.Stderr, StringComparison.Ordinal);

        var pulled = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:derived").Ok("pull the derived image");
        Assert.Contains("layers already present: 0; layers needed: 2", pulled, StringComparison.Ordinal);
        Assert.Contains("Image contains non-ostree compatible file paths: opt: 2 pidfile: 1", pulled, StringComparison.Ordinal);
        var merge = pulled.Split('\n')[^1].Split(" => ")[1];
        Tools.Ostree("checkout", "--repo=" + host, "-U", merge, _tmp["merged"]).Ok("checkout merge commit");
        var merged = _tmp["merged"];
        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(merged, "usr/etc/motd")));
        Assert.Equal("ID=base\n", File.ReadAllText(Path.Combine(merged, "usr/etc/os-release")));
        Assert.Equal("tool v2", File.ReadAllText(Path.Combine(merged, "usr/bin/tool")));
        Assert.False(File.Exists(Path.Combine(merged, "usr/bin/gone")));
        Assert.False(File.Exists(Path.Combine(merged, "usr/bin/.wh.gone")));
        Assert.Equal(["new"], Directory.GetFileSystemEntries(Path.Combine(merged, "usr/share/doc")).Select(Path.GetFileName));
        Assert.False(Directory.Exists(Path.Combine(merged, "opt")));
        // What was dropped is reported, not recorded: the merge commit is the same on every host (as ostree-ext's).
        Assert.Equal(1, Tools.Ostree("show", "--repo=" + host, "--print-metadata-key=ostree.tar-filtered", merge).ExitCode);
        var refs = Tools.Ours("refs", "--repo=" + host).Ok("refs").Split('\n');
        Assert.Equal(2, refs.Count(r => r.StartsWith("ostree/container/blob/", StringComparison.Ordinal)));
        Assert.Equal(baseCommit, Tools.Ostree("rev-parse", "--repo=" + host, "ostree/container/blob/" + OstreeSharp.Containers.Store.RefEscape.Escape(Tools.Ours("container", "image", "metadata", "--repo=" + host, $"oci:{layout}:derived").Ok("metadata").Split("\"digest\":\"")[2].Split('"')[0])).Ok("base layer ref"));
        Tools.Ostree("fsck", "--repo=" + host).Ok("fsck");
    }

    [Fact]
    public void Reexport_rebuilds_a_stored_image_that_pulls_back_to_the_same_tree()
    {
        var tree = _tmp["base"];
        for (int i = 0; i < 40; i++)
        {
            var p = Path.Combine(tree, $"usr/share/d{i % 7}/f{i}");
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllText(p, new string((char)('a' + (i % 26)), 100 + i));
        }

        Directory.CreateDirectory(Path.Combine(tree, "usr/etc"));
        File.WriteAllText(Path.Combine(tree, "usr/etc/os-release"), "ID=base\n");
        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + src, "-b", "base", "-s", "base", tree).Ok("commit base");
        var layout = _tmp["layout"];
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--max-layers=4", "base", $"oci:{layout}:base").Ok("encapsulate chunked");
        var (gz, diffId) = DerivedLayer([("etc/", null), ("etc/motd", "hello\n"), ("usr/", null), ("usr/share/", null), ("usr/share/d1/", null), ("usr/share/d1/.wh.f1", string.Empty)]);
        OstreeSharp.TestSupport.TestImages.AddLayer(layout, "base", "derived", gz, diffId);

        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init host");
        var merge = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:derived").Ok("pull").Split('\n')[^1].Split(" => ")[1];
        var exported = Tools.Ours("container", "image", "reexport", "--repo=" + host, $"oci:{layout}:derived", $"oci:{_tmp["out"]}:re").Ok("reexport");
        Assert.StartsWith("Exported: sha256:", exported, StringComparison.Ordinal);

        // The ostree and chunk layers are regenerated byte for byte; any container tool reads the result.
        using var original = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--raw", $"oci:{layout}:derived"]).Ok("inspect original"));
        using var again = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--raw", $"oci:{_tmp["out"]}:re"]).Ok("inspect reexport"));
        var before = original.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()).ToList();
        var after = again.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()).ToList();
        Assert.Equal(before.Count, after.Count);
        Assert.Equal(before.Take(before.Count - 1), after.Take(after.Count - 1));
        Assert.Equal("sha256:" + exported.Split(':')[^1], Tools.Run("skopeo", ["inspect", $"oci:{_tmp["out"]}:re", "--format", "{{.Digest}}"]).Ok("inspect digest"));

        var host2 = _tmp["host2"];
        Tools.Ours("init", "--repo=" + host2, "--mode=bare-user").Ok("init host2");
        var merge2 = Tools.Ours("container", "image", "pull", host2, $"ostree-unverified-image:oci:{_tmp["out"]}:re").Ok("pull reexport").Split('\n')[^1].Split(" => ")[1];
        Assert.Equal(
            Tools.Ostree("ls", "--repo=" + host, "-R", "-C", merge).Ok("ls original"),
            Tools.Ostree("ls", "--repo=" + host2, "-R", "-C", merge2).Ok("ls reexport"));
        Tools.Ostree("fsck", "--repo=" + host2).Ok("fsck");
    }

    internal static (byte[] Gz, Digest DiffId) DerivedLayer(IEnumerable<(string Path, string? Text)> entries)
    {
        using var tarBytes = new MemoryStream();
        using (var tar = new OstreeSharp.Tar.TarWriter(tarBytes, leaveOpen: true))
        {
            foreach (var (path, text) in entries)
            {
                if (text is null)
                {
                    tar.WriteEntry(new OstreeSharp.Tar.TarEntry { Name = path, Type = OstreeSharp.Tar.TarType.Directory, Mode = 0x1ed, Mtime = 1_700_000_000 });
                }
                else
                {
                    tar.WriteFile(new OstreeSharp.Tar.TarEntry { Name = path, Type = OstreeSharp.Tar.TarType.Regular, Mode = 0x1a4, Size = System.Text.Encoding.UTF8.GetByteCount(text), Mtime = 1_700_000_000 }, System.Text.Encoding.UTF8.GetBytes(text));
                }
            }

            tar.Finish();
        }

        var diff = Digest.Sha256(tarBytes.ToArray());
        using var gz = new MemoryStream();
        using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(tarBytes.ToArray());
        }

        return (gz.ToArray(), diff);
    }

    [Fact]
    public void Chunked_images_round_trip_and_an_update_fetches_only_the_changed_layers()
    {
        var tree = _tmp["chunky"];
        foreach (var folder in new[] { "usr/bin", "usr/lib/a", "usr/lib/b", "usr/share/doc", "usr/share/man", "usr/etc", "usr/libexec" })
        {
            Directory.CreateDirectory(Path.Combine(tree, folder));
            for (int i = 0; i < 5; i++)
            {
                File.WriteAllText(Path.Combine(tree, folder, $"f{i}"), $"{folder}/{i}\n" + new string('x', 2000 * (i + 1)));
            }
        }

        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        var v1 = Tools.Ours("commit", "--repo=" + src, "-b", "os", "-s", "v1", tree).Ok("commit v1");
        var name = $"{registries.Plain.Address}/bridge/chunked:stable";
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--max-layers=6", "--tls-verify=false", "os", "docker://" + name).Ok("encapsulate chunked");
        using (var inspect = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--tls-verify=false", "docker://" + name]).Ok("skopeo inspect")))
        {
            Assert.True(inspect.RootElement.GetProperty("Layers").GetArrayLength() > 2);
        }

        var fresh = _tmp["fresh"];
        Tools.Ours("init", "--repo=" + fresh, "--mode=bare-user").Ok("init fresh");
        Assert.Equal($"Imported: {v1}", Tools.Ours("container", "unencapsulate", "--repo=" + fresh, "--tls-verify=false", "ostree-unverified-registry:" + name).Ok("unencapsulate chunked"));
        Tools.Ostree("fsck", "--repo=" + fresh).Ok("fsck");

        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init host");
        var first = Tools.Ours("container", "image", "pull", host, "ostree-unverified-registry:" + name, "--tls-verify=false").Ok("pull v1");
        int layers = int.Parse(System.Text.RegularExpressions.Regex.Match(first, "layers needed: (\\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);

        File.AppendAllText(Path.Combine(tree, "usr/share/man/f2"), "changed\n");
        var v2 = Tools.Ours("commit", "--repo=" + src, "-b", "os", "-s", "v2", tree).Ok("commit v2");
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--max-layers=6", "--tls-verify=false", "os", "docker://" + name).Ok("encapsulate v2");
        var second = Tools.Ours("container", "image", "pull", host, "ostree-unverified-registry:" + name, "--tls-verify=false").Ok("pull v2");
        // The ostree layer (new commit) and the one chunk holding usr/share/man.
        Assert.Contains($"layers already present: {layers - 2}; layers needed: 2", second, StringComparison.Ordinal);
        var blobRefs = Tools.Ours("refs", "--repo=" + host).Ok("refs").Split('\n').Count(r => r.StartsWith("ostree/container/blob/", StringComparison.Ordinal));
        Assert.Equal(layers, blobRefs);
        var stored = Tools.Ours("container", "image", "metadata", "--repo=" + host, "docker://" + name).Ok("metadata");
        using var manifest = JsonDocument.Parse(stored);
        var baseLayer = manifest.RootElement.GetProperty("layers")[0].GetProperty("digest").GetString()!;
        Assert.Equal(v2, Tools.Ostree("rev-parse", "--repo=" + host, "ostree/container/blob/" + OstreeSharp.Containers.Store.RefEscape.Escape(baseLayer)).Ok("base ref"));
        Tools.Ostree("fsck", "--repo=" + host).Ok("fsck host");
    }

    [Fact]
    public void Content_metadata_puts_each_component_in_its_own_layer()
    {
        var src = _tmp["src"];
        var commit = Commit(src);
        // Every content object, by the folder of a path that uses it.
        var mapping = new Dictionary<string, string>();
        foreach (var line in Tools.Ostree("ls", "--repo=" + src, "-R", "-C", commit).Ok("ls").Split('\n'))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 6 && parts[0][0] is '-' or 'l')
            {
                var path = parts[^1].Split(" -> ")[0];
                if (parts[0][0] == 'l')
                {
                    path = parts[^3];
                }

                var key = path.StartsWith("/usr/etc", StringComparison.Ordinal) ? "config" : path.StartsWith("/usr", StringComparison.Ordinal) ? "usr" : "other";
                mapping.TryAdd(parts[4], key);
            }
        }

        var meta = _tmp["contentmeta.json"];
        File.WriteAllText(meta, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["version"] = 1,
            ["created"] = "2024-05-01T12:00:00Z",
            ["labels"] = new Dictionary<string, string> { ["com.example.x"] = "y" },
            ["layers"] = new Dictionary<string, string> { ["usr"] = "usr-things", ["config"] = "config-files", ["other"] = "everything-else" },
            ["mapping"] = mapping,
        }));
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--contentmeta=" + meta, "os/stable", $"oci:{_tmp["img"]}:v1").Ok("encapsulate with contentmeta");
        using (var config = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--config", $"oci:{_tmp["img"]}:v1"]).Ok("config")))
        {
            Assert.Equal("2024-05-01T12:00:00Z", config.RootElement.GetProperty("created").GetString());
            Assert.Equal("y", config.RootElement.GetProperty("config").GetProperty("Labels").GetProperty("com.example.x").GetString());
            Assert.Equal(["Test OS 1", "usr", "config", "other", "Reserved for new packages"], config.RootElement.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("created_by").GetString()));
        }

        using (var raw = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--raw", $"oci:{_tmp["img"]}:v1"]).Ok("raw")))
        {
            var layers = raw.RootElement.GetProperty("layers").EnumerateArray().ToList();
            Assert.Equal(5, layers.Count);
            Assert.Equal(["usr-things", "config-files", "everything-else", string.Empty], layers.Skip(1).Select(l => l.GetProperty("annotations").GetProperty("ostree.components").GetString()));
        }

        var dest = _tmp["dest"];
        Tools.Ours("init", "--repo=" + dest, "--mode=bare-user").Ok("init");
        Assert.Equal($"Imported: {commit}", Tools.Ours("container", "unencapsulate", "--repo=" + dest, $"ostree-unverified-image:oci:{_tmp["img"]}:v1").Ok("unencapsulate"));

        // Against the previous build, the layout is kept even when the keys come in another order.
        var firstRaw = Tools.Run("skopeo", ["inspect", "--raw", $"oci:{_tmp["img"]}:v1"]).Ok("raw v1");
        File.WriteAllText(_tmp["previous.json"], firstRaw);
        File.WriteAllText(meta, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["version"] = 1,
            ["layers"] = new Dictionary<string, string> { ["other"] = "everything-else", ["config"] = "config-files", ["usr"] = "usr-things" },
            ["mapping"] = mapping,
        }));
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--contentmeta=" + meta, "--previous-build-manifest=" + _tmp["previous.json"], "os/stable", $"oci:{_tmp["img2"]}:v1").Ok("encapsulate against the previous build");
        using (var a = JsonDocument.Parse(firstRaw))
        using (var b = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--raw", $"oci:{_tmp["img2"]}:v1"]).Ok("raw v2")))
        {
            var la = a.RootElement.GetProperty("layers").EnumerateArray().Skip(1).Select(l => l.GetProperty("digest").GetString()).ToList();
            var lb = b.RootElement.GetProperty("layers").EnumerateArray().Skip(1).Select(l => l.GetProperty("digest").GetString()).ToList();
            Assert.Equal(la, lb);
        }

        mapping.Remove(mapping.Keys.First());
        File.WriteAllText(meta, JsonSerializer.Serialize(new Dictionary<string, object> { ["version"] = 1, ["layers"] = new Dictionary<string, string> { ["usr"] = "a", ["config"] = "b", ["other"] = "c" }, ["mapping"] = mapping }));
        Assert.Contains("maps no layer for object", Tools.Ours("container", "encapsulate", "--repo=" + src, "--contentmeta=" + meta, "os/stable", $"oci:{_tmp["bad"]}:v1").Stderr, StringComparison.Ordinal);
        File.WriteAllText(meta, """{"version":2,"layers":{},"mapping":{}}""");
        Assert.Contains("Unsupported metadata version: 2. Currently supported: 1", Tools.Ours("container", "encapsulate", "--repo=" + src, "--contentmeta=" + meta, "os/stable", $"oci:{_tmp["bad"]}:v1").Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_derived_layer_with_a_hostile_path_is_refused_and_nothing_is_referenced()
    {
        var src = _tmp["src"];
        Commit(src);
        var layout = _tmp["layout"];
        Tools.Ours("container", "encapsulate", "--repo=" + src, "os/stable", $"oci:{layout}:base").Ok("encapsulate");
        var (gz, diffId) = DerivedLayer([("usr/", null), ("usr/../../etc/passwd", "root::0:0::/:/bin/sh\n")]);
        OstreeSharp.TestSupport.TestImages.AddLayer(layout, "base", "evil", gz, diffId);
        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init");
        var r = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:evil");
        Assert.Equal(1, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("usr/../../etc/passwd", line, StringComparison.Ordinal);
        Assert.Empty(Tools.Ours("refs", "--repo=" + host).Ok("refs"));
        Assert.False(File.Exists(Path.Combine(host, "..", "etc", "passwd")));
    }
}
