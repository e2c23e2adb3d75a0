using System.Text.RegularExpressions;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// A full disk and a read-only repository (issue "Hostile inputs and faults", item 3): clean one-line errors, nothing
/// corrupted, no staging folder left, and the next write succeeds once there is room. The repository sits on a small
/// tmpfs mounted in a private mount namespace (unshare -m), so nothing of this machine's is touched.
/// </summary>
public partial class FullDiskTests
{
    [GeneratedRegex(@"^== (?<name>\S+) rc=(?<rc>\d+)$", RegexOptions.Multiline)]
    private static partial Regex Step();

    // Runs the script in a private mount namespace with a 8 MiB tmpfs at $D; `step NAME CMD...` records each command's
    // exit code and error output, `show NAME CMD...` its exit code and all its output.
    private static Dictionary<string, (int Rc, string Err)> InNamespace(TempDir t, string script)
    {
        var ours = Tools.OursShell;
        var full = $$"""
            set -u
            D='{{t["disk"]}}'
            mkdir -p "$D"
            mount -t tmpfs -o size=8m tmpfs "$D"
            ours() { {{ours}} "$@"; }
            step() { local name=$1; shift; "$@" >/dev/null 2>"{{t.Path}}/err"; echo "== $name rc=$?"; cat "{{t.Path}}/err"; }
            show() { local name=$1; shift; "$@" >"{{t.Path}}/err" 2>&1; echo "== $name rc=$?"; cat "{{t.Path}}/err"; }
            {{script}}
            """;
        var r = Tools.Run("unshare", ["-m", "bash", "-c", full]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var steps = new Dictionary<string, (int, string)>(StringComparer.Ordinal);
        var matches = Step().Matches(r.Stdout);
        for (int i = 0; i < matches.Count; i++)
        {
            int start = matches[i].Index + matches[i].Length + 1;
            int end = i + 1 < matches.Count ? matches[i + 1].Index : r.Stdout.Length;
            steps[matches[i].Groups["name"].Value] = (int.Parse(matches[i].Groups["rc"].Value, System.Globalization.CultureInfo.InvariantCulture), start < end ? r.Stdout[start..end].Trim() : string.Empty);
        }

        return steps;
    }

    private static void AssertOneLine((int Rc, string Err) step, string what, string expected)
    {
        Assert.True(step.Rc == 1, $"{what}: exit {step.Rc}: {step.Err}");
        Assert.True(!step.Err.Contains('\n', StringComparison.Ordinal) && step.Err.StartsWith("error: ", StringComparison.Ordinal), $"{what}: {step.Err}");
        Assert.Contains(expected, step.Err);
    }

    private static void AssertOk((int Rc, string Err) step, string what) => Assert.True(step.Rc == 0, $"{what}: exit {step.Rc}: {step.Err}");

    [Fact]
    public void A_full_disk_fails_commit_pull_local_and_pull_cleanly_and_corrupts_nothing()
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["small"]);
        File.WriteAllText(t["small/a"], "a\n");
        Directory.CreateDirectory(t["big"]);
        File.WriteAllBytes(t["big/blob"], System.Security.Cryptography.RandomNumberGenerator.GetBytes(12 << 20));
        Tools.Ours("init", "--repo=" + t["src"], "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + t["src"], "-b", "big", t["big"]).Ok("commit");
        using var servers = new HttpServers();
        var url = servers.Static(t["src"]);

        var s = InNamespace(t, $$"""
            ours init --repo="$D/r" --mode=bare-user
            step commit-small ours commit --repo="$D/r" -b small '{{t["small"]}}'
            step commit-big ours commit --repo="$D/r" -b big '{{t["big"]}}'
            step pull-local ours pull-local --repo="$D/r" '{{t["src"]}}' big
            ours remote add --repo="$D/r" --no-gpg-verify origin '{{url}}'
            step pull ours pull --repo="$D/r" origin big
            step staging bash -c "ls '$D/r/tmp' | grep -q staging- && echo staging left >&2 && exit 1 || exit 0"
            show refs ours refs --repo="$D/r"
            step fsck ours fsck --repo="$D/r"
            step ostree-fsck ostree fsck --repo="$D/r"
            step checkout ours checkout --repo='{{t["src"]}}' big "$D/co"
            step checkout-left test ! -e "$D/co"
            step commit-again ours commit --repo="$D/r" -b again '{{t["small"]}}'
            """);
        AssertOk(s["commit-small"], "a small commit");
        AssertOneLine(s["commit-big"], "commit", "No space left on device");
        AssertOneLine(s["pull-local"], "pull-local", "No space left on device");
        AssertOneLine(s["pull"], "pull", "No space left on device");
        AssertOk(s["staging"], "no staging folder left");
        Assert.Equal((0, "small"), s["refs"]);
        AssertOk(s["fsck"], "our fsck");
        AssertOk(s["ostree-fsck"], "ostree fsck");
        AssertOneLine(s["checkout"], "checkout", "No space left on device");
        AssertOk(s["checkout-left"], "nothing left of the checkout");
        AssertOk(s["commit-again"], "the next commit");
    }

    [Fact]
    public void A_read_only_repository_refuses_writes_in_one_line_and_still_reads()
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["small"]);
        File.WriteAllText(t["small/a"], "a\n");
        Tools.Ours("init", "--repo=" + t["src"], "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + t["src"], "-b", "other", t["small"], "--add-metadata-string=v=2").Ok("commit");

        var s = InNamespace(t, $$"""
            ours init --repo="$D/r" --mode=archive
            ours commit --repo="$D/r" -b small '{{t["small"]}}' >/dev/null
            mount -o remount,ro "$D"
            step commit ours commit --repo="$D/r" -b x '{{t["small"]}}'
            step pull-local ours pull-local --repo="$D/r" '{{t["src"]}}' other
            step prune ours prune --repo="$D/r" --refs-only
            step refs ours refs --repo="$D/r"
            step fsck ours fsck --repo="$D/r"
            step ostree-fsck ostree fsck --repo="$D/r"
            step checkout ours checkout --repo="$D/r" small '{{t["co"]}}'
            """);
        AssertOneLine(s["commit"], "commit", "Read-only file system");
        AssertOneLine(s["pull-local"], "pull-local", "Read-only file system");
        AssertOneLine(s["prune"], "prune", "Read-only file system");
        AssertOk(s["refs"], "refs");
        AssertOk(s["fsck"], "our fsck");
        AssertOk(s["ostree-fsck"], "ostree fsck");
        AssertOk(s["checkout"], "checkout from a read-only repository");
        Assert.Equal("a\n", File.ReadAllText(t["co/a"]));
    }
}
