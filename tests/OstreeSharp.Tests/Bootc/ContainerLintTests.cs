using System.Runtime.InteropServices;
using System.Text;
using OstreeSharp.Containers.Bootc;
using OstreeSharp.Internal;

namespace OstreeSharp.Tests.Bootc;

/// <summary>bootc's container lint on small root folders built in a temporary folder.</summary>
public sealed partial class ContainerLintTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ostree-sharp-lint-").FullName;
    private readonly List<byte[]> _rawNames = [];

    public ContainerLintTests()
    {
        // A root that passes every lint.
        foreach (var d in new[] { "dev", "proc", "sys", "run", "tmp", "var", "boot", "sysroot", "usr/lib/modules/5.7.2", "usr/lib/ostree" })
        {
            Directory.CreateDirectory(P(d));
        }

        File.WriteAllText(P("usr/lib/modules/5.7.2/vmlinuz"), "kernel");
        File.CreateSymbolicLink(P("ostree"), "sysroot/ostree");
        File.WriteAllText(P("usr/lib/ostree/prepare-root.conf"), "[composefs]\nenabled = yes\n");
    }

    public void Dispose()
    {
        // .NET cannot name what is not UTF-8.
        foreach (var raw in _rawNames)
        {
            _ = unlink(raw) == 0 || rmdir(raw) == 0;
        }

        FileUtil.DeleteAny(_root);
    }

    private string P(string rel) => Path.Join(_root, rel);

    private void Write(string rel, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(P(rel))!);
        File.WriteAllText(P(rel), text);
    }

    private LintReport Run(LintRootType type = LintRootType.Alternative, params string[] skip) => ContainerLint.Run(_root, type, skip);

    private LintResult Lint(string name, LintRootType type = LintRootType.Alternative) => Run(type).Results.Single(r => r.Lint.Name == name);

    private static string Output(LintReport report, bool fatalWarnings, bool noTruncate, out string? error)
    {
        var w = new StringWriter { NewLine = "\n" };
        error = report.Write(w, fatalWarnings, noTruncate);
        return w.ToString();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mkdir(byte[] path, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int symlink(byte[] target, byte[] path);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int unlink(byte[] path);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int rmdir(byte[] path);

    private static byte[] CPath(string dir, byte[] name) => [.. Encoding.UTF8.GetBytes(dir + "/"), .. name, 0];

    [Fact]
    public void A_well_formed_root_passes_every_lint_that_applies()
    {
        var report = Run();
        Assert.All(report.Results, r => Assert.Equal(LintStatus.Passed, r.Status));
        Assert.Equal(13, report.Passed);
        Assert.Equal(1, report.Skipped); // var-tmpfiles looks only at the running root
        Assert.Equal("Checks passed: 13\nChecks skipped: 1\n", Output(report, fatalWarnings: true, noTruncate: false, out var error));
        Assert.Null(error);
    }

    [Fact]
    public void Results_come_in_name_order_with_the_tree_walk_last()
    {
        var names = Run().Results.Select(r => r.Lint.Name).ToList();
        Assert.Equal("utf8", names[^1]);
        Assert.Equal(names[..^1].Order(StringComparer.Ordinal), names[..^1]);
    }

    [Fact]
    public void Var_run_must_be_a_link()
    {
        Directory.CreateDirectory(P("var/run/foo"));
        var r = Lint("var-run");
        Assert.True(r.IsFatal);
        Assert.Equal("Not a symlink: var/run", r.Message);
        Directory.Delete(P("var/run"), true);
        File.CreateSymbolicLink(P("var/run"), "../run");
        Assert.Equal(LintStatus.Passed, Lint("var-run").Status);
    }

    [Fact]
    public void An_empty_hostname_is_a_warning_on_another_root_only()
    {
        Write("etc/hostname", "");
        var r = Lint("buildah-injected");
        Assert.True(r.IsWarning);
        Assert.Equal("/etc/hostname is an empty file; this may have been synthesized by a container runtime.", r.Message);
        Assert.DoesNotContain(Run(LintRootType.Running).Results, x => x.Lint.Name == "buildah-injected");
        Write("etc/hostname", "static\n");
        Assert.Equal(LintStatus.Passed, Lint("buildah-injected").Status);
    }

    [Fact]
    public void Etc_and_usr_etc_together_fail()
    {
        Directory.CreateDirectory(P("usr/etc"));
        Assert.Equal(LintStatus.Passed, Lint("etc-usretc").Status); // no /etc: tolerated
        Directory.CreateDirectory(P("etc"));
        var r = Lint("etc-usretc");
        Assert.True(r.IsFatal);
        Assert.StartsWith("Found /usr/etc - this is a bootc implementation detail", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_kernels_stop_the_run_as_bootc_does()
    {
        Directory.CreateDirectory(P("usr/lib/modules/6.3.1"));
        File.WriteAllText(P("usr/lib/modules/6.3.1/foo.ko"), "module");
        File.CreateSymbolicLink(P("usr/lib/modules/linked"), "6.3.1");
        Assert.Equal(LintStatus.Passed, Lint("kernel").Status); // no vmlinuz there, and a link is not a kernel folder

        File.WriteAllText(P("usr/lib/modules/6.3.1/vmlinuz"), "other kernel");
        var report = Run();
        var r = report.Results.Single(x => x.Lint.Name == "kernel");
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.Equal("Found multiple subdirectories in usr/lib/modules", r.Message);
        var output = Output(report, fatalWarnings: false, noTruncate: false, out var error);
        Assert.Equal("", output);
        Assert.Equal("Unexpected runtime error running lint kernel: Found multiple subdirectories in usr/lib/modules", error);
    }

    [Fact]
    public void A_dangling_vmlinuz_is_not_a_kernel()
    {
        Directory.CreateDirectory(P("usr/lib/modules/6.3.1"));
        File.CreateSymbolicLink(P("usr/lib/modules/6.3.1/vmlinuz"), "/boot/missing");
        Assert.Equal(LintStatus.Passed, Lint("kernel").Status);
    }

    [Fact]
    public void Names_that_are_not_utf8_fail_and_the_walk_survives_link_loops()
    {
        Directory.CreateDirectory(P("subdir/2"));
        File.CreateSymbolicLink(P("self"), "self");
        File.CreateSymbolicLink(P("subdir/parent"), "..");
        File.CreateSymbolicLink(P("broken"), "does-not-exist");
        File.CreateSymbolicLink(P("escape"), "../../x");
        Assert.Equal(LintStatus.Passed, Lint("utf8").Status);

        var bad = CPath(P("subdir/2"), [(byte)'b', (byte)'a', (byte)'d', 0xFF, (byte)'d']);
        Assert.Equal(0, mkdir(bad, 0x1ED));
        _rawNames.Add(bad);
        var r = Lint("utf8");
        Assert.True(r.IsFatal);
        Assert.Equal("/subdir/2: Found non-utf8 filename \"bad\uFFFDd\"", r.Message);
    }

    [Fact]
    public void A_link_whose_target_is_not_utf8_fails()
    {
        Directory.CreateDirectory(P("subdir"));
        Assert.Equal(0, symlink([(byte)'x', 0xFE, 0], CPath(P("subdir"), "good-name"u8.ToArray())));
        var r = Lint("utf8");
        Assert.Equal("/subdir/good-name: Found non-utf8 symlink target", r.Message);
    }

    [Fact]
    public void Api_directories_must_exist_as_directories()
    {
        Directory.Delete(P("var"));
        Assert.Equal("Missing API filesystem base directory: /var", Lint("api-base-directories").Message);
        File.WriteAllText(P("var"), "a file");
        Assert.Equal("Expected directory for API filesystem base directory: /var", Lint("api-base-directories").Message);
    }

    [Fact]
    public void The_base_image_root_needs_sysroot_and_the_ostree_link()
    {
        File.Delete(P("ostree"));
        Assert.Equal("Missing ostree -> sysroot/ostree link", Lint("baseimage-root").Message);
        File.CreateSymbolicLink(P("ostree"), "elsewhere");
        Assert.Equal("Expected /ostree -> sysroot/ostree, not \"elsewhere\"", Lint("baseimage-root").Message);
        File.Delete(P("ostree"));
        Directory.CreateDirectory(P("ostree"));
        Assert.Equal("/ostree should be a symlink", Lint("baseimage-root").Message);
        Directory.Delete(P("sysroot"));
        Assert.Equal("Missing /sysroot", Lint("baseimage-root").Message);
        File.WriteAllText(P("sysroot"), "");
        Assert.Equal("Expected a directory for /sysroot", Lint("baseimage-root").Message);
    }

    [Fact]
    public void The_documented_base_image_root_is_checked_too()
    {
        Directory.CreateDirectory(P("usr/share/doc/bootc/baseimage/base/sysroot"));
        Assert.Equal("Missing ostree -> sysroot/ostree link", Lint("baseimage-root").Message);
        File.CreateSymbolicLink(P("usr/share/doc/bootc/baseimage/base/ostree"), "sysroot/ostree");
        Assert.Equal(LintStatus.Passed, Lint("baseimage-root").Status);
    }

    [Fact]
    public void Composefs_must_be_enabled_by_prepare_root_conf()
    {
        File.WriteAllText(P("usr/lib/ostree/prepare-root.conf"), "[composefs]\nenabled = false\n");
        var r = Lint("baseimage-composefs");
        Assert.True(r.IsWarning);
        Assert.Equal("ostree/prepare-root.conf does not have composefs enabled", r.Message);
        File.WriteAllText(P("usr/lib/ostree/prepare-root.conf"), "[composefs]\nenabled = bogus\n[root]\ntransient = true\n");
        Assert.Equal(LintStatus.Passed, Lint("baseimage-composefs").Status);
        Write("etc/ostree/prepare-root.conf", "[composefs]\nenabled = no\n"); // /etc's replaces /usr/lib's
        Assert.Equal("ostree/prepare-root.conf does not have composefs enabled", Lint("baseimage-composefs").Message);
        File.Delete(P("etc/ostree/prepare-root.conf"));
        File.Delete(P("usr/lib/ostree/prepare-root.conf"));
        Assert.Equal("ostree/prepare-root.conf is not present to enable composefs", Lint("baseimage-composefs").Message);
    }

    [Fact]
    public void A_malformed_prepare_root_conf_is_an_error_naming_the_file()
    {
        File.WriteAllText(P("usr/lib/ostree/prepare-root.conf"), "[composefs\nenabled = yes\n");
        var r = Lint("baseimage-composefs");
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.Contains("usr/lib/ostree/prepare-root.conf", r.Message, StringComparison.Ordinal);
        File.WriteAllText(P("usr/lib/ostree/prepare-root.conf"), "[root]\ntransient = perhaps\n");
        r = Lint("baseimage-composefs");
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.StartsWith("Parsing usr/lib/ostree/prepare-root.conf: ", r.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kargs_d_files_must_parse()
    {
        Write("usr/lib/bootc/kargs.d/10-console.toml", "kargs = [\"console=ttyS0\"]\nmatch-architectures = [\"s390x\"]\n");
        Write("usr/lib/bootc/kargs.d/README", "not toml, not read");
        Assert.Equal(LintStatus.Passed, Lint("bootc-kargs").Status);

        Write("usr/lib/bootc/kargs.d/20-bad.toml", "kargs = [\"unterminated\n");
        var r = Lint("bootc-kargs");
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.StartsWith("Parsing 20-bad.toml: ", r.Message, StringComparison.Ordinal);

        Write("usr/lib/bootc/kargs.d/20-bad.toml", "kargs = \"quiet\"\n");
        Assert.Equal("20-bad.toml: kargs must be an array of strings", Lint("bootc-kargs").Message);
        Write("usr/lib/bootc/kargs.d/20-bad.toml", "match-architectures = [\"x86_64\"]\n");
        Assert.Equal("20-bad.toml: missing key kargs in a kargs.d file", Lint("bootc-kargs").Message);
    }

    [Fact]
    public void A_kargs_d_that_is_a_file_is_an_error()
    {
        Write("usr/lib/bootc/kargs.d", "not a directory");
        var r = Lint("bootc-kargs");
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.Equal("/usr/lib/bootc/kargs.d: Not a directory", r.Message);
    }

    [Fact]
    public void Log_files_with_content_are_a_warning_listed_in_order()
    {
        Directory.CreateDirectory(P("var/log"));
        File.CreateSymbolicLink(P("var/log/README"), "../../usr/share/doc/systemd/README.logs");
        File.WriteAllText(P("var/log/empty.log"), "");
        Assert.Equal(LintStatus.Passed, Lint("var-log").Status);

        Write("var/log/someproject/info.log", "info");
        Write("var/log/someproject/audit.log", "audit");
        Write("var/log/somefile.log", "log");
        Write("var/log/with space.log", "log");
        var r = Lint("var-log");
        Assert.True(r.IsWarning);
        Assert.Equal(
            "Found non-empty logfiles:\n  /var/log/somefile.log\n  /var/log/someproject/audit.log\n  /var/log/someproject/info.log\n  '/var/log/with space.log'\n",
            r.Describe(noTruncate: false));
    }

    [Fact]
    public void Long_lists_are_truncated_unless_told_not_to()
    {
        for (int i = 1; i <= 7; i++)
        {
            Write($"var/log/{i}.log", "x");
        }

        var r = Lint("var-log");
        Assert.Equal(
            "Found non-empty logfiles:\n  /var/log/1.log\n  /var/log/2.log\n  /var/log/3.log\n  /var/log/4.log\n  /var/log/5.log\n  ...and 2 more\n",
            r.Describe(noTruncate: false));
        Assert.Equal(
            "Found non-empty logfiles:\n" + string.Concat(Enumerable.Range(1, 7).Select(i => $"  /var/log/{i}.log\n")),
            r.Describe(noTruncate: true));
    }

    [Fact]
    public void Warnings_print_as_bootc_and_fail_only_with_fatal_warnings()
    {
        Write("var/log/a.log", "x");
        var report = Run();
        Assert.Equal(
            "Lint warning: var-log: Found non-empty logfiles:\n  /var/log/a.log\n\nChecks passed: 12\nChecks skipped: 1\nWarnings: 1\n",
            Output(report, fatalWarnings: false, noTruncate: false, out var error));
        Assert.Null(error);
        Output(report, fatalWarnings: true, noTruncate: false, out error);
        Assert.Equal("Checks failed: 1", error);
    }

    [Fact]
    public void Fatal_failures_print_as_bootc_and_fail()
    {
        Directory.CreateDirectory(P("var/run"));
        var report = Run();
        Assert.Equal(1, report.Fatal);
        Assert.Equal(
            "Failed lint: var-run: Not a symlink: var/run\nChecks passed: 12\nChecks skipped: 1\n",
            Output(report, fatalWarnings: false, noTruncate: false, out var error));
        Assert.Equal("Checks failed: 1", error);
    }

    [Fact]
    public void Skipped_lints_do_not_run_and_are_counted()
    {
        Write("var/log/dnf/dnf.log", "dummy dnf log");
        var report = Run(LintRootType.Alternative, "var-log", "no-such-lint");
        Assert.DoesNotContain(report.Results, r => r.Lint.Name == "var-log");
        Assert.Equal(12, report.Passed);
        Assert.Equal(2, report.Skipped);
        Assert.Equal(0, report.Warnings);
    }

    [Fact]
    public void Var_content_without_tmpfiles_d_is_a_warning_on_the_running_root()
    {
        uint uid = Native.EffectiveUid, gid = Native.EffectiveGid;
        Write("etc/passwd", $"tester:x:{uid}:{gid}::/:/bin/sh\n");
        Write("etc/group", $"testers:x:{gid}:\n");
        Write("usr/lib/sysusers.d/test.conf", "u tester -\ng testers -\n");
        Write("usr/lib/tmpfiles.d/test.conf", "# declared\nd /var/lib 0755 - - -\nd /root/.ssh 0700 root root -\nL \"/var/lib/with space\" - - - - x\n");
        Directory.CreateDirectory(P("var/lib/nfs"));
        Native.Chmod(P("var/lib/nfs"), 0x1ED);
        Directory.CreateDirectory(P("var/roothome/.ssh"));
        Native.Chmod(P("var/roothome"), 0x1C0);
        File.CreateSymbolicLink(P("root"), "var/roothome");
        File.CreateSymbolicLink(P("var/lib/with space"), "x");
        File.CreateSymbolicLink(P("var/lib/abs"), "/var/lib/foo");
        File.WriteAllText(P("var/lib/file"), "data");

        var r = Lint("var-tmpfiles", LintRootType.Running);
        Assert.True(r.IsWarning);
        Assert.Equal(
            "Found content in /var missing systemd tmpfiles.d entries:\n" +
            "  L /var/lib/abs - - - - /var/lib/foo\n" +
            "  d /var/lib/nfs 0755 tester testers - -\n" +
            "  d /var/roothome 0700 tester testers - -\n" +
            "Found non-directory/non-symlink files in /var:\n" +
            "  var/lib/file\n",
            r.Describe(noTruncate: false));
    }

    [Fact]
    public void A_var_owner_without_a_name_is_an_error()
    {
        Directory.CreateDirectory(P("var/lib"));
        Write("etc/passwd", "");
        var r = Lint("var-tmpfiles", LintRootType.Running);
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.Equal($"User not found for id {Native.EffectiveUid}", r.Message);
    }

    [Fact]
    public void Users_and_groups_without_sysusers_d_are_a_warning()
    {
        Write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n+nis\nalice:x:1000:1000::/home/alice:/bin/sh\nbin:x:1:1::/:/sbin/nologin\n");
        Write("etc/group", "root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n");
        Write("usr/lib/sysusers.d/basic.conf", "# comment\nu root 0 \"Super User\" /root /bin/bash\nu bin 1:1 \"bin\" /bin -\ng wheel 10\nr - 500-900\nm alice wheel\n");
        var r = Lint("sysusers");
        Assert.True(r.IsWarning);
        Assert.Equal(
            "Found /etc/passwd entry without corresponding systemd sysusers.d:\n  alice\n" +
            "Found /etc/group entry without corresponding systemd sysusers.d:\n  alice\n",
            r.Describe(noTruncate: false));
        Write("usr/lib/sysusers.d/alice.conf", "u! alice 1000 \"Alice\"\n");
        Assert.Equal(LintStatus.Passed, Lint("sysusers").Status);
    }

    [Fact]
    public void Malformed_sysusers_and_passwd_are_errors()
    {
        Write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        Assert.Equal("Failed to load etc/group: No such file or directory", Lint("sysusers").Message);
        Write("etc/group", "root:x:0:\n");
        Write("usr/lib/sysusers.d/bad.conf", "u root zero\n");
        var r = Lint("sysusers");
        Assert.Equal(LintStatus.Error, r.Status);
        Assert.Equal("Failed to parse sysusers entry from bad.conf: Failed to parse sysusers entry: u root zero", r.Message);
        File.Delete(P("usr/lib/sysusers.d/bad.conf"));
        Write("etc/passwd", "root:x:0\n");
        Assert.Equal("Failed to load etc/passwd: failed to parse passwd entry at line 0, content: root:x:0", Lint("sysusers").Message);
    }

    [Fact]
    public void Boot_must_exist_and_be_empty_but_for_EFI()
    {
        Directory.CreateDirectory(P("boot/EFI/Linux"));
        Assert.Equal(LintStatus.Passed, Lint("nonempty-boot").Status);
        Directory.CreateDirectory(P("boot/somesubdir"));
        File.WriteAllText(P("boot/vmlinuz"), "k");
        Assert.Equal("Found non-empty /boot:\n  somesubdir\n  vmlinuz\n", Lint("nonempty-boot").Describe(noTruncate: false));
        Directory.Delete(P("boot"), true);
        Assert.Equal("Missing /boot directory", Lint("nonempty-boot").Message);
    }

    [Fact]
    public void Run_and_tmp_must_be_empty_but_for_the_runtime_resolver()
    {
        Write("run/systemd/resolve/stub-resolv.conf", "nameserver");
        Assert.Equal(LintStatus.Passed, Lint("nonempty-run-tmp").Status);
        Write("run/systemd/resolve/something-else", "data");
        Write("tmp/build-artifact", "data");
        Assert.Equal(
            "Found content in runtime-only directories (/run, /tmp):\n  /run/systemd\n  /run/systemd/resolve\n  /run/systemd/resolve/something-else\n  /tmp/build-artifact\n",
            Lint("nonempty-run-tmp").Describe(noTruncate: false));
    }

    [Fact]
    public void The_list_is_yaml_with_every_lint()
    {
        var yaml = ContainerLint.ListYaml();
        Assert.Equal(14, ContainerLint.Lints.Count);
        Assert.Equal(14, yaml.Split('\n').Count(l => l.StartsWith("- name: ", StringComparison.Ordinal)));
        Assert.StartsWith("- name: var-run\n  type: fatal\n  description: ", yaml, StringComparison.Ordinal);
        Assert.Contains("- name: var-tmpfiles\n  type: warning\n  description: |\n    Warn about content of /var", yaml, StringComparison.Ordinal);
        Assert.Contains("  root-type: Running\n", yaml, StringComparison.Ordinal);
        Assert.Contains("  root-type: Alternative\n", yaml, StringComparison.Ordinal);
        Assert.Equal(ContainerLint.Lints.Select(l => l.Name).Distinct().Count(), ContainerLint.Lints.Count);
    }

    [Theory]
    [InlineData("/var/log/a.log", "/var/log/a.log")]
    [InlineData("--virtiofs=/foo,/bar", "--virtiofs=/foo,/bar")]
    [InlineData("/some/path with spaces/", "'/some/path with spaces/'")]
    [InlineData("/foo/!/bar&", "'/foo/!/bar&'")]
    [InlineData("/path/\"withquotes'", "\"/path/\\\"withquotes'\"")]
    public void Paths_are_quoted_for_a_shell_when_needed(string path, string shown) =>
        Assert.Equal(shown, ContainerLint.QuotePath(path));

    [Fact]
    public void A_missing_root_is_refused()
    {
        Assert.Throws<DirectoryNotFoundException>(() => ContainerLint.Run(P("nope"), LintRootType.Alternative));
    }
}
