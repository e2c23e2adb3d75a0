using System.Text.Json;
using OstreeSharp.Internal;
using Xunit.Abstractions;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Two versions of the Debian tree with one package upgraded: the shared Debian root with the files of an older and of
/// a newer version of a package (libssl3 where the archive has two) laid over it, its dpkg status and md5sums
/// updated to match. Committed by us as os/v1 and os/v2 in an archive repository.
/// </summary>
public sealed class DebianUpgradeFixture : IDisposable
{
    private static readonly string[] Candidates = ["libssl3", "libcurl4", "libsystemd0", "libgnutls30", "tzdata"];
    private readonly TempDir _tmp = new();

    public DebianUpgradeFixture()
    {
        Root = SelinuxRootFixture.SharedRoot;
        (Package, OldVersion, NewVersion) = PickUpgrade();
        var cache = Path.Combine("/var/tmp/ostree-sharp-test-cache", "debs");
        Directory.CreateDirectory(cache);
        var overlayOld = Overlay("v1", Download(cache, OldVersion));
        var overlayNew = Overlay("v2", Download(cache, NewVersion));
        Repo = _tmp["repo"];
        Tools.Ours("init", "--repo=" + Repo, "--mode=archive").Ok("init");
        V1 = Tools.Ours("commit", "--repo=" + Repo, "-b", "os", "-s", $"{Package} {OldVersion}", "--tree=dir=" + Root, "--tree=dir=" + overlayOld).Ok("commit v1").Trim();
        V2 = Tools.Ours("commit", "--repo=" + Repo, "-b", "os", "-s", $"{Package} {NewVersion}", "--tree=dir=" + Root, "--tree=dir=" + overlayNew).Ok("commit v2").Trim();
    }

    public string Root { get; }

    public string Repo { get; }

    public string V1 { get; }

    public string V2 { get; }

    public string Package { get; }

    public string OldVersion { get; }

    public string NewVersion { get; }

    public string this[string rel] => _tmp[rel];

    public void Dispose() => _tmp.Dispose();

    private static (string Package, string Old, string New) PickUpgrade()
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            foreach (var pkg in Candidates)
            {
                var versions = Tools.Run("apt-cache", ["madison", pkg]).Out
                    .Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(l => l.Split('|')[1].Trim()).Distinct().ToList();
                if (versions.Count >= 2)
                {
                    // The two newest, in order.
                    versions.Sort((a, b) => a == b ? 0 : Tools.Run("dpkg", ["--compare-versions", a, "lt", b]).ExitCode == 0 ? -1 : 1);
                    return (pkg, versions[^2], versions[^1]);
                }
            }

            Tools.Run("apt-get", ["update", "-qq"]).Ok("apt-get update");
        }

        throw new InvalidOperationException("no package of " + string.Join(", ", Candidates) + " has two versions in the apt sources");
    }

    private string Download(string cache, string version)
    {
        var dir = Path.Combine(cache, $"{Package}_{version.Replace(':', '%')}");
        if (Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*.deb").FirstOrDefault() is { } cached)
        {
            return cached;
        }

        var building = dir + ".building";
        FileUtil.DeleteAny(building);
        Directory.CreateDirectory(building);
        Tools.Run("apt-get", ["download", $"{Package}={version}"], cwd: building).Ok($"apt-get download {Package}={version}");
        FileUtil.DeleteAny(dir);
        Directory.Move(building, dir);
        return Directory.EnumerateFiles(dir, "*.deb").Single();
    }

    // The package's files, and the dpkg database entries that name its version, as a tree to lay over the root.
    private string Overlay(string name, string deb)
    {
        var overlay = _tmp["overlay-" + name];
        Directory.CreateDirectory(overlay);
        Tools.Run("dpkg-deb", ["-x", deb, overlay]).Ok("dpkg-deb -x");
        var control = _tmp["control-" + name];
        Tools.Run("dpkg-deb", ["-e", deb, control]).Ok("dpkg-deb -e");
        var version = Tools.Run("dpkg-deb", ["-f", deb, "Version"]).Ok("dpkg-deb -f").Trim();
        var arch = Tools.Run("dpkg-deb", ["-f", deb, "Architecture"]).Ok("dpkg-deb -f").Trim();
        var info = Path.Combine(overlay, "var/lib/dpkg/info");
        Directory.CreateDirectory(info);
        if (File.Exists(Path.Combine(control, "md5sums")))
        {
            File.Copy(Path.Combine(control, "md5sums"), Path.Combine(info, $"{Package}:{arch}.md5sums"));
        }

        var status = File.ReadAllText(Path.Combine(Root, "var/lib/dpkg/status"));
        var stanzas = status.Split("\n\n");
        for (int i = 0; i < stanzas.Length; i++)
        {
            if (stanzas[i].StartsWith($"Package: {Package}\n", StringComparison.Ordinal))
            {
                stanzas[i] = string.Join('\n', stanzas[i].Split('\n').Select(l => l.StartsWith("Version: ", StringComparison.Ordinal) ? "Version: " + version : l));
            }
        }

        File.WriteAllText(Path.Combine(overlay, "var/lib/dpkg/status"), string.Join("\n\n", stanzas));
        return overlay;
    }
}

