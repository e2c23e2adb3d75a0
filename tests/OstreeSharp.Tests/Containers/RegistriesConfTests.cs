using OstreeSharp.Containers;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Tests.Containers;

/// <summary>registries.conf(5) v2: prefix matching, pull sources and the precedence of drop-ins.</summary>
public sealed class RegistriesConfTests
{
    [Theory]
    [InlineData("example.com/foo", "example.com/foo", 15)]
    [InlineData("example.com/foo/bar:v1", "example.com/foo", 15)]
    [InlineData("example.com/foobar", "example.com/foo", -1)]
    [InlineData("example.com/foo@sha256:00", "example.com/foo", 15)]
    [InlineData("sub.example.com/foo", "*.example.com", 15)]
    [InlineData("example.com/foo", "*.example.com", -1)]
    [InlineData("a.b.example.com:5000/foo", "*.example.com", 15)]
    [InlineData("other.com/x.example.com", "*.example.com", -1)]
    public void Prefixes_match_as_in_containers_image(string reference, string prefix, int length) =>
        Assert.Equal(length, RegistriesConf.MatchLength(reference, prefix));

    [Fact]
    public void Mirrors_come_first_for_the_pulls_they_serve_and_the_longest_prefix_wins()
    {
        var conf = RegistriesConf.Parse("""
            [[registry]]
            prefix = "example.com"
            location = "example.com"
            [[registry.mirror]]
            location = "mirror.local/all"
            [[registry.mirror]]
            location = "mirror.local/digests"
            pull-from-mirror = "digest-only"
            [[registry.mirror]]
            location = "mirror.local/tags"
            pull-from-mirror = "tag-only"
            insecure = true

            [[registry]]
            prefix = "example.com/team"
            location = "internal.local/team"
            """, "test.conf");
        var byTag = conf.PullSources(DockerReference.Parse("example.com/app:v1"));
        Assert.Equal(["mirror.local/all/app:v1", "mirror.local/tags/app:v1", "example.com/app:v1"], byTag.Select(s => s.Reference.ToString()));
        Assert.Equal([false, true, false], byTag.Select(s => s.Insecure));
        var byDigest = conf.PullSources(DockerReference.Parse("example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
        Assert.Equal(["mirror.local/all/app", "mirror.local/digests/app", "example.com/app"], byDigest.Select(s => s.Reference.Repository));
        Assert.Equal(["internal.local/team/app:v1"], conf.PullSources(DockerReference.Parse("example.com/team/app:v1")).Select(s => s.Reference.ToString()));
        Assert.Equal(["docker.io/library/busybox:latest"], conf.PullSources(DockerReference.Parse("busybox:latest")).Select(s => s.Reference.ToString()));
    }

    [Fact]
    public void Mirror_by_digest_only_and_blocked_registries()
    {
        var conf = RegistriesConf.Parse("""
            [[registry]]
            location = "example.com"
            mirror-by-digest-only = true
            [[registry.mirror]]
            location = "mirror.local"

            [[registry]]
            prefix = "*.bad.example"
            blocked = true
            """, "test.conf");
        Assert.Single(conf.PullSources(DockerReference.Parse("example.com/app:v1")));
        Assert.Equal(2, conf.PullSources(DockerReference.Parse("example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")).Count);
        var e = Assert.Throws<RegistryException>(() => conf.PullSources(DockerReference.Parse("registry.bad.example/app:v1")));
        Assert.Equal("registry *.bad.example is blocked in test.conf", e.Message);
    }

    [Fact]
    public void Drop_ins_replace_entries_with_the_same_prefix_in_name_order()
    {
        var dir = Directory.CreateTempSubdirectory("ostree-sharp-regconf-").FullName;
        try
        {
            var main = Path.Combine(dir, "registries.conf");
            File.WriteAllText(main, "[[registry]]\nlocation = \"example.com\"\ninsecure = true\n");
            Directory.CreateDirectory(Path.Combine(dir, ".config/containers/registries.conf.d"));
            File.WriteAllText(Path.Combine(dir, ".config/containers/registries.conf.d/20-b.conf"), "[[registry]]\nlocation = \"example.com\"\nblocked = true\n");
            File.WriteAllText(Path.Combine(dir, ".config/containers/registries.conf.d/10-a.conf"), "[[registry]]\nlocation = \"example.com\"\n");
            var conf = RegistriesConf.Load(main, k => k == "HOME" ? dir : null);
            var entry = Assert.Single(conf.Registries);
            Assert.True(entry.Blocked);
            Assert.False(entry.Insecure);
            Assert.Equal(main, conf.Sources[0]);
            Assert.Throws<ContainerException>(() => RegistriesConf.Load(Path.Combine(dir, "missing.conf"), k => k == "HOME" ? dir : null));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
