using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>We read what the real ostree wrote, and print what it prints.</summary>
public class ReadInteropTests
{
    public static TheoryData<string, string> Modes => Tools.PeersWith("archive", "bare-user", "bare");

    [Theory]
    [MemberData(nameof(Modes))]
    public void Ls_cat_log_show_and_checkouts_match_ostree(string peer, string mode)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true);
        var repo = "--repo=" + t["repo"];
        Tools.Peer(peer, "init", repo, "--mode=" + mode).Ok("init");
        Tools.Peer(peer, "commit", repo, "-b", "os/main", "-s", "First", "--add-metadata-string=version=7", "--timestamp=2022-02-02", t["in"]).Ok("commit");
        File.WriteAllText(t["in/README"], "second version\n");
        Tools.Peer(peer, "commit", repo, "-b", "os/main", "-s", "Second", "-m", "with a body", "--add-detached-metadata-string=k=v", t["in"]).Ok("commit");

        foreach (var args in new[]
        {
            new[] { "ls", "-R", "os/main" },
            ["ls", "-RXC", "os/main"],
            ["ls", "os/main", "/data", "/README"],
            ["ls", "-d", "os/main", "/data"],
            ["cat", "os/main", "/README", "/usr/share/big.txt"],
            ["log", "os/main"],
            ["show", "os/main"],
            ["show", "os/main^", "--print-metadata-key=version"],
            ["show", "os/main", "--print-metadata-key=ostree.ref-binding"],
            ["show", "os/main", "--print-detached-metadata-key=k"],
            ["rev-parse", "os/main^"],
            ["refs"],
            ["diff", "os/main^", "os/main"],
        })
        {
            var theirs = Tools.Peer(peer, [args[0], repo, .. args[1..]]);
            var ours = Tools.Ours([args[0], repo, .. args[1..]]);
            Assert.True(theirs.ExitCode == 0, theirs.Stderr);
            Assert.True(theirs.Stdout == ours.Stdout, $"'{string.Join(' ', args)}' differs:\n--- ostree\n{theirs.Stdout}\n--- ours\n{ours.Stdout}{ours.Stderr}");
        }

        Tools.Peer(peer, "checkout", repo, "os/main", t["co-theirs"]).Ok("ostree checkout");
        Tools.Ours("checkout", repo, "os/main", t["co-ours"]).Ok("our checkout");
        Assert.Equal(Tools.Describe(t["co-theirs"]), Tools.Describe(t["co-ours"]));

        if (mode != "archive")
        {
            var user = mode == "bare-user" ? new[] { "-U" } : [];
            Tools.Peer(peer, ["checkout", repo, "-H", .. user, "os/main", t["hl-theirs"]]).Ok("ostree checkout -H");
            Tools.Ours(["checkout", repo, "-H", .. user, "os/main", t["hl-ours"]]).Ok("our checkout -H");
            Assert.Equal(Tools.Describe(t["hl-theirs"]), Tools.Describe(t["hl-ours"]));
            var readme = OstreeSharp.Internal.Native.LStat(t["hl-ours/README"]);
            Assert.True(readme.NLink > 1, "checkout -H must hardlink to the object store");
        }

        Tools.Ours("checkout", repo, "--subpath=/data", "os/main", t["sub"]).Ok("subpath checkout");
        Assert.True(File.Exists(t["sub/binary.bin"]));
        Tools.Ours("checkout", repo, "--union", "os/main", t["co-ours"]).Ok("union checkout");
        var again = Tools.Ours("checkout", repo, "os/main", t["co-ours"]);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("File exists", again.Stderr);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Golden_vector_repository_is_read_like_ostree(string peer)
    {
        using var t = new TempDir();
        var src = Path.Combine(AppContext.BaseDirectory, "TestData", "ostree-vectors", "repo-archive");
        Tools.Run("cp", ["-r", src, t["repo"]]).Ok("cp");
        foreach (var d in new[] { "refs/remotes", "refs/mirrors", "state", "tmp", "extensions" })
        {
            Directory.CreateDirectory(t["repo/" + d]);
        }

        var repo = "--repo=" + t["repo"];
        foreach (var args in new[] { new[] { "log", "test/main" }, ["ls", "-RXC", "test/main"], ["show", "test/main", "--print-detached-metadata-key=note"] })
        {
            Assert.Equal(Tools.Peer(peer, [args[0], repo, .. args[1..]]).Ok("ostree"), Tools.Ours([args[0], repo, .. args[1..]]).Ok("ours"));
        }

        Tools.Ours("fsck", repo).Ok("our fsck of the vectors");
        Tools.Ours("summary", repo, "-u").Ok("summary");
        Tools.Peer(peer, "summary", repo, "-v").Ok("ostree reads our summary");
        Tools.Peer(peer, "fsck", repo).Ok("ostree fsck after our summary");
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Pull_local_between_modes_keeps_checksums(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true);
        Tools.Peer(peer, "init", "--repo=" + t["a"], "--mode=archive").Ok("init");
        var c = Tools.Peer(peer, "commit", "--repo=" + t["a"], "-b", "x", t["in"]).Ok("commit");
        foreach (var mode in new[] { "bare-user", "bare", "archive" })
        {
            Tools.Ours("init", "--repo=" + t[mode], "--mode=" + mode).Ok("init");
            Tools.Ours("pull-local", "--repo=" + t[mode], t["a"], "x").Ok("pull-local");
            Assert.Equal(c, Tools.Ours("rev-parse", "--repo=" + t[mode], "x").Out);
            Tools.Peer(peer, "fsck", "--repo=" + t[mode]).Ok("ostree fsck " + mode);
        }
    }
}
