using OstreeSharp.TestSupport;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// registries.conf(5): mirrors (all pulls, digest-only), a registry that is down, insecure and blocked registries,
/// with skopeo 1.22 reading the same file (its hidden global --registries-conf) for the same decisions.
/// </summary>
[Collection("registries")]
public sealed class RegistriesConfInteropTests(RegistryFixture registries) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static string Skopeo => Path.Combine(ComposefsInteropTests.ForkyBin, "skopeo-forky");

    [Fact]
    public void Pulls_go_through_mirrors_when_the_registry_is_down_and_blocked_registries_are_refused()
    {
        var mirror = registries.Plain.Address;
        var down = "127.0.0.1:" + RegistryServer.FreePort(); // nothing listens there
        var layout = _tmp["layout"];
        var digest = TestImages.WriteSmallLayout(layout, "v1", files: 3, seed: 21);
        Tools.Ours("image", "copy", "--insecure-policy", "--tls-verify=false", $"oci:{layout}:v1", $"docker://{mirror}/mirrored/app:v1").Ok("push to the mirror");

        // No --tls-verify=false below: the mirror is plain HTTP, and registries.conf says it is insecure.
        var conf = _tmp["registries.conf"];
        File.WriteAllText(conf, $"""
            unqualified-search-registries = ["docker.io"]

            [[registry]]
            prefix = "{down}/app"
            location = "{down}/app"
            [[registry.mirror]]
            location = "{mirror}/mirrored/app"
            insecure = true

            [[registry]]
            prefix = "{down}/pinned"
            location = "{down}/pinned"
            [[registry.mirror]]
            location = "{mirror}/mirrored/app"
            insecure = true
            pull-from-mirror = "digest-only"

            [[registry]]
            prefix = "{mirror}/forbidden"
            location = "{mirror}/forbidden"
            blocked = true
            """);
        RunResult Ours(string reference) => Tools.Ours("image", "copy", "--insecure-policy", "--registries-conf", conf, "--read-timeout=5", "--retry-times=0", "docker://" + reference, $"oci:{_tmp["out" + Guid.NewGuid().ToString("N")[..8]]}:x");
        RunResult Theirs(string reference) => Tools.Run(Skopeo, ["--registries-conf", conf, "copy", "--insecure-policy", "--retry-times=0", "docker://" + reference, $"oci:{_tmp["sk" + Guid.NewGuid().ToString("N")[..8]]}:x"]);

        // The registry is down; its mirror has the image.
        Ours($"{down}/app:v1").Ok("pull through the mirror");
        Theirs($"{down}/app:v1").Ok("skopeo pulls through the mirror");

        // A digest-only mirror serves a pull by digest, not by tag.
        Ours($"{down}/pinned@{digest}").Ok("pull by digest through a digest-only mirror");
        Theirs($"{down}/pinned@{digest}").Ok("skopeo, by digest");
        var byTag = Ours($"{down}/pinned:v1");
        Assert.NotEqual(0, byTag.ExitCode);
        Assert.NotEqual(0, Theirs($"{down}/pinned:v1").ExitCode);
        Assert.Contains(down, byTag.Stderr, StringComparison.Ordinal);

        // Mirrors that fail are all named.
        var missing = Ours($"{down}/app:missing");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains($"(Mirrors also failed: [{mirror}/mirrored/app:missing: ", missing.Stderr, StringComparison.Ordinal);

        // A blocked registry is refused before any request, for pulls and pushes.
        var blocked = Ours($"{mirror}/forbidden/app:v1");
        Assert.NotEqual(0, blocked.ExitCode);
        Assert.Contains($"registry {mirror}/forbidden is blocked in {conf}", blocked.Stderr, StringComparison.Ordinal);
        var theirs = Theirs($"{mirror}/forbidden/app:v1");
        Assert.Contains($"registry {mirror}/forbidden is blocked", theirs.Stderr, StringComparison.Ordinal);
        var push = Tools.Ours("image", "copy", "--insecure-policy", "--registries-conf", conf, $"oci:{layout}:v1", $"docker://{mirror}/forbidden/app:v1");
        Assert.NotEqual(0, push.ExitCode);
        Assert.Contains("is blocked in", push.Stderr, StringComparison.Ordinal);

        // An ostree-container pull goes through the mirror too.
        var repo = _tmp["src"];
        Directory.CreateDirectory(_tmp["tree/usr/bin"]);
        File.WriteAllText(_tmp["tree/usr/bin/tool"], "x\n");
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + repo, "-b", "os", "--timestamp=2024-01-01", _tmp["tree"]).Ok("commit");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--tls-verify=false", "os", $"docker://{mirror}/mirrored/app:os").Ok("encapsulate to the mirror");
        var target = _tmp["target"];
        Tools.Ours("init", "--repo=" + target, "--mode=bare-user").Ok("init");
        Tools.Ours("container", "image", "pull", "--registries-conf", conf, "--retry-times=0", target, $"ostree-unverified-registry:{down}/app:os").Ok("container image pull through the mirror");
    }

    [Fact]
    public void Malformed_registries_conf_files_are_refused_naming_the_file()
    {
        foreach (var (text, message) in new[]
        {
            ("[[registry]]\ninsecure = true\n", "invalid condition: both location and prefix are unset"),
            ("[registries.search]\nregistries = [\"x\"]\n", "the version 1 format"),
            ("[[registry]]\nlocation = \"a.example\"\n[[registry.mirror]]\nlocation = \"b.example\"\npull-from-mirror = \"sometimes\"\n", "unsupported pull-from-mirror value \"sometimes\""),
            ("short-name-mode = \"lax\"\n", "invalid short-name mode: \"lax\""),
            ("[[registry]\n", "loading registries configuration"),
        })
        {
            var conf = _tmp[$"bad{Guid.NewGuid():N}.conf"];
            File.WriteAllText(conf, text);
            var r = Tools.Ours("image", "inspect", "--registries-conf", conf, "docker://a.example/app:v1");
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains($"loading registries configuration \"{conf}\": ", r.Stderr, StringComparison.Ordinal);
            Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        }
    }
}
