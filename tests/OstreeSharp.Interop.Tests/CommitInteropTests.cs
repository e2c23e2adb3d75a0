namespace OstreeSharp.Interop.Tests;

/// <summary>Our commits against `ostree commit` on the same trees and options.</summary>
public class CommitInteropTests
{
    private static readonly string[] CommonArgs =
    [
        "-b", "test/main", "--timestamp=2021-01-01 00:00:00 UTC", "-s", "Subject line", "-m", "Body\nsecond line",
        "--add-metadata-string=version=1.0", "--add-metadata=answer=uint32 42", "--add-metadata=tags=['a', 'b']",
    ];

    public static TheoryData<string, string, bool> Modes()
    {
        var data = new TheoryData<string, string, bool>();
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            data.Add(peer, "archive", false);
            data.Add(peer, "archive", true);
            data.Add(peer, "bare-user", false);
            data.Add(peer, "bare-user", true);
            data.Add(peer, "bare", false);
            data.Add(peer, "bare", true);
            data.Add(peer, "bare-user-only", false);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void Commit_checksum_equals_libostree_and_ostree_reads_it_back(string peer, string mode, bool ownerOverride)
    {
        using var t = new TempDir();
        var input = t["input"];
        TestTrees.WriteTricky(input, withOwners: !ownerOverride, withSpecialModes: true);
        var extra = ownerOverride ? new[] { "--owner-uid=0", "--owner-gid=0" } : [];
        Tools.Peer(peer, "init", "--repo=" + t["theirs"], "--mode=" + mode).Ok("ostree init");
        Tools.Ours("init", "--repo=" + t["ours"], "--mode=" + mode).Ok("ostree-sharp init");
        var theirs = Tools.Peer(peer, ["commit", "--repo=" + t["theirs"], .. CommonArgs, .. extra, input]).Ok("ostree commit");
        var ours = Tools.Ours(["commit", "--repo=" + t["ours"], .. CommonArgs, .. extra, input]).Ok("ostree-sharp commit");
        Assert.Equal(theirs, ours);

        Tools.Peer(peer, "fsck", "--repo=" + t["ours"]).Ok("ostree fsck of our repo");
        Tools.Peer(peer, "checkout", "--repo=" + t["ours"], "test/main", t["co-ours"]).Ok("ostree checkout of our commit");
        Tools.Peer(peer, "checkout", "--repo=" + t["theirs"], "test/main", t["co-theirs"]).Ok("ostree checkout of its commit");
        Assert.Equal(Tools.Describe(t["co-theirs"]), Tools.Describe(t["co-ours"]));
        if (mode != "bare-user-only" && !ownerOverride)
        {
            Assert.Equal(Tools.Describe(input), Tools.Describe(t["co-ours"]));
        }
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Second_commit_has_parent_and_detached_metadata_like_libostree(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in1"], withOwners: false);
        TestTrees.WriteTricky(t["in2"], withOwners: false);
        File.WriteAllText(t["in2/README"], "changed\n");
        foreach (var (tool, repo) in new[] { ("ostree", "theirs"), ("ours", "ours") })
        {
            Func<string[], RunResult> run = tool == "ostree" ? args => Tools.Peer(peer, args) : Tools.Ours;
            run(["init", "--repo=" + t[repo], "--mode=archive"]).Ok("init");
            run(["commit", "--repo=" + t[repo], "-b", "b", "--timestamp=2021-01-01", "--owner-uid=0", "--owner-gid=0", t["in1"]]).Ok("commit 1");
            run(["commit", "--repo=" + t[repo], "-b", "b", "--timestamp=2021-01-02", "--owner-uid=0", "--owner-gid=0", "--add-detached-metadata-string=note=hi", "--bind-ref=other", t["in2"]]).Ok("commit 2");
            run(["commit", "--repo=" + t[repo], "--orphan", "--timestamp=2021-01-03", "--tree=ref=b", "--tree=dir=" + t["in1"] + "/bin"]).Ok("commit 3");
        }

        Assert.Equal(Tools.Peer(peer, "rev-parse", "--repo=" + t["theirs"], "b").Out, Tools.Ours("rev-parse", "--repo=" + t["ours"], "b").Out);
        Assert.Equal(Tools.Peer(peer, "log", "--repo=" + t["theirs"], "b").Out, Tools.Ours("log", "--repo=" + t["ours"], "b").Out);
        Assert.Equal(
            Tools.Peer(peer, "show", "--repo=" + t["theirs"], "b", "--print-detached-metadata-key=note").Out,
            Tools.Ours("show", "--repo=" + t["ours"], "b", "--print-detached-metadata-key=note").Out);
        Tools.Peer(peer, "fsck", "--repo=" + t["ours"]).Ok("ostree fsck");
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Skip_list_statoverride_canonical_and_bootable_match_libostree(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true);
        Directory.CreateDirectory(t["in/usr/lib/modules/6.1.0-1-amd64"]);
        File.WriteAllText(t["in/usr/lib/modules/6.1.0-1-amd64/vmlinuz"], "kernel");
        File.WriteAllText(t["skip"], "/empty\n/data/dangling\n");
        File.WriteAllText(t["stat"], "2048 /bin/tool\n=384 /README\n");
        foreach (var args in new[]
        {
            new[] { "--skip-list=" + t["skip"], "--statoverride=" + t["stat"] },
            ["--canonical-permissions"],
            ["--bootable", "--add-metadata-string=version=2", "--owner-uid=0", "--owner-gid=0"],
            ["--no-xattrs", "--mode-ro-executables"],
        })
        {
            using var r = new TempDir();
            Tools.Peer(peer, "init", "--repo=" + r["theirs"], "--mode=bare-user").Ok("init");
            Tools.Ours("init", "--repo=" + r["ours"], "--mode=bare-user").Ok("init");
            var common = new[] { "-b", "x", "--timestamp=2021-06-01 12:00:00 UTC" };
            var theirs = Tools.Peer(peer, ["commit", "--repo=" + r["theirs"], .. common, .. args, t["in"]]).Ok("ostree commit");
            var ours = Tools.Ours(["commit", "--repo=" + r["ours"], .. common, .. args, t["in"]]).Ok("ostree-sharp commit");
            Assert.True(theirs == ours, $"checksums differ for {string.Join(' ', args)}");
        }
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Tar_tree_commit_matches_libostree(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false, withSpecialModes: false);
        // The tree keeps its binary xattr value (00 01 ff): PAX records are read binary-safe.
        Tools.Run("tar", ["--format=pax", "--xattrs", "--xattrs-include=user.*", "-C", t["in"], "-cf", t["tree.tar"], "."]).Ok("tar");
        Tools.Peer(peer, "init", "--repo=" + t["theirs"], "--mode=archive").Ok("init");
        Tools.Ours("init", "--repo=" + t["ours"], "--mode=archive").Ok("init");
        var args = new[] { "-b", "x", "--timestamp=2021-06-01", "--tree=tar=" + t["tree.tar"] };
        Assert.Equal(
            Tools.Peer(peer, ["commit", "--repo=" + t["theirs"], .. args]).Ok("ostree commit"),
            Tools.Ours(["commit", "--repo=" + t["ours"], .. args]).Ok("ostree-sharp commit"));
    }
}