/// <summary>Both kinds of delta between two versions of the Debian tree, against the real ostree and a real registry.</summary>
public sealed class DebianDeltaTests(DebianUpgradeFixture debian, ITestOutputHelper output) : IClassFixture<DebianUpgradeFixture>, IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static long DeltaBytes(string repo, string from, string to) =>
        Directory.EnumerateFiles(Path.Combine(repo, new Deltas.DeltaName(Objects.Checksum.Parse(from), Objects.Checksum.Parse(to)).RelativeDir)).Sum(f => new FileInfo(f).Length);

    [Fact]
    public void Static_deltas_between_Debian_versions_apply_in_both_directions()
    {
        var repo = debian.Repo;
        var gen = JsonDocument.Parse(Tools.Ours("static-delta", "generate", "--repo=" + repo, "--json", "--from=" + debian.V1, "--to=" + debian.V2).Ok("generate")).RootElement;
        Assert.True(gen.GetProperty("patched").GetInt32() >= 1, "the upgraded package's changed files are bsdiff patches");
        long ours = DeltaBytes(repo, debian.V1, debian.V2);

        var theirsApply = _tmp["ostree-applies"];
        Tools.Ostree("init", "--repo=" + theirsApply, "--mode=bare-user").Ok("init");
        Tools.Ostree("pull-local", "--repo=" + theirsApply, repo, debian.V1).Ok("ostree pull-local v1");
        Tools.Ostree("static-delta", "apply-offline", "--repo=" + theirsApply, Path.Combine(repo, new Deltas.DeltaName(Objects.Checksum.Parse(debian.V1), Objects.Checksum.Parse(debian.V2)).SuperblockPath)).Ok("ostree apply-offline of our delta");
        Tools.Ostree("fsck", "--repo=" + theirsApply).Ok("ostree fsck");

        Tools.Ours("static-delta", "delete", "--repo=" + repo, $"{debian.V1}-{debian.V2}").Ok("delete");
        Tools.Ostree("static-delta", "generate", "--repo=" + repo, "--from=" + debian.V1, "--to=" + debian.V2).Ok("ostree generate");
        long theirs = DeltaBytes(repo, debian.V1, debian.V2);
        var oursApply = _tmp["ours-applies"];
        Tools.Ours("init", "--repo=" + oursApply, "--mode=bare-user").Ok("init");
        Tools.Ours("pull-local", "--repo=" + oursApply, repo, debian.V1).Ok("pull-local v1");
        Assert.Equal(debian.V2, Tools.Ours("static-delta", "apply-offline", "--repo=" + oursApply, Path.Combine(repo, new Deltas.DeltaName(Objects.Checksum.Parse(debian.V1), Objects.Checksum.Parse(debian.V2)).RelativeDir)).Ok("our apply-offline of ostree's delta").Trim());
        Tools.Ostree("fsck", "--repo=" + oursApply).Ok("ostree fsck");
        Tools.Ostree("static-delta", "delete", "--repo=" + repo, $"{debian.V1}-{debian.V2}").Ok("ostree delete");
        output.WriteLine($"{debian.Package} {debian.OldVersion} -> {debian.NewVersion}: our static delta {ours} bytes, ostree's {theirs} bytes");
    }

    [Fact]
    public void Container_delta_through_a_registry_rebuilds_the_new_layer()
    {
        using var registry = RegistryServer.Start(RegistryAuth.None);
        var name = $"{registry.Address}/debian/os";
        Tools.Ours("container", "encapsulate", "--repo=" + debian.Repo, "--tls-verify=false", debian.V1, $"docker://{name}:v1").Ok("encapsulate v1");
        Tools.Ours("container", "encapsulate", "--repo=" + debian.Repo, "--tls-verify=false", debian.V1, $"docker://{name}:stable").Ok("encapsulate v1 as stable");
        var client = _tmp["client"];
        Tools.Ours("init", "--repo=" + client, "--mode=bare-user").Ok("init");
        var imgref = $"ostree-unverified-registry:{name}:stable";
        Tools.Ours("container", "image", "pull", client, imgref, "--tls-verify=false").Ok("pull v1");

        Tools.Ours("container", "encapsulate", "--repo=" + debian.Repo, "--tls-verify=false", debian.V2, $"docker://{name}:stable").Ok("encapsulate v2 as stable");
        var made = JsonDocument.Parse(Tools.Ours("container", "delta", "generate", "--tls-verify=false", "--json", $"docker://{name}:v1", $"docker://{name}:stable").Ok("delta generate")).RootElement;
        var layer = Assert.Single(made.GetProperty("layers").EnumerateArray());
        long deltaSize = layer.GetProperty("deltaSize").GetInt64(), layerSize = layer.GetProperty("targetLayerSize").GetInt64();
        Assert.True(layer.GetProperty("patches").GetInt64() >= 1);

        // The registry (distribution 2.8) has no referrers API: the delta is listed under the sha256-HEX tag.
        var to = made.GetProperty("to").GetString()!;
        var tags = Tools.Run("skopeo", ["list-tags", "--tls-verify=false", $"docker://{name}"]).Ok("skopeo list-tags");
        Assert.Contains(to.Replace(':', '-'), tags, StringComparison.Ordinal);

        var pulled = JsonDocument.Parse(Tools.Ours("container", "image", "pull", client, imgref, "--tls-verify=false", "--json").Ok("pull v2 through the delta")).RootElement;
        Assert.Equal(1, pulled.GetProperty("layersFromDeltas").GetInt32());
        Assert.Equal(deltaSize, pulled.GetProperty("bytesFetched").GetInt64());
        Assert.Equal(to, pulled.GetProperty("manifestDigest").GetString());
        // The delta carried the objects v1 lacks (version 2: the image is labelled with its commit), and the import
        // gives v2's own commit, the one the label names.
        Assert.Equal(2, layer.GetProperty("version").GetInt32());
        Assert.Equal(debian.V2, Tools.Ostree("rev-parse", "--repo=" + client, debian.V2).Ok("v2 commit is in the client repository").Trim());
        Tools.Ostree("fsck", "--repo=" + client).Ok("ostree fsck");
        output.WriteLine($"container delta {deltaSize} bytes for a {layerSize}-byte layer ({100.0 * deltaSize / layerSize:F2}%)");
    }
}
