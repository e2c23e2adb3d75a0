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

        // No free-space reserve, so that the writes run into the full disk itself.
        var s = InNamespace(t, $$"""
            ours init --repo="$D/r" --mode=bare-user
            ours config --repo="$D/r" set core.min-free-space-percent 0
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

    // The same steps with ostree 2026.4 and ours, each on a 32 MiB tmpfs of its own: the reserve of free space the
    // repository's config asks for refuses content objects with the same error line, whichever way they come (commit,
    // pull-local, pull over HTTP); metadata still goes in; a static delta that cannot fit is refused before any part
    // is fetched.
    [Fact]
    public void The_free_space_reserve_refuses_content_as_ostree_does()
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["small"]);
        File.WriteAllText(t["small/a"], "a\n");
        Directory.CreateDirectory(t["fresh"]);
        File.WriteAllText(t["fresh/b"], "b\n");
        foreach (var (name, mb) in new[] { ("four", 4), ("ten", 10), ("twelve", 12) })
        {
            Directory.CreateDirectory(t[name]);
            File.WriteAllBytes(t[name + "/blob"], System.Security.Cryptography.RandomNumberGenerator.GetBytes(mb << 20));
        }

        Tools.Ours("init", "--repo=" + t["src"], "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + t["src"], "-b", "ten", t["ten"]).Ok("commit");
        Tools.Ours("commit", "--repo=" + t["src"], "-b", "twelve", t["twelve"]).Ok("commit");
        Tools.Ours("static-delta", "generate", "--repo=" + t["src"], "--empty", "--to=twelve", "--min-fallback-size=0").Ok("delta");
        Tools.Ours("summary", "-u", "--repo=" + t["src"]).Ok("summary");
        using var servers = new HttpServers();
        var url = servers.Static(t["src"]);

        var s = InNamespace(t, $$"""
            theirs() { {{Tools.PeerCommand(Tools.V2026)}} "$@"; }
            for tool in theirs ours; do
                mkdir -p "$D/$tool" && mount -t tmpfs -o size=32m tmpfs "$D/$tool"
                R="$D/$tool/r"
                $tool init --repo="$R" --mode=bare-user
                $tool config --repo="$R" set core.min-free-space-size 20MB
                step $tool-small $tool commit --repo="$R" -b small '{{t["small"]}}'
                step $tool-four $tool commit --repo="$R" -b four '{{t["four"]}}'
                step $tool-ten $tool commit --repo="$R" -b ten '{{t["ten"]}}'
                step $tool-pull-local $tool pull-local --repo="$R" '{{t["src"]}}' ten
                $tool remote add --repo="$R" --no-gpg-verify origin '{{url}}'
                step $tool-pull $tool pull --repo="$R" --disable-static-deltas origin ten
                step $tool-staging bash -c "ls '$R/tmp' | grep -q staging- && echo staging left >&2 && exit 1 || exit 0"
                show $tool-refs $tool refs --repo="$R"
                $tool config --repo="$R" set core.min-free-space-size 40MB
                step $tool-meta $tool commit --repo="$R" -b meta --tree=ref=small --add-metadata-string=v=2
                $tool config --repo="$R" set core.min-free-space-size 0MB
                $tool config --repo="$R" set core.min-free-space-percent 90
                step $tool-percent $tool commit --repo="$R" -b fresh '{{t["fresh"]}}'
                $tool config --repo="$R" set core.min-free-space-percent 0
                head -c 20m /dev/zero > "$D/$tool/fill"
                step $tool-delta $tool pull --repo="$R" origin twelve
                sed -i 's/^min-free-space-percent=0$/min-free-space-percent=abc/' "$R/config"
                step $tool-invalid $tool refs --repo="$R"
                sed -i 's/^min-free-space-percent=abc$/min-free-space-percent=3/' "$R/config"
                step $tool-fsck $tool fsck --repo="$R"
            done
            """);
        foreach (var step in new[] { "small", "four", "meta", "fsck" })
        {
            AssertOk(s["theirs-" + step], "ostree " + step);
            AssertOk(s["ours-" + step], step);
        }

        Assert.Equal((0, "four\nsmall"), s["theirs-refs"]);
        Assert.Equal(s["theirs-refs"], s["ours-refs"]);
        AssertOk(s["ours-staging"], "no staging folder left");
        foreach (var (step, expected) in new[]
        {
            ("ten", "min-free-space-size 20MB would be exceeded, at least 10.5"),
            ("pull-local", "min-free-space-size 20MB would be exceeded"),
            ("pull", "min-free-space-size 20MB would be exceeded"),
            ("percent", "min-free-space-percent '90%' would be exceeded, at least 4.1"),
            ("invalid", "Invalid min-free-space-percent 'abc': must be a number"),
        })
        {
            AssertOneLine(s["theirs-" + step], "ostree " + step, expected);
            Assert.Equal(s["theirs-" + step], s["ours-" + step]);
        }

        // The delta's one part unpacks to the 12 MiB blob; what is free depends on each tool's layout of the repository.
        AssertOneLine(s["theirs-delta"], "ostree delta", "Delta requires 12.6");
        AssertOneLine(s["ours-delta"], "delta", "Delta requires 12.6");
        Assert.Equal(Regex.Replace(s["theirs-delta"].Err, "only .* available", "only N available"), Regex.Replace(s["ours-delta"].Err, "only .* available", "only N available"));
    }

    // libostree 2026.4 charges the reserve for every content object a commit writes, even one the repository already
    // has, so that a commit of unchanged files fails once the reserve is near; ours charges only objects it keeps.
    [Fact]
    public void A_commit_of_files_the_repository_has_needs_no_free_space()
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["ten"]);
        File.WriteAllBytes(t["ten/blob"], System.Security.Cryptography.RandomNumberGenerator.GetBytes(10 << 20));
        Directory.CreateDirectory(t["new"]);
        File.WriteAllBytes(t["new/blob"], System.Security.Cryptography.RandomNumberGenerator.GetBytes(10 << 20));
        // 32 MiB: after the first commit about 22 MiB are free, so a reserve of 15 MiB leaves less than the 10 MiB file.
        var s = InNamespace(t, $$"""
            mkdir -p "$D/big" && mount -t tmpfs -o size=32m tmpfs "$D/big"
            ours init --repo="$D/big/r" --mode=bare-user
            ours config --repo="$D/big/r" set core.min-free-space-size 1MB
            step first ours commit --repo="$D/big/r" -b first '{{t["ten"]}}'
            ours config --repo="$D/big/r" set core.min-free-space-size 15MB
            step again ours commit --repo="$D/big/r" -b again '{{t["ten"]}}'
            step other ours commit --repo="$D/big/r" -b other '{{t["ten"]}}' --add-metadata-string=v=2
            step new ours commit --repo="$D/big/r" -b new '{{t["new"]}}'
            """);
        AssertOk(s["first"], "the first commit");
        AssertOk(s["again"], "the same files again");
        AssertOk(s["other"], "the same files in another commit");
        AssertOneLine(s["new"], "a new file as large", "min-free-space-size 15MB would be exceeded, at least 10.5");
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
