using OstreeSharp.Sysroot;

namespace OstreeSharp.Tests.Sysroot;

public sealed class SysrootModelTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("bootloader-naming-1", true)]
    [InlineData("skip-sync,bootloader-naming-1", true)]
    [InlineData("skip-sync:BOOTLOADER_NAMING_1", true)] // g_parse_debug_string: any case, _ as -
    [InlineData(" skip-sync ; bootloader-naming-1\t", true)]
    [InlineData("bootloader-naming-10", false)]
    [InlineData("bootloader", false)]
    [InlineData("all", true)]
    [InlineData("all,bootloader-naming-1", false)] // all but the keys beside it
    public void Sysroot_options_are_read_as_glib_reads_them(string? value, bool set)
    {
        Assert.Equal(set, OstreeSysroot.HasKey(value, "bootloader-naming-1"));
    }

    [Fact]
    public void Kernel_arguments_replace_in_place_append_and_delete_as_libostree()
    {
        var k = KernelArgs.Parse("root=LABEL=root ostree=/ostree/boot.1/os/X/0 quiet console=tty0 console=ttyS0");
        k.Replace("ostree=/ostree/boot.0/os/Y/1");
        k.Append("console=ttyS1");
        Assert.Equal("root=LABEL=root ostree=/ostree/boot.0/os/Y/1 quiet console=tty0 console=ttyS0 console=ttyS1", k.ToString());
        k.Replace("console=hvc0");
        Assert.Equal("root=LABEL=root ostree=/ostree/boot.0/os/Y/1 quiet console=hvc0", k.ToString());
        k.Delete("quiet");
        k.Delete("console=hvc0");
        Assert.Equal("root=LABEL=root ostree=/ostree/boot.0/os/Y/1", k.ToString());
        // libostree's words (admin kargs edit-in-place prints them), and the kind of failure.
        var nope = Assert.Throws<OstreeException>(() => k.Delete("nope"));
        Assert.Equal(("No key 'nope' found", OstreeErrorCode.InvalidArgument), (nope.Message, nope.ErrorCode));
        Assert.Equal("No karg 'root=x' found", Assert.Throws<OstreeException>(() => k.Delete("root=x")).Message);
        var multi = KernelArgs.Parse("a=1 a=2 b= c");
        Assert.Equal("Multiple values for key 'a' found", Assert.Throws<OstreeException>(() => multi.Delete("a")).Message);
        Assert.Equal(string.Empty, multi.Get("b"));
        Assert.Null(multi.Get("c"));
        Assert.True(multi.Contains("c"));
    }

    [Fact]
    public void Boot_entries_keep_unknown_keys_and_write_the_fixed_order()
    {
        var text = "# comment\nlinux /ostree/os-X/vmlinuz\noptions a  b\ncustom-key hello world\ntitle T\ninitrd /ostree/os-X/initramfs.img\n"
            + "initrd /ostree/initramfs-overlays/" + new string('a', 64) + ".img\nversion 3\n\n";
        var e = BootEntry.Parse(text, "test.conf");
        Assert.Equal("a  b", e["options"]);
        Assert.Single(e.OverlayInitrds);
        Assert.Equal(
            "title T\nversion 3\noptions a  b\nlinux /ostree/os-X/vmlinuz\ninitrd /ostree/os-X/initramfs.img\ninitrd /ostree/initramfs-overlays/" + new string('a', 64) + ".img\ncustom-key hello world\n",
            e.Serialize());
        var bad = Assert.Throws<OstreeFormatException>(() => BootEntry.Parse("initrd /a\ninitrd /b.img\n", "bad.conf"));
        Assert.Contains("bad.conf", bad.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10", "9", 1)]
    [InlineData("2", "10", -1)]
    [InlineData("1.10", "1.9", 1)]
    [InlineData("a", "a", 0)]
    [InlineData("007", "7", 0)]
    public void Entry_versions_compare_as_strverscmp(string a, string b, int sign) => Assert.Equal(sign, Math.Sign(VersionCompare.Compare(a, b)));

    [Fact]
    public void Os_release_values_are_shell_unquoted()
    {
        var d = OsRelease.Parse("# c\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nNAME='Single Quoted'\nX=\"a \\\"q\\\" b\"\nnoequals\n");
        Assert.Equal("Debian GNU/Linux 12 (bookworm)", d["PRETTY_NAME"]);
        Assert.Equal("debian", d["ID"]);
        Assert.Equal("Single Quoted", d["NAME"]);
        Assert.Equal("a \"q\" b", d["X"]);
        Assert.False(d.ContainsKey("noequals"));
    }

    [Theory]
    [InlineData("/b/ostree-1-os.conf", 0UL, 0UL)]
    [InlineData("/b/ostree-1-os+3.conf", 3UL, 0UL)]
    [InlineData("/b/ostree-1-os+1-2.conf", 1UL, 2UL)]
    [InlineData("/b/ostree-1-os+0-4.conf", 0UL, 4UL)]
    [InlineData("/b/ostree-1-os+2x.conf", 2UL, 0UL)] // digits as g_ascii_strtoull reads them, the rest ignored
    [InlineData("/b/ostree-1-os+-1.conf", 0UL, 0UL)] // negative: no counter
    [InlineData("/b/ostree-1-os+.conf", 0UL, 0UL)]
    [InlineData("/b/ostree-1-os+2-.conf", 0UL, 0UL)]
    [InlineData("/b/a+1-1+5.conf", 5UL, 0UL)] // the last '+'
    [InlineData("/b/ostree-1-os+99999999999999999999.conf", 0UL, 0UL)] // past 2^64-1
    public void Boot_counters_are_read_from_the_file_name_as_libostree_reads_them(string path, ulong left, ulong done)
    {
        Assert.Equal((left, done), BootEntry.Parse("options ostree=/ostree/boot.0/os/x/0\n", path).Tries);
    }

    [Fact]
    public void Entry_names_carry_the_counter_libostree_gives_them()
    {
        var fresh = new BootEntry();
        Assert.Equal("ostree-2-os.conf", fresh.FileNameFor("ostree-2-os", 0));
        Assert.Equal("ostree-2-os+3.conf", fresh.FileNameFor("ostree-2-os", 3));
        var counting = BootEntry.Parse(string.Empty, "/b/ostree-2-os+3.conf");
        Assert.Equal("ostree-1-os+3-0.conf", counting.FileNameFor("ostree-1-os", 3));
        Assert.Equal("ostree-1-os.conf", counting.FileNameFor("ostree-1-os", 0));
        Assert.Equal("ostree-1-os.conf", BootEntry.Parse(string.Empty, "/b/ostree-2-os.conf").FileNameFor("ostree-1-os", 3)); // blessed
        Assert.Equal("ostree-1-os.conf", counting.Clone().FileNameFor("ostree-1-os", 3)); // a copy keeps the name, not the counter
    }
}
