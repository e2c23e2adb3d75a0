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
    public void Source_date_epoch_is_read_and_refused_as_libostree_reads_it(string peer)
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["in"]);
        File.WriteAllText(t["in/f"], "x\n");
        foreach (var tool in new[] { "theirs", "ours" })
        {
            Tools.Peer(peer, "init", "--repo=" + t[tool], "--mode=archive").Ok("init");
        }

        foreach (var value in new[] { "1234567890", "invalid", "12345678901234567890", " 42abc", "-5" })
        {
            var env = new Dictionary<string, string> { ["SOURCE_DATE_EPOCH"] = value };
            var theirs = Tools.Run(Tools.PeerCommand(peer), ["commit", "--repo=" + t["theirs"], "-b", "env", "-s", "x", t["in"]], env);
            var ours = Tools.OursEnv(env, "commit", "--repo=" + t["ours"], "-b", "env", "-s", "x", t["in"]);
            Assert.True(theirs.ExitCode == ours.ExitCode && theirs.Out == ours.Out && theirs.Stderr.Trim() == ours.Stderr.Trim(),
                $"SOURCE_DATE_EPOCH='{value}': ostree ({theirs.ExitCode}) {theirs.Out}{theirs.Stderr} / ours ({ours.ExitCode}) {ours.Out}{ours.Stderr}");
        }
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Generate_sizes_lists_every_object_of_the_commit_as_libostree_does(string peer)
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["in/d"]);
        File.WriteAllText(t["in/d/f"], "hello\n");
        File.WriteAllText(t["in/g"], "x\n");
        File.CreateSymbolicLink(t["in/d/l"], "f");
        var at = "--timestamp=2020-01-01";
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            run(["init", "--repo=" + t[tool], "--mode=archive"]).Ok("init");
        }

        // The second commit reuses most objects: libostree lists them all, written or already kept.
        foreach (var content in new[] { "x\n", "y\n" })
        {
            File.WriteAllText(t["in/g"], content);
            var theirs = Tools.Peer(peer, "commit", "--repo=" + t["theirs"], "-b", "m", "--generate-sizes", at, t["in"]).Ok("ostree commit --generate-sizes");
            Assert.Equal(theirs, Tools.Ours("commit", "--repo=" + t["ours"], "-b", "m", "--generate-sizes", at, t["in"]).Ok("our commit --generate-sizes"));
        }

        Assert.Equal(Tools.Peer(peer, "show", "--repo=" + t["theirs"], "--print-sizes", "m").Out, Tools.Ours("show", "--repo=" + t["ours"], "--print-sizes", "m").Out);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Base_keep_metadata_table_output_devino_and_tar_pathname_filter_match_libostree(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        Directory.CreateDirectory(t["overlay/bin"]);
        File.WriteAllText(t["overlay/bin/extra"], "extra\n");
        Directory.CreateDirectory(t["tarsrc/foo/bar"]);
        File.WriteAllText(t["tarsrc/foo/bar/x"], "x\n");
        File.WriteAllText(t["tarsrc/foo/y"], "y\n");
        Tools.Run("tar", ["-C", t["tarsrc"], "-cf", t["in.tar"], "foo"]).Ok("tar");
        var outputs = new Dictionary<string, List<string>>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var repo = "--repo=" + t[tool];
            var at = "--timestamp=2021-06-01 12:00:00 UTC";
            var lines = outputs[tool] = [];
            run(["init", repo, "--mode=bare-user"]).Ok("init");
            lines.Add(run(["commit", repo, "-b", "x", at, "--add-metadata-string=KITTENS=yes", "--add-metadata=SOMENUM=uint64 3", "--add-metadata-string=FOO=bar", t["in"]]).Ok(tool + " commit"));
            lines.Add(run(["commit", repo, "-b", "x", at, "--keep-metadata=KITTENS", "--keep-metadata=SOMENUM", t["in"]]).Ok(tool + " --keep-metadata"));
            lines.Add(run(["commit", repo, "-b", "x", at, "--keep-metadata=FOO", t["in"]]).Stderr.Trim());
            lines.Add(run(["commit", repo, "--orphan", at, "--keep-metadata=FOO", t["in"]]).Stderr.Trim());
            lines.Add(run(["commit", repo, "-b", "based", at, "--base", "x", "--owner-uid=42", "--owner-gid=42", "--table-output", t["overlay"]]).Ok(tool + " --base --table-output"));
            run(["checkout", repo, "-U", "x", t[tool + "-co"]]).Ok(tool + " checkout");
            lines.Add(run(["commit", repo, "-b", "x", at, "--link-checkout-speedup", "--table-output", t[tool + "-co"]]).Ok(tool + " --link-checkout-speedup"));
            lines.Add(run(["commit", repo, "-b", "x", at, "-I", "--table-output", t[tool + "-co"]]).Ok(tool + " --devino-canonical"));
            lines.Add(run(["commit", repo, "-b", "tar", at, "--tar-autocreate-parents", "--tar-pathname-filter=^foo/,usr/lib/\\0-", "--tree=tar=" + t["in.tar"]]).Ok(tool + " --tar-pathname-filter"));
            lines.Add(run(["commit", repo, "-b", "tar", "--tar-pathname-filter=nocomma", "--tree=tar=" + t["in.tar"]]).Stderr.Trim());
            lines.Add(run(["ls", repo, "-R", "tar"]).Ok(tool + " ls"));
        }

        Assert.Equal(outputs["theirs"], outputs["ours"]);
        Assert.Contains(outputs["ours"], l => l.Contains("Content Cache Hits: ", StringComparison.Ordinal) && !l.Contains("Content Cache Hits: 0", StringComparison.Ordinal));
        Assert.Contains(outputs["ours"], l => l.Contains("/usr/lib/foo/-bar/x", StringComparison.Ordinal));
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
