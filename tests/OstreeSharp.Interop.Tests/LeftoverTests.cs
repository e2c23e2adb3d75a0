namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Nothing half-written (issue "Hostile inputs and faults", item 6): a command that fails leaves no partial output
/// behind, and what a killed one left is cleaned by the next run. Each case left something before its fix.
/// </summary>
public class LeftoverTests
{
    private static string[] Listing(string dir) =>
        Directory.Exists(dir)
            ? [.. Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(dir, p)).Order(StringComparer.Ordinal)]
            : [];

    private static string MakeRepo(TempDir t, string mode)
    {
        TestTrees.WriteTricky(t["in"], withOwners: false);
        // Big enough that its layer is still being copied when a small blob is done.
        File.WriteAllBytes(Path.Combine(t["in"], "usr", "big"), System.Security.Cryptography.RandomNumberGenerator.GetBytes(4 << 20));
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=" + mode).Ok("init");
        Tools.Ours("commit", "--repo=" + t["repo"], "-b", "x", t["in"]).Ok("commit");
        return t["repo"];
    }

    [Fact]
    public void A_checkout_that_fails_leaves_no_destination_nor_the_folders_it_created()
    {
        using var t = new TempDir();
        var repo = MakeRepo(t, "archive");
        Tools.Ours("checkout", "--repo=" + repo, "x", t["good"]).Ok("checkout");
        Assert.True(File.Exists(Path.Combine(t["good"], "usr", "big")));

        // A content object gone: the checkout fails part-way through.
        var obj = Directory.EnumerateFiles(Path.Combine(repo, "objects"), "*.filez", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Last();
        File.Delete(obj);
        var r = Tools.Ours("checkout", "--repo=" + repo, "x", t["new/parent/dest"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(Path.GetFileName(Path.GetDirectoryName(obj))! + Path.GetFileNameWithoutExtension(obj), r.Stderr);
        Assert.DoesNotContain(Listing(t.Path), p => p.StartsWith("new", StringComparison.Ordinal) || p.Contains("checkout", StringComparison.Ordinal));

        // Into an existing folder (a union checkout) nothing is moved aside: what failed is reported.
        Directory.CreateDirectory(t["union"]);
        Assert.Equal(1, Tools.Ours("checkout", "--repo=" + repo, "--union", "x", t["union"]).ExitCode);
    }

    [Fact]
    public void A_failed_image_copy_leaves_no_new_layout_and_no_new_blobs_in_an_old_one()
    {
        using var t = new TempDir();
        var repo = MakeRepo(t, "archive");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "x", $"oci:{t["src"]}:good").Ok("encapsulate");
        Tools.Ours("image", "copy", $"oci:{t["src"]}:good", $"oci:{t["old"]}:good").Ok("copy");
        var before = Listing(t["old"]);

        // A second image in the source whose (big) layer is corrupt; its config is written before the layer fails.
        Tools.Ours("commit", "--repo=" + repo, "-b", "x", "--tree=ref=x", "--add-metadata-string=v=2").Ok("commit");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "x", $"oci:{t["src"]}:bad").Ok("encapsulate");
        var newBlobs = Listing(t["src"]).Where(p => p.StartsWith("blobs", StringComparison.Ordinal)).Except(before).ToList();
        var layer = newBlobs.Select(p => t["src/" + p]).Where(File.Exists).MaxBy(p => new FileInfo(p).Length)!;
        var bytes = File.ReadAllBytes(layer);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(layer, bytes);

        var r = Tools.Ours("image", "copy", $"oci:{t["src"]}:bad", $"oci:{t["new"]}:bad");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(Path.GetFileName(layer), r.Stderr);
        Assert.False(Path.Exists(t["new"]), string.Join(' ', Listing(t["new"])));

        Assert.Equal(1, Tools.Ours("image", "copy", $"oci:{t["src"]}:bad", $"oci:{t["old"]}:bad").ExitCode);
        Assert.Equal(before, Listing(t["old"]));
        Tools.Ours("image", "copy", $"oci:{t["old"]}:good", $"dir:{t["dir"]}").Ok("the old layout still reads");

        Assert.Equal(1, Tools.Ours("image", "copy", $"oci:{t["src"]}:bad", $"dir:{t["newdir"]}").ExitCode);
        Assert.False(Path.Exists(t["newdir"]));
    }

    [Fact]
    public void The_next_transaction_removes_staging_folders_and_lock_files_left_by_a_killed_one()
    {
        using var t = new TempDir();
        var repo = MakeRepo(t, "bare-user");
        var tmp = Path.Combine(repo, "tmp");
        // Killed between creating its lock file and its folder, after removing its folder, or mid-way (the last one by an
        // earlier build, whose lock was FOLDER.lock).
        File.WriteAllText(Path.Combine(tmp, "staging-0123456789abcdef0123456789abcdef-lock"), string.Empty);
        Directory.CreateDirectory(Path.Combine(tmp, "staging-fedcba9876543210fedcba9876543210", "ab"));
        File.WriteAllText(Path.Combine(tmp, "staging-fedcba9876543210fedcba9876543210.lock"), string.Empty);
        Directory.CreateDirectory(Path.Combine(tmp, "staging-00000000000000000000000000000000"));

        Tools.Ours("commit", "--repo=" + repo, "-b", "y", t["in"]).Ok("commit");
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp, "staging-*"));
        Tools.Ostree("fsck", "--repo=" + repo).Ok("ostree fsck");
    }
}
