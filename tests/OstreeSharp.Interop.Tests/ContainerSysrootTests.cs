using System.Text.Json;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.Store;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Interop.Tests;

/// <summary>Hosts deployed from container images: deploy, upgrade, switch, rollback, prune-images.</summary>
[Collection("registries")]
public sealed class ContainerSysrootTests(RegistryFixture registries) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Build(int build, string reference)
    {
        var repo = _tmp["build"];
        if (!Directory.Exists(repo))
        {
            Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init build repo");
        }

        SysrootTests.WriteOsTree(_tmp["tree"], build);
        var commit = Tools.Ours("commit", "--repo=" + repo, "--branch=exampleos/stable", "--tree=dir=" + _tmp["tree"], "--owner-uid=0", "--owner-gid=0",
            "--bootable", $"--subject=Example OS build {build}", $"--add-metadata-string=version={build}.0", $"--timestamp=@{1700000000 + (build * 86400)}").Ok("commit");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--tls-verify=false", "exampleos/stable", reference).Ok("encapsulate");
        return commit;
    }

    /// <summary>Which build a deployment runs, from the fake shell it ships.</summary>
    private static int BuildOf(OstreeSysroot s, int index) =>
        int.Parse(File.ReadAllText(Path.Combine(s.DeploymentPath(s.Deployments[index]), "usr/bin/sh")).Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_host_deploys_upgrades_rolls_back_and_prunes_images_from_a_registry()
    {
        var image = $"{registries.Plain.Address}/hosts/exampleos:stable";
        var imgref = "ostree-unverified-registry:" + image;
        var rev1 = Build(1, "docker://" + image);
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", "--modern", sr).Ok("init-fs");
        var deployed = Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=exampleos", "--imgref=" + imgref, "--karg=root=LABEL=root", "--tls-verify=false").Ok("container image deploy");
        Assert.Contains("Deployed: exampleos", deployed, StringComparison.Ordinal);
        var s = OstreeSysroot.Open(sr);
        var first = Assert.Single(s.Deployments);
        Assert.Equal(imgref, first.ContainerImageReference);
        Assert.Equal("root=LABEL=root ostree=/ostree/boot.1/exampleos/" + first.BootChecksum + "/0", first.Options);
        Assert.Contains("origin: <unknown origin type>", Tools.Ostree("admin", "status", "--sysroot=" + sr).Ok("ostree admin status"), StringComparison.Ordinal);

        // A local change to /etc, then a newer image: upgrade fetches and deploys it, keeping the change.
        File.AppendAllText(Path.Combine(s.DeploymentPath(first), "etc/passwd"), "alice:x:1000:1000::/var/home/alice:/bin/sh\n");
        Assert.Equal(77, Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--check", "--tls-verify=false").ExitCode);
        var rev2 = Build(2, "docker://" + image);
        Assert.Contains("Update available", Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--check", "--tls-verify=false").Ok("upgrade --check"), StringComparison.Ordinal);
        Assert.Single(OstreeSysroot.Open(sr).Deployments);
        var upgraded = Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--tls-verify=false").Ok("upgrade");
        Assert.Contains("Copying /etc changes: 1 modified, 0 removed, 0 added", upgraded, StringComparison.Ordinal);
        s = OstreeSysroot.Open(sr);
        Assert.Equal(2, s.Deployments.Count);
        Assert.Equal(2, BuildOf(s, 0));
        Assert.Equal(1, BuildOf(s, 1));
        Assert.Contains("alice", File.ReadAllText(Path.Combine(s.DeploymentPath(s.Deployments[0]), "etc/passwd")), StringComparison.Ordinal);
        Assert.Contains("VERSION_ID=2", File.ReadAllText(Path.Combine(s.DeploymentPath(s.Deployments[0]), "etc/os-release")), StringComparison.Ordinal);
        Assert.Equal("No update available.", Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--tls-verify=false").Ok("upgrade again").Split('\n')[^1]);

        // Another image in the store, not deployed: prune-images removes it and keeps both deployed commits.
        var other = $"{registries.Plain.Address}/hosts/other:1";
        Build(3, "docker://" + other);
        Tools.Ours("container", "image", "pull", "--tls-verify=false", Path.Combine(sr, "ostree/repo"), "ostree-unverified-registry:" + other).Ok("pull another image");
        var pruned = Tools.Ours("container", "image", "prune-images", "--sysroot=" + sr, "--full").Ok("prune-images");
        Assert.Contains("Removed image: docker://" + other, pruned, StringComparison.Ordinal);
        var remaining = Tools.Ours("container", "image", "list", "--repo=" + Path.Combine(sr, "ostree/repo")).Ok("list");
        Assert.Equal("docker://" + image, remaining);
        Tools.Ostree("fsck", "--repo=" + Path.Combine(sr, "ostree/repo")).Ok("fsck after prune-images");

        // Rollback: the previous image's deployment boots first again, and its files are all still there.
        Tools.Ours("admin", "rollback", "--sysroot=" + sr).Ok("rollback");
        s = OstreeSysroot.Open(sr);
        Assert.Equal(1, BuildOf(s, 0));
        Assert.True(File.Exists(Path.Combine(s.DeploymentPath(s.Deployments[0]), "usr/bin/sh")));
        _ = rev1;
        _ = rev2;
    }

    [Fact]
    public async Task The_bootc_host_object_of_a_host_validates_against_the_schema()
    {
        var image = $"{registries.Plain.Address}/hosts/bootcstatus:stable";
        var imgref = "ostree-unverified-registry:" + image;
        Build(1, "docker://" + image);
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", "--modern", sr).Ok("init-fs");
        Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=exampleos", "--imgref=" + imgref, "--karg=root=LABEL=root", "--tls-verify=false").Ok("container image deploy");
        Build(2, "docker://" + image);
        Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--tls-verify=false").Ok("upgrade");
        Tools.Ours("admin", "pin", "--sysroot=" + sr, "1").Ok("pin the rollback");
        var s = OstreeSysroot.Open(sr);
        s.Load();
        var (newest, oldest) = (s.Deployments[0], s.Deployments[1]);
        var stored = new OstreeSharp.Containers.Store.ImageStore(s.Repo).Query(Containers.References.ImageReference.Parse("docker://" + image))!;

        // Seen from the newest deployment (as if booted): it is booted, the older one the rollback, pinned.
        var json = OstreeSharp.Containers.Host.BootcHost.ToCanonicalJson(OstreeSharp.Containers.Host.BootcHost.Build(s, newest));
        var host = BootcSchema.AssertValid(json, "the host seen from the newest deployment");
        var booted = host.GetProperty("status").GetProperty("booted");
        Assert.Equal(newest.Commit.ToHex(), booted.GetProperty("ostree").GetProperty("checksum").GetString());
        Assert.Equal("exampleos", booted.GetProperty("ostree").GetProperty("stateroot").GetString());
        Assert.Equal(image, booted.GetProperty("image").GetProperty("image").GetProperty("image").GetString());
        Assert.Equal("registry", booted.GetProperty("image").GetProperty("image").GetProperty("transport").GetString());
        Assert.Equal(stored.ManifestDigest.ToString(), booted.GetProperty("image").GetProperty("imageDigest").GetString());
        Assert.Equal("2.0", booted.GetProperty("image").GetProperty("version").GetString());
        Assert.Equal("amd64", booted.GetProperty("image").GetProperty("architecture").GetString());
        Assert.Equal("bootcHost", host.GetProperty("status").GetProperty("type").GetString());
        Assert.Equal("default", host.GetProperty("spec").GetProperty("bootOrder").GetString());
        Assert.Equal(image, host.GetProperty("spec").GetProperty("image").GetProperty("image").GetString());
        Assert.False(host.GetProperty("spec").GetProperty("image").TryGetProperty("signature", out _));
        var rollback = host.GetProperty("status").GetProperty("rollback");
        Assert.Equal(oldest.Commit.ToHex(), rollback.GetProperty("ostree").GetProperty("checksum").GetString());
        Assert.True(rollback.GetProperty("pinned").GetBoolean());
        Assert.NotEqual(booted.GetProperty("image").GetProperty("imageDigest").GetString(), rollback.GetProperty("image").GetProperty("imageDigest").GetString());
        // (canonical JSON: members sorted, no spaces)
        Assert.StartsWith("{\"apiVersion\":\"org.containers.bootc/v1\",\"kind\":\"BootcHost\",\"metadata\":{\"name\":\"host\"},\"spec\":{\"bootOrder\"", json, StringComparison.Ordinal);

        // Seen from the older one: the newer deployment is first in the boot order, so a rollback is queued.
        host = BootcSchema.AssertValid(OstreeSharp.Containers.Host.BootcHost.ToCanonicalJson(OstreeSharp.Containers.Host.BootcHost.Build(s, oldest)), "the host seen from the older deployment");
        Assert.True(host.GetProperty("status").GetProperty("rollbackQueued").GetBoolean());
        Assert.Equal("rollback", host.GetProperty("spec").GetProperty("bootOrder").GetString());

        // admin unlock needs the booted deployment, as ostree says (both versions); bootc's verbs need a booted host.
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
            {
                var r = run(["admin", "unlock", "--sysroot=" + sr, "--hotfix", "--transient"]);
                Assert.True(r.ExitCode != 0 && r.Stderr.TrimEnd().EndsWith("error: Not currently booted into an OSTree system", StringComparison.Ordinal), $"{tool} {peer}: {r.Stderr}");
            }
        }

        // A newer image found by a check (manifest and config only) is the booted entry's cached update, until pulled.
        Build(3, "docker://" + image);
        var store = new OstreeSharp.Containers.Store.ImageStore(s.Repo, new() { Registry = new Containers.Registry.RegistryOptions { TlsVerify = false } });
        await using var check = await store.PrepareAsync(Containers.References.OstreeImageReference.Parse(imgref));
        Assert.False(check.AlreadyPresent);
        Assert.True(store.RecordCachedUpdate(check));
        host = BootcSchema.AssertValid(OstreeSharp.Containers.Host.BootcHost.ToCanonicalJson(OstreeSharp.Containers.Host.BootcHost.Build(s, newest)), "the host with a cached update");
        var cached = host.GetProperty("status").GetProperty("booted").GetProperty("cachedUpdate");
        Assert.Equal(check.ManifestDigest.ToString(), cached.GetProperty("imageDigest").GetString());
        Assert.Equal("3.0", cached.GetProperty("version").GetString());
        Assert.Equal(JsonValueKind.Null, host.GetProperty("status").GetProperty("rollback").GetProperty("cachedUpdate").ValueKind);

        // Not booted at all: the empty object, valid too.
        BootcSchema.AssertValid(OstreeSharp.Containers.Host.BootcHost.ToCanonicalJson(OstreeSharp.Containers.Host.BootcHost.Empty()), "the empty host");
    }

    [Fact]
    public void Switch_moves_a_host_to_another_image_and_the_origin_follows()
    {
        var layout = _tmp["layout"];
        Build(1, $"oci:{layout}:v1");
        Build(2, $"oci:{layout}:v2");
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=exampleos", $"--imgref=ostree-unverified-image:oci:{layout}:v1").Ok("deploy v1");
        Tools.Ours("admin", "switch", "--sysroot=" + sr, $"ostree-unverified-image:oci:{layout}:v2").Ok("switch to v2");
        var s = OstreeSysroot.Open(sr);
        Assert.Equal($"ostree-unverified-image:oci:{layout}:v2", s.Deployments[0].ContainerImageReference);
        Assert.Equal($"ostree-unverified-image:oci:{layout}:v1", s.Deployments[1].ContainerImageReference);
        Assert.Equal(2, BuildOf(s, 0));

        // Pruning keeps both images: each is named by a deployment.
        var pruned = Tools.Ours("container", "image", "prune-images", "--sysroot=" + sr).Ok("prune-images");
        Assert.Contains("Removed images: 0", pruned, StringComparison.Ordinal);
        Tools.Ours("admin", "undeploy", "--sysroot=" + sr, "1").Ok("undeploy v1");
        pruned = Tools.Ours("container", "image", "prune-images", "--sysroot=" + sr).Ok("prune-images");
        Assert.Contains($"Removed image: oci:{layout}:v1", pruned, StringComparison.Ordinal);
    }

    [Fact]
    public void Deploy_takes_image_and_transport_and_enforces_the_policy_only_when_asked_as_ostree_ext_does()
    {
        var layout = _tmp["layout"];
        Build(1, $"oci:{layout}:v1");
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        var reject = _tmp["reject.json"];
        File.WriteAllText(reject, """{"default":[{"type":"reject"}]}""");

        // Enforced: the policy rejects the image before anything is imported.
        var refused = Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=exampleos", "--image", $"{layout}:v1", "--transport", "oci", "--enforce-container-sigpolicy", "--policy", reject);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains($"Source image rejected: Running image oci:{layout}:v1 is rejected by policy.", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(OstreeSysroot.Open(sr).Deployments);

        // Not enforced: unverified, as ostree-ext defaults (the policy still applies, and this one accepts oci:).
        var accept = _tmp["accept.json"];
        File.WriteAllText(accept, """{"default":[{"type":"reject"}],"transports":{"oci":{"":[{"type":"insecureAcceptAnything"}]}}}""");
        var idFile = _tmp["commitid"];
        Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--stateroot=exampleos", "--image", $"{layout}:v1", "--transport", "oci", "--policy", accept, "--write-commitid-to", idFile).Ok("deploy --image");
        var s = OstreeSysroot.Open(sr);
        Assert.Equal($"ostree-unverified-image:oci:{layout}:v1", s.Deployments[0].ContainerImageReference);
        Assert.Equal(s.Deployments[0].Commit.ToString(), File.ReadAllText(idFile));

        var both = Tools.Ours("container", "image", "deploy", "--sysroot=" + sr, "--image", "x", $"--imgref=ostree-unverified-image:oci:{layout}:v1");
        Assert.Contains("--imgref and --image cannot be used together", both.Stderr, StringComparison.Ordinal);
    }
}
