using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Tests;

public class PrepareRootConfigTests
{
    [Theory]
    [InlineData("", Tristate.No, false, false)]
    [InlineData("[composefs]\nenabled = true\n", Tristate.Yes, false, false)]
    [InlineData("[composefs]\nenabled = yes\n", Tristate.Yes, false, false)]
    [InlineData("[composefs]\nenabled = 0\n", Tristate.No, false, false)]
    [InlineData("[composefs]\nenabled = maybe\n", Tristate.Maybe, false, false)]
    [InlineData("[composefs]\nenabled = verity\n", Tristate.Yes, true, false)]
    [InlineData("[composefs]\nenabled = signed\n", Tristate.Yes, true, true)]
    public void Composefs_modes_are_read_as_ostree_prepare_root_reads_them(string text, Tristate composefs, bool verity, bool signed)
    {
        var c = PrepareRootConfig.Parse(text, "/usr/lib/ostree/prepare-root.conf");
        Assert.Equal(composefs, c.Composefs);
        Assert.Equal(verity, c.RequireVerity);
        Assert.Equal(signed, c.Signed);
        Assert.Equal(PrepareRootConfig.DefaultKeyPath, c.KeyPath);
    }

    [Fact]
    public void Etc_replaces_usr_lib_as_a_whole()
    {
        var root = Path.Combine(Path.GetTempPath(), "prc-" + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "usr/lib/ostree"));
            File.WriteAllText(Path.Combine(root, "usr/lib/ostree/prepare-root.conf"), "[composefs]\nenabled = signed\nkeypath = /etc/k\n[root]\ntransient = true\n");
            Assert.True(PrepareRootConfig.Load(root).Signed);
            Assert.Equal("/etc/k", PrepareRootConfig.Load(root).KeyPath);
            Directory.CreateDirectory(Path.Combine(root, "etc/ostree"));
            File.WriteAllText(Path.Combine(root, "etc/ostree/prepare-root.conf"), "[composefs]\nenabled = maybe\n");
            var c = PrepareRootConfig.Load(root);
            Assert.Equal(Tristate.Maybe, c.Composefs);
            Assert.False(c.RootTransient);
            Assert.Equal(PrepareRootConfig.DefaultKeyPath, c.KeyPath);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void Bad_values_name_the_file_and_key()
    {
        var e = Assert.Throws<OstreeFormatException>(() => PrepareRootConfig.Parse("[composefs]\nenabled = sometimes\n", "/etc/ostree/prepare-root.conf"));
        Assert.Contains("/etc/ostree/prepare-root.conf", e.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid tri-state value: sometimes", e.Message, StringComparison.Ordinal);
        Assert.Throws<OstreeFormatException>(() => PrepareRootConfig.Parse("[root]\ntransient = true\ntransient-ro = true\n", "x"));
    }
}
