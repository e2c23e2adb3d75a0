using System.Text.RegularExpressions;
using OstreeSharp.Cli;
using OstreeSharp.TestSupport;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// The CLI's error reports: as ostree's by default (scripts written for ostree read them), with the stable code and an
/// exit status by kind under OSTREE_SHARP_ERROR_CODES=1; docs/errors.md lists every code as the library defines it.
/// </summary>
public sealed class ErrorCodeTests : IDisposable
{
    private readonly TempDir _t = new();

    public ErrorCodeTests()
    {
        Tools.Ours("init", "--repo=" + _t["repo"], "--mode=archive").Ok("init");
        Directory.CreateDirectory(_t["in"]);
        File.WriteAllText(_t["in/a"], "a");
        Tools.Ours("commit", "--repo=" + _t["repo"], "-b", "main", _t["in"]).Ok("commit");
    }

    public void Dispose() => _t.Dispose();

    // The same failures, ostree 2022.7 and ours without codes: the same error line, exit status 1.
    [Theory]
    [InlineData("rev-parse", "nosuch")]
    [InlineData("log", "nosuch")]
    [InlineData("remote", "show-url", "nosuch")]
    [InlineData("checkout", "main", "EXISTING")]
    public void Without_codes_a_failure_is_reported_as_ostree_reports_it(params string[] args)
    {
        Directory.CreateDirectory(_t["existing"]);
        string[] argv = [.. args.Select(a => a == "EXISTING" ? _t["existing"] : a), "--repo=" + _t["repo"]];

        var theirs = Tools.Ostree(argv);
        var ours = Tools.Ours(argv);
        Assert.Equal(1, theirs.ExitCode);
        Assert.Equal(1, ours.ExitCode);
        Assert.Equal(theirs.Stderr.Trim().Split('\n')[^1], ours.Stderr.Trim().Split('\n')[^1]);
        Assert.StartsWith("error: ", ours.Stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string, OstreeErrorCode> Failures => new()
    {
        { "rev-parse --repo=REPO nosuch", OstreeErrorCode.RefNotFound },
        { "log --repo=MISSING main", OstreeErrorCode.RepositoryNotFound },
        { "refs --repo=REPO --bogus", OstreeErrorCode.InvalidArgument },
        { "remote show-url --repo=REPO nosuch", OstreeErrorCode.RemoteNotFound },
        { "checkout --repo=REPO main EXISTING", OstreeErrorCode.AlreadyExists },
        { "refs --repo=REPO --create=bad//ref main", OstreeErrorCode.RefInvalid },
        { "static-delta show --repo=REPO nosuch", OstreeErrorCode.InvalidArgument },
        { "static-delta show --repo=REPO 0000000000000000000000000000000000000000000000000000000000000000", OstreeErrorCode.DeltaNotFound },
        { "fsck --repo=CORRUPT", OstreeErrorCode.ObjectCorrupted },
        { "image copy oci:MISSING:x oci:OUT:x", OstreeErrorCode.ImageNotFound },
        { "image copy nosuchtransport:x oci:OUT:x", OstreeErrorCode.ImageReferenceInvalid },
        { "admin status --sysroot=MISSING", OstreeErrorCode.SysrootNotFound },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void With_codes_a_failure_names_its_kind_and_exits_by_it(string command, OstreeErrorCode code)
    {
        Directory.CreateDirectory(_t["existing"]);
        if (command.Contains("CORRUPT", StringComparison.Ordinal))
        {
            Tools.Ours("init", "--repo=" + _t["corrupt"], "--mode=archive").Ok("init");
            Tools.Ours("commit", "--repo=" + _t["corrupt"], "-b", "main", _t["in"]).Ok("commit");
            var file = Directory.GetFiles(_t["corrupt/objects"], "*.filez", SearchOption.AllDirectories).Single();
            File.WriteAllText(file, "not what it was");
        }

        var argv = command.Split(' ').Select(w => w
            .Replace("REPO", _t["repo"], StringComparison.Ordinal)
            .Replace("MISSING", _t["missing"], StringComparison.Ordinal)
            .Replace("EXISTING", _t["existing"], StringComparison.Ordinal)
            .Replace("CORRUPT", _t["corrupt"], StringComparison.Ordinal)
            .Replace("OUT", _t["out"], StringComparison.Ordinal)).ToArray();
        var r = Tools.OursCoded(argv);
        r.FailsWith(code, command, progressBefore: true);
    }

    [Fact]
    public void Verbose_adds_the_code_its_name_and_the_exception()
    {
        var r = Tools.Ours("rev-parse", "--repo=" + _t["repo"], "-v", "nosuch");
        var lines = r.Stderr.Split('\n');
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("error: Refspec 'nosuch' not found", lines[0]);
        Assert.Equal("OSTREE1010 RefNotFound", lines[1]);
        Assert.StartsWith("OstreeSharp.ObjectNotFoundException: ", lines[2], StringComparison.Ordinal);
    }

    // docs/errors.md is the table users read: every code with its number, name and exit status, nothing else.
    [Fact]
    public void The_error_codes_document_lists_every_code_with_its_exit_status()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "OstreeSharp.slnx")))
        {
            root = Path.GetDirectoryName(root) ?? throw new DirectoryNotFoundException("no OstreeSharp.slnx above the test folder");
        }

        var rows = File.ReadLines(Path.Combine(root, "docs", "errors.md"))
            .Select(l => Regex.Match(l, @"^\| (OSTREE\d{4}) \| (\w+) \| (\d+) \| .+ \|$"))
            .Where(m => m.Success)
            .Select(m => (Code: m.Groups[1].Value, Name: m.Groups[2].Value, Exit: int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
        var expected = Enum.GetValues<OstreeErrorCode>().Select(c => (Code: OstreeErrorCodes.Format(c), Name: c.ToString(), Exit: CliErrors.ExitCode(c))).ToList();
        Assert.Equal(expected, rows);
    }
}
