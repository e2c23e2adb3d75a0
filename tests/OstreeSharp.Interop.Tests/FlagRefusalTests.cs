using OstreeSharp.TestSupport;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Refusals that scripts read, in ostree's words: checks of flags that need each other, made by the CLI (the library
/// names its options, not flags), and what `commit --bootable` says of a tree without a kernel. Each case runs the
/// real ostree and ours on the same repository; the exit status and the error line must be the same.
/// </summary>
public sealed class FlagRefusalTests : IDisposable
{
    private readonly TempDir _t = new();

    public void Dispose() => _t.Dispose();

    public static TheoryData<string, string> Cases => Tools.PeersWith(
        "prune --static-deltas-only",
        "pull --dry-run origin x",
        "pull-local --gpg-verify SRC x",
        "commit --bootable -b y TREE",
        "commit --bootable -b y TREE/usr",
        "commit --bootable -b y TREE/usr/lib",
        "commit --bootable -b y TREE/usr/lib/modules",
        "commit --bootable -b y TREE/usr/lib/modules/6.1");

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_refusal_is_worded_as_ostree_words_it(string peer, string command)
    {
        var lines = new List<string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            Directory.CreateDirectory(_t[tool]);
            var repo = _t[tool + "/repo"];
            run(["init", "--repo=" + repo, "--mode=archive"]).Ok(tool + " init");
            run(["init", "--repo=" + _t[tool + "/src"], "--mode=archive"]).Ok(tool + " init src");
            Directory.CreateDirectory(_t[tool + "/in/etc"]);
            File.WriteAllText(_t[tool + "/in/etc/a"], "a");
            run(["commit", "--repo=" + _t[tool + "/src"], "-b", "x", _t[tool + "/in"]]).Ok(tool + " commit");
            run(["remote", "add", "--repo=" + repo, "--no-gpg-verify", "origin", "http://127.0.0.1:9/"]).Ok(tool + " remote add");

            // The tree of the --bootable cases holds the folders up to the one named, and no kernel.
            var words = command.Split(' ');
            string[] argv = [words[0], "--repo=" + repo, .. words[1..].Select(w => w.Replace("SRC", _t[tool + "/src"], StringComparison.Ordinal))];
            if (words[^1].StartsWith("TREE", StringComparison.Ordinal))
            {
                var tree = _t[tool + "/tree"];
                Directory.CreateDirectory(tree + words[^1]["TREE".Length..]);
                File.WriteAllText(Path.Combine(tree, "marker"), "m");
                argv[^1] = tree;
            }

            var r = run(argv);
            Assert.True(r.ExitCode == 1, $"{tool} {command}: exit {r.ExitCode}: {r.Stderr}");
            lines.Add(r.Stderr.Trim().Split('\n')[^1]);
        }

        Assert.Equal(lines[0], lines[1]);
    }
}
