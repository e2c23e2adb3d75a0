namespace OstreeSharp.Interop.Tests;

/// <summary>Corruption, bad input and interrupted work.</summary>
public class RobustnessTests
{
    private static (TempDir T, string Repo, string Commit) MakeRepo(string mode)
    {
        var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=" + mode).Ok("init");
        var c = Tools.Ours("commit", "--repo=" + t["repo"], "-b", "x", t["in"]).Ok("commit");
        return (t, t["repo"], c);
    }

    private static string ObjectPath(string repo, string checksum, string ext) => Path.Combine(repo, "objects", checksum[..2], checksum[2..] + "." + ext);

    [Fact]
    public void Fsck_names_a_flipped_byte_a_truncated_dirtree_and_a_missing_object()
    {
        var (t, repo, _) = MakeRepo("bare-user");
        using var _ = t;
        Tools.Ours("fsck", "--repo=" + repo).Ok("fsck of a good repo");
        var ls = Tools.Ours("ls", "--repo=" + repo, "-RC", "x").Ok("ls");
        string ChecksumOf(string path) => ls.Split('\n').First(l => (l.EndsWith(" " + path, StringComparison.Ordinal) && !l.Contains(" -> ", StringComparison.Ordinal)) || l.Contains(" " + path + " -> ", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];
        string DirTreeOf(string path) => ls.Split('\n').First(l => l.EndsWith(" " + path, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];

        var readme = ChecksumOf("/README");
        var bytes = File.ReadAllBytes(ObjectPath(repo, readme, "file"));
        bytes[0] ^= 0x20;
        File.WriteAllBytes(ObjectPath(repo, readme, "file"), bytes);

        var binTree = DirTreeOf("/bin");
        var treePath = ObjectPath(repo, binTree, "dirtree");
        File.WriteAllBytes(treePath, File.ReadAllBytes(treePath)[..^3]);

        var tool = ChecksumOf("/usr/share/big.txt");
        File.Delete(ObjectPath(repo, tool, "file"));

        var r = Tools.Ours("fsck", "--repo=" + repo);
        Assert.NotEqual(0, r.ExitCode);
        // libostree's words ("In commits C: ID.TYPE: ...", "Object missing in commits C: ID.TYPE"), then the path.
        Assert.Matches($"(?m)^error: In commits [0-9a-f]{{64}}: {readme}\\.file: .* \\(path /README\\)$", r.Stderr);
        Assert.Matches($"(?m)^error: In commits [0-9a-f]{{64}}: {binTree}\\.dirtree: .* \\(path /bin\\)$", r.Stderr);
        Assert.Matches($"(?m)^Object missing in commits [0-9a-f]{{64}}: {tool}\\.file \\(path /usr/share/big.txt\\)$", r.Stderr);
        Assert.Matches("(?m)^Marking commit as partial: [0-9a-f]{64}$", r.Stderr); // for the missing object
        Assert.EndsWith("error: Repository corruption encountered", r.Stderr.Trim(), StringComparison.Ordinal);

        var del = Tools.Ours("fsck", "--repo=" + repo, "--delete");
        Assert.NotEqual(0, del.ExitCode);
        Assert.False(File.Exists(ObjectPath(repo, readme, "file")));

        // The commit stays partial, and fsck in error, until a pull brings its tree back; the real ostree agrees.
        var after = Tools.Ours("fsck", "--repo=" + repo);
        Assert.Equal(1, after.ExitCode);
        Assert.Equal("error: 1 partial commits from fsck-detected corruption", after.Stderr.Trim());
        Assert.Contains("1 partial commits not verified", after.Out, StringComparison.Ordinal);
        Assert.Equal("error: 1 partial commits from fsck-detected corruption", Tools.Ostree("fsck", "--repo=" + repo).Stderr.Trim());
    }

    [Fact]
    public void Fsck_of_an_archive_repo_finds_a_damaged_payload()
    {
        var (t, repo, _) = MakeRepo("archive");
        using var _ = t;
        var ls = Tools.Ours("ls", "--repo=" + repo, "-C", "x", "/usr/share/big.txt").Ok("ls");
        var big = ls.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4];
        var path = ObjectPath(repo, big, "filez");
        var bytes = File.ReadAllBytes(path);
        bytes[^20] ^= 0xff;
        File.WriteAllBytes(path, bytes);
        var r = Tools.Ours("fsck", "--repo=" + repo);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(big, r.Stderr);
        Assert.NotEqual(0, Tools.Ostree("fsck", "--repo=" + repo).ExitCode);
    }

    [Fact]
    public void Interrupted_commit_leaves_the_repository_as_it_was()
    {
        var (t, repo, first) = MakeRepo("archive");
        using var _ = t;
        File.WriteAllText(t["in/new-file"], "new\n");
        var before = Tools.Describe(repo, owners: false, xattrs: false).Where(kv => !kv.Key.StartsWith("/tmp", StringComparison.Ordinal) && kv.Key != "/.lock").ToList();
        var r = Tools.OursEnv(new Dictionary<string, string> { ["OSTREE_SHARP_FAULT"] = "before-publish" }, "commit", "--repo=" + repo, "-b", "x", t["in"]);
        Assert.NotEqual(0, r.ExitCode);
        var after = Tools.Describe(repo, owners: false, xattrs: false).Where(kv => !kv.Key.StartsWith("/tmp", StringComparison.Ordinal) && kv.Key != "/.lock").ToList();
        Assert.Equal(before, after);
        Assert.Equal(first, Tools.Ours("rev-parse", "--repo=" + repo, "x").Out);

        // The next transaction cleans the abandoned staging folder and succeeds.
        Tools.Ours("commit", "--repo=" + repo, "-b", "x", t["in"]).Ok("commit after the fault");
        Assert.Empty(Directory.GetDirectories(Path.Combine(repo, "tmp"), "staging-*"));
        Tools.Ostree("fsck", "--repo=" + repo).Ok("ostree fsck");
    }

    [Fact]
    public void A_commit_stopped_before_its_last_object_is_published_leaves_no_commit_without_its_tree()
    {
        // Found by bench/fault-inject.sh: objects were published in folder order, so a kill could leave the commit
        // object in objects/ with parts of its tree missing, which fsck calls corrupt. The commit now goes last.
        var (t, repo, first) = MakeRepo("archive");
        using var _ = t;
        Directory.CreateDirectory(t["in/many"]);
        for (int i = 0; i < 50; i++)
        {
            File.WriteAllText(t[$"in/many/f{i}"], $"file {i}\n");
        }

        var r = Tools.OursEnv(new Dictionary<string, string> { ["OSTREE_SHARP_FAULT"] = "before-last-object" }, "commit", "--repo=" + repo, "-b", "x", t["in"]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Equal(first, Tools.Ours("rev-parse", "--repo=" + repo, "x").Out);
        Assert.Single(Directory.GetFiles(Path.Combine(repo, "objects"), "*.commit", SearchOption.AllDirectories));
        Tools.Ours("fsck", "--repo=" + repo).Ok("our fsck");
        Tools.Ostree("fsck", "--repo=" + repo).Ok("ostree fsck");
        Tools.Ours("commit", "--repo=" + repo, "-b", "x", t["in"]).Ok("commit after the fault");
        Tools.Ostree("fsck", "--repo=" + repo).Ok("ostree fsck after the next commit");
    }

    [Theory]
    [InlineData("commit", "-b", "x", "/nonexistent/path")]
    [InlineData("checkout", "no-such-ref", "/tmp/never")]
    [InlineData("log", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("commit", "-b", "bad..ref name", ".")]
    [InlineData("cat", "x", "/no/such/file")]
    [InlineData("commit", "-b", "x", "--tree=zip=foo")]
    public void Bad_input_gives_one_line_and_a_nonzero_exit(params string[] args)
    {
        var (t, repo, first) = MakeRepo("bare-user");
        using var _ = t;
        var r = Tools.Ours([args[0], "--repo=" + repo, .. args[1..]]);
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Equal(first, Tools.Ours("rev-parse", "--repo=" + repo, "x").Out);
    }

    [Fact]
    public void Corrupt_metadata_is_refused_with_its_name()
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        var path = ObjectPath(repo, commit, "commit");
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var r = Tools.Ours("log", "--repo=" + repo, "x");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(commit, r.Stderr);
    }

    [Fact]
    public void Prune_deletes_unreachable_objects_and_ostree_agrees()
    {
        var (t, repo, first) = MakeRepo("archive");
        using var _ = t;
        File.WriteAllText(t["in/README"], "v2\n");
        Tools.Ours("commit", "--repo=" + repo, "-b", "x", t["in"]).Ok("commit 2");
        var dry = Tools.Ours("prune", "--repo=" + repo, "--refs-only", "--depth=0", "--no-prune").Ok("dry run");
        Assert.Contains("Would delete", dry);
        var r = Tools.Ours("prune", "--repo=" + repo, "--refs-only", "--depth=0").Ok("prune");
        Assert.Matches(@"Deleted \d+ objects, .* freed", r);
        Assert.NotEqual(0, Tools.Ours("log", "--repo=" + repo, first).ExitCode);
        Tools.Ostree("fsck", "--repo=" + repo).Ok("ostree fsck after prune");
        Assert.Contains("No unreachable objects", Tools.Ostree("prune", "--repo=" + repo, "--refs-only", "--depth=0").Ok("ostree prune"));
    }
}
