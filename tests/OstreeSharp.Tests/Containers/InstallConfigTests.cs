using OstreeSharp.Containers;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.Install;

namespace OstreeSharp.Tests.Containers;

/// <summary>bootc's install configuration and kargs.d, merged as bootc merges them.</summary>
public class InstallConfigTests
{
    [Fact]
    public void Fragments_merge_in_name_order_and_skip_other_architectures()
    {
        var config = InstallConfig.Merge(
        [
            ("20-later.toml", "[install]\nroot-fs-type = \"xfs\"\nkargs = [\"nosmt\"]\nstateroot = \"fedora\"\n"),
            ("10-first.toml", "[install.filesystem.root]\ntype = \"ext4\"\n[install]\nkargs = [\"console=ttyS0\", \"foo=bar\"]\nkarg-deletes = [\"quiet\"]\n"),
            ("30-s390x.toml", "[install]\nmatch-architectures = [\"s390x\"]\nkargs = [\"never\"]\nroot-fs-type = \"btrfs\"\n"),
        ], "x86_64");
        Assert.NotNull(config);
        Assert.Equal("xfs", config.RootFsType);
        Assert.Equal(["console=ttyS0", "foo=bar", "nosmt"], config.Kargs);
        Assert.Equal(["quiet"], config.KargDeletes);
        Assert.Equal("fedora", config.Stateroot);
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void No_applicable_fragment_is_no_configuration_and_unknown_keys_are_warned_about()
    {
        Assert.Null(InstallConfig.Merge([("a.toml", "[install]\nmatch-architectures = [\"aarch64\"]\n")], "x86_64"));
        var config = InstallConfig.Merge([("a.toml", "[install]\nfrobnicate = 1\n")], "x86_64");
        Assert.Equal(["a.toml: Unknown key install.frobnicate"], config!.Warnings);
    }

    [Fact]
    public void Malformed_fragments_are_refused_naming_the_file()
    {
        var e = Assert.Throws<ContainerException>(() => InstallConfig.Merge([("bad.toml", "[install\nkargs = 1")], "x86_64"));
        Assert.StartsWith("Parsing bad.toml: ", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ContainerException>(() => InstallConfig.Merge([("k.toml", "[install]\nkargs = \"console=ttyS0\"\n")], "x86_64"));
        Assert.Equal("k.toml: kargs must be an array of strings", e.Message);
    }

    [Fact]
    public void Kargs_d_files_apply_in_name_order_for_their_architectures()
    {
        var kargs = InstallConfig.KargsD(
        [
            ("20-b.toml", "kargs = [\"b=2\"]\n"),
            ("10-a.toml", "kargs = [\"a=1\", \"console=ttyS0\"]\nmatch-architectures = [\"x86_64\", \"aarch64\"]\n"),
            ("15-arm.toml", "kargs = [\"arm\"]\nmatch-architectures = [\"aarch64\"]\n"),
        ], "x86_64");
        Assert.Equal(["a=1", "console=ttyS0", "b=2"], kargs);
        var e = Assert.Throws<ContainerException>(() => InstallConfig.KargsD([("x.toml", "kargs = []\ndelete = [\"quiet\"]\n")], "x86_64"));
        Assert.Equal("x.toml: unknown key delete in a kargs.d file", e.Message);
        e = Assert.Throws<ContainerException>(() => InstallConfig.KargsD([("y.toml", "match-architectures = [\"s390x\"]\n")], "x86_64"));
        Assert.Equal("y.toml: missing key kargs in a kargs.d file", e.Message);
        e = Assert.Throws<ContainerException>(() => InstallConfig.KargsD([("z.toml", "kargs = \"quiet\"\nmatch-architectures = [\"s390x\"]\n")], "x86_64"));
        Assert.Equal("z.toml: kargs must be an array of strings", e.Message);
    }

    [Fact]
    public void Kargs_d_changes_follow_the_image_and_keep_what_the_user_added()
    {
        const string Host = "root=UUID=1 rw ostree=/ostree/boot.1/debian/abc/0 quiet old=1 mine=yes";

        // The old image had quiet and old=1, the new one has quiet and new=2: old=1 goes, new=2 comes, the rest stays.
        Assert.Equal("root=UUID=1 rw quiet mine=yes new=2", OstreeSharp.Containers.Host.SysrootImages.MergeKargsD(Host, ["quiet", "old=1"], ["quiet", "new=2"]));

        // Unchanged kargs.d: the deployment keeps its arguments as they are.
        Assert.Null(OstreeSharp.Containers.Host.SysrootImages.MergeKargsD(Host, ["quiet"], ["quiet"]));

        // An argument the user removed by hand is not brought back by an upgrade that keeps it in kargs.d, and one
        // the old image's kargs.d no longer has is removed even when it is not there.
        Assert.Equal("root=UUID=1 rw mine=yes x=1", OstreeSharp.Containers.Host.SysrootImages.MergeKargsD("root=UUID=1 rw mine=yes", ["quiet", "gone"], ["quiet", "x=1"]));
    }
}
