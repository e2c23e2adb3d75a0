using OstreeSharp.Internal;
using OstreeSharp.Repository;

namespace OstreeSharp.Tests;

/// <summary>
/// A system repository's remotes, as libostree keeps them: a sysroot that is a deployment's root (it has a
/// <c>sysroot</c> entry) adds them to its <c>etc/ostree/remotes.d/NAME.conf</c>, the physical sysroot to the config.
/// </summary>
public sealed class RemotesConfigDirTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-ut-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    private string MakeSysroot(bool deployment)
    {
        var root = Path.Combine(_dir, deployment ? "deployment" : "physical");
        OstreeRepo.Create(Path.Combine(root, "ostree", "repo"), RepoMode.Bare);
        if (deployment)
        {
            Directory.CreateDirectory(Path.Combine(root, "sysroot"));
        }

        return root;
    }

    [Fact]
    public void A_deployment_sysroot_adds_remotes_to_its_remotes_folder_and_reads_them_back()
    {
        var root = MakeSysroot(deployment: true);
        var repo = OstreeRepo.OpenForSysroot(root);
        Assert.True(repo.IsSystem);
        repo.AddRemote("os", "https://example.com/repo", ["main"], [new("gpg-verify", "false")]);

        var file = Path.Combine(root, "etc", "ostree", "remotes.d", "os.conf");
        Assert.Equal("[remote \"os\"]\nurl=https://example.com/repo\nbranches=main;\ngpg-verify=false\n", File.ReadAllText(file));
        Assert.DoesNotContain("os", File.ReadAllText(repo.ConfigPath), StringComparison.Ordinal);

        var again = OstreeRepo.OpenForSysroot(root);
        Assert.Equal(["os"], again.ListRemotes());
        Assert.Equal("https://example.com/repo", again.RequireRemote("os").Url);
        Assert.Throws<OstreeException>(() => again.AddRemote("os", "https://example.com/other", [], []));

        // A second definition of the same remote in the config is an error, named.
        again.Config.Set("remote \"os\"", "url", "https://example.com/dup");
        var dup = Assert.Throws<OstreeException>(() => again.GetRemote("os"));
        Assert.Equal("Multiple specifications found for remote \"os\"", dup.Message);
        again.Config.RemoveGroup("remote \"os\"");

        Assert.True(again.DeleteRemote("os"));
        Assert.False(File.Exists(file));
        Assert.Empty(OstreeRepo.OpenForSysroot(root).ListRemotes());
    }

    [Fact]
    public void The_physical_sysroot_and_add_remotes_config_dir_false_keep_remotes_in_the_config()
    {
        var physical = OstreeRepo.OpenForSysroot(MakeSysroot(deployment: false));
        physical.AddRemote("a", "https://example.com/a", [], []);
        Assert.Contains("[remote \"a\"]", File.ReadAllText(physical.ConfigPath), StringComparison.Ordinal);

        var root = MakeSysroot(deployment: true);
        var repo = OstreeRepo.OpenForSysroot(root);
        repo.Config.Set("core", "add-remotes-config-dir", "false");
        repo.SaveConfig();
        repo.AddRemote("b", "https://example.com/b", [], []);
        Assert.Contains("[remote \"b\"]", File.ReadAllText(repo.ConfigPath), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(root, "etc", "ostree", "remotes.d")));

        // A repository opened by path is not a system repository (unless it is /ostree/repo).
        Assert.False(OstreeRepo.Open(Path.Combine(root, "ostree", "repo")).IsSystem);
    }
}
