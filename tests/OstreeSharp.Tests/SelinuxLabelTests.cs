using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.SELinux;

namespace OstreeSharp.Tests;

public sealed class SelinuxLabelTests
{
    private const string Specs = """
        # comment
        /.*                     system_u:object_r:default_t:s0
        /usr(/.*)?              system_u:object_r:usr_t:s0
        /usr/bin(/.*)?          system_u:object_r:bin_t:s0
        /usr/bin/special        system_u:object_r:special_t:s0
        /usr/lib/.*\.so(\.[^/]*)*  --  system_u:object_r:lib_t:s0
        /usr/lib/dir\.d         -d  system_u:object_r:dir_t:s0
        /proc                   -d  <<none>>
        /usr/bin/[a-c]+         system_u:object_r:abc_t:s0
        /run(/.*)?              system_u:object_r:var_run_t:s0
        """;

    private static readonly FileContexts Contexts = FileContexts.Parse(Specs, "test", subs: "/srv/bin /usr/bin\n", distSubs: "/var/run /run\n/bin /usr/bin\n");

    [Theory]
    [InlineData("/usr/bin/special", UnixMode.Regular, "special_t")] // exact beats every expression
    [InlineData("/usr/bin/abc", UnixMode.Regular, "abc_t")] // a later expression beats an earlier one
    [InlineData("/usr/bin/xyz", UnixMode.Regular, "bin_t")]
    [InlineData("/usr/lib/libc.so.6", UnixMode.Regular, "lib_t")]
    [InlineData("/usr/lib/libc.so.6", UnixMode.Symlink, "usr_t")] // file type qualifiers
    [InlineData("/usr/lib/dir.d", UnixMode.Directory, "dir_t")]
    [InlineData("/usr/lib/dir.d", UnixMode.Regular, "usr_t")]
    [InlineData("/usr/lib/dir.d", 0u, "dir_t")] // no type: every specification applies
    [InlineData("/proc", UnixMode.Directory, null)] // <<none>>
    [InlineData("/var/run/x", UnixMode.Regular, "var_run_t")] // distribution substitution
    [InlineData("/bin/abc", UnixMode.Regular, "abc_t")]
    [InlineData("/srv/bin/special", UnixMode.Regular, "special_t")] // local substitution
    [InlineData("/srv/binary", UnixMode.Regular, "default_t")] // substitutions only on whole components
    [InlineData("//usr//bin/", UnixMode.Directory, "bin_t")] // duplicate and trailing slashes
    [InlineData("/", UnixMode.Directory, "default_t")]
    public void Lookups_follow_libselinux(string path, uint mode, string? type) =>
        Assert.Equal(type is null ? null : $"system_u:object_r:{type}:s0", Contexts.Lookup(path, mode | 0x1A4));

    [Theory]
    [InlineData("/usr(/.*?\tsystem_u:object_r:usr_t:s0", "test:1: invalid regular expression")]
    [InlineData("/usr -x system_u:object_r:usr_t:s0", "test:1: invalid file type '-x'")]
    [InlineData("/usr", "test:1: expected 'REGEX [TYPE] CONTEXT'")]
    [InlineData("/usr notacontext", "test:1: invalid context 'notacontext'")]
    public void Malformed_lines_name_the_file_and_line(string line, string message) =>
        Assert.StartsWith(message, Assert.Throws<FileContextsFormatException>(() => FileContexts.Parse(line, "test")).Message, StringComparison.Ordinal);

    [Fact]
    public void Libostree_looks_up_proc_as_mnt_and_epoch_one_maps_usr_etc()
    {
        var dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-se-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var files = Path.Combine(dir, "usr/etc/selinux/t/contexts/files");
            Directory.CreateDirectory(files);
            File.WriteAllText(Path.Combine(dir, "usr/etc/selinux/config"), "# x\nSELINUXTYPE=t\n");
            File.WriteAllText(Path.Combine(files, "file_contexts"), "/mnt -d system_u:object_r:mnt_t:s0\n/etc/shadow -- system_u:object_r:shadow_t:s0\n/usr/etc(/.*)? system_u:object_r:etc_t:s0\n");
            var policy = SePolicy.Load(dir);
            Assert.Equal("t", policy.Name);
            Assert.Equal("system_u:object_r:mnt_t:s0", policy.Label("/proc", UnixMode.Directory | 0x1ED));
            Assert.Equal("system_u:object_r:etc_t:s0", policy.Label("/usr/etc/shadow", UnixMode.Regular | 0x180));
            Assert.Equal("system_u:object_r:shadow_t:s0", policy.WithEpoch(1).Label("/usr/etc/shadow", UnixMode.Regular | 0x180));
            var x = policy.Apply("/usr/etc/shadow", UnixMode.Regular, Xattrs.Create([Xattr.Create("user.a", [1]), Xattr.Create("security.selinux", [2])]));
            Assert.Equal(["security.selinux", "user.a"], x.Items.Select(i => i.NameString)); // sorted, as ostree 2026.4 (2022.7 put the label last)
            Assert.Equal("system_u:object_r:etc_t:s0\0"u8.ToArray(), x.Get("security.selinux"));
        }
        finally
        {
            FileUtil.DeleteAny(dir);
        }
    }
}
