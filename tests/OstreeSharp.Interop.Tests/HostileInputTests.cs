using System.Security.Cryptography;
using OstreeSharp.GVariant;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Hostile repositories and servers (issue "Hostile inputs and faults"): each case crashed, hung or published bad
/// objects before its fix; now it gets a one-line error and a non-zero exit, as the real ostree refuses it.
/// </summary>
public class HostileInputTests
{
    private static string ObjectPath(string repo, string checksum, string ext) => Path.Combine(repo, "objects", checksum[..2], checksum[2..] + "." + ext);

    // A byte inside `levels` variants.
    private static GVariantValue Nested(int levels)
    {
        var v = GVariantValue.FromVariant(GVariantValue.FromByte(1));
        for (int i = 1; i < levels; i++)
        {
            v = GVariantValue.FromVariant(v);
        }

        return v;
    }

    // The serialised commit with { "x": a byte inside `levels` variants }, built without recursing `levels` deep: a
    // variant holding an ay of the same length is serialised, then its last three bytes (zero, 'a', 'y') patched.
    private static string WriteDeepCommit(string repo, string commit, int levels, string refName)
    {
        var deep = new List<byte> { 0x01, 0x00, (byte)'y' };
        for (int i = 1; i < levels; i++)
        {
            deep.Add(0x00);
            deep.Add((byte)'v');
        }

        var body = deep.ToArray()[..^3];
        var c = GVariantValue.Parse(OstreeSharp.Objects.Commit.Type, File.ReadAllBytes(ObjectPath(repo, commit, "commit")));
        var members = Enumerable.Range(0, 8).Select(i => c[i]).ToArray();
        members[0] = GVariantValue.FromVarDict([new("x", GVariantValue.FromVariant(GVariantValue.FromBytes(body)))]);
        var bytes = GVariantValue.FromTuple(members).ToBytes();
        int at = bytes.AsSpan().IndexOf(body.Concat(new byte[] { 0x00, (byte)'a', (byte)'y' }).ToArray()) + body.Length;
        bytes[at] = deep[^3];
        bytes[at + 1] = deep[^2];
        bytes[at + 2] = deep[^1];
        var id = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Directory.CreateDirectory(Path.GetDirectoryName(ObjectPath(repo, id, "commit"))!);
        File.WriteAllBytes(ObjectPath(repo, id, "commit"), bytes);
        File.WriteAllText(Path.Combine(repo, "refs", "heads", refName), id + "\n");
        return id;
    }

    /// <summary>A copy of <paramref name="commit"/> whose metadata is { "x": value }, written as a loose object under ref <paramref name="refName"/>.</summary>
    private static string WriteCommitWithMetadata(string repo, string commit, GVariantValue value, string refName)
    {
        var c = GVariantValue.Parse(OstreeSharp.Objects.Commit.Type, File.ReadAllBytes(ObjectPath(repo, commit, "commit")));
        var members = Enumerable.Range(0, 8).Select(i => c[i]).ToArray();
        members[0] = GVariantValue.FromVarDict([new("x", value)]);
        var bytes = GVariantValue.FromTuple(members).ToBytes();
        var id = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Directory.CreateDirectory(Path.GetDirectoryName(ObjectPath(repo, id, "commit"))!);
        File.WriteAllBytes(ObjectPath(repo, id, "commit"), bytes);
        File.WriteAllText(Path.Combine(repo, "refs", "heads", refName), id + "\n");
        return id;
    }

    private static (TempDir T, string Repo, string Commit) MakeRepo(string mode)
    {
        var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=" + mode).Ok("init");
        var c = Tools.Ours("commit", "--repo=" + t["repo"], "-b", "x", t["in"]).Ok("commit");
        return (t, t["repo"], c);
    }

    // GLib reads a value nested past its 128 levels leniently (the part past the limit reads as `()`, how deep that is
    // depends on the path it was reached by), and ostree never asks whether commit metadata is in normal form: ostree
    // 2022.7 and 2026.4 show, fsck and pull-local such a commit. We parse strictly (normal form only, as everywhere),
    // counting every level from the object's root, and refuse it naming the object: a one-line error, never a stack
    // overflow. Below the limit both print the same.
    [Theory]
    [MemberData(nameof(Peers))]
    public void Metadata_nested_to_glibs_limit_prints_as_ostree_prints_it(string peer)
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        WriteDeepCommit(repo, commit, 120, "deep");
        var real = Tools.Peer(peer, "show", "--repo=" + repo, "--print-metadata-key=x", "deep").Ok("ostree show");
        Assert.Equal(real, Tools.Ours("show", "--repo=" + repo, "--print-metadata-key=x", "deep").Ok("show"));
        Assert.Contains("byte 0x01", real);
    }

    public static TheoryData<string> Peers => Tools.Peers;

    [Theory]
    [InlineData(128)]
    [InlineData(18_000)]
    public void Metadata_nested_past_glibs_limit_is_refused_by_every_reader_naming_the_commit(int levels)
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        var deep = WriteDeepCommit(repo, commit, levels, "deep");
        Tools.Ostree("show", "--repo=" + repo, "deep").Ok("ostree reads it leniently");
        foreach (var args in new[] { new[] { "show", "deep" }, ["log", "deep"], ["cat", "deep", "/README"], ["checkout", "deep", t["co"]] })
        {
            var r = Tools.OursCoded([args[0], "--repo=" + repo, .. args[1..]]);
            r.FailsWith(OstreeErrorCode.ObjectCorrupted, args[0]);
            Assert.Contains(deep, r.Stderr);
        }

        var fsck = Tools.Ours("fsck", "--repo=" + repo);
        Assert.Equal(1, fsck.ExitCode);
        Assert.Contains($"{deep}.commit: GVariant value is nested more than 128 levels deep", fsck.Stderr);

        Assert.False(Directory.Exists(t["co"]));
        Tools.Ours("init", "--repo=" + t["copy"], "--mode=archive").Ok("init");
        var pl = Tools.OursCoded("pull-local", "--repo=" + t["copy"], repo, "deep");
        pl.FailsWith(OstreeErrorCode.ObjectCorrupted, "pull-local");
        Assert.Contains(deep, pl.Stderr);
        Assert.Equal(string.Empty, Tools.Ours("refs", "--repo=" + t["copy"]).Out);
        Tools.Ostree("fsck", "--repo=" + t["copy"]).Ok("ostree fsck of the destination");
    }

    [Fact]
    public void Pull_from_a_server_refuses_a_deep_commit_a_deep_commitmeta_and_an_html_summary_with_their_urls()
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        using var servers = new HttpServers();
        var url = servers.Static(repo);
        var deep = WriteDeepCommit(repo, commit, 18_000, "deep");
        Tools.Ours("init", "--repo=" + t["dest"], "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + t["dest"], "--no-gpg-verify", "origin", url).Ok("remote add");

        var r = Tools.OursCoded("pull", "--repo=" + t["dest"], "origin", "deep");
        r.FailsWith(OstreeErrorCode.ObjectCorrupted, "pull of a deep commit");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(t["dest"], "objects"), "*", SearchOption.AllDirectories));
        Assert.Contains($"{deep}.commit", r.Stderr);
        Assert.Contains(url, r.Stderr);

        // The same nesting in the detached metadata of a good commit (fetched before any signature check). A remote
        // that verifies signatures refuses it, naming its URL; one that verifies nothing pulls the commit without it,
        // with a warning naming the URL, as ostree pulls a commit whose .commitmeta is garbage when gpg-verify is off
        // (libostree's test-commit-sign.sh).
        File.WriteAllBytes(ObjectPath(repo, commit, "commitmeta"), DeepMetadataBytes(File.ReadAllBytes(ObjectPath(repo, deep, "commit"))));
        var commitmetaUrl = $"{url}objects/{commit[..2]}/{commit[2..]}.commitmeta";
        Tools.Ours("remote", "add", "--repo=" + t["dest"], "verifying", url).Ok("remote add verifying");
        r = Tools.OursCoded("pull", "--repo=" + t["dest"], "verifying", "x");
        r.FailsWith(OstreeErrorCode.InvalidGVariant, "pull of a deep commitmeta from a remote that verifies");
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(t["dest"], "objects"), "*", SearchOption.AllDirectories));
        Assert.Contains(commitmetaUrl, r.Stderr);
        r = Tools.Ours("pull", "--repo=" + t["dest"], "origin", "x");
        Assert.True(r.ExitCode == 0, "pull without verification: " + r.Stderr);
        Assert.Contains(commitmetaUrl, r.Stderr);
        Assert.Equal(commit, Tools.Ours("rev-parse", "--repo=" + t["dest"], "origin:x").Ok("rev-parse"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(t["dest"], "objects"), "*.commitmeta", SearchOption.AllDirectories));
        Tools.Ostree("fsck", "--repo=" + t["dest"]).Ok("ostree fsck after the pull without the commitmeta");
        File.Delete(ObjectPath(repo, commit, "commitmeta"));
        Directory.Delete(t["dest"], recursive: true);
        Tools.Ours("init", "--repo=" + t["dest"], "--mode=archive").Ok("init again");
        Tools.Ours("remote", "add", "--repo=" + t["dest"], "--no-gpg-verify", "origin", url).Ok("remote add again");

        // An HTML page where the summary should be.
        File.WriteAllText(Path.Combine(repo, "summary"), "<html><body><h1>Welcome</h1><p>" + new string('x', 200) + "</p></body></html>\n");
        r = Tools.OursCoded("pull", "--repo=" + t["dest"], "origin", "x");
        r.FailsWith(OstreeErrorCode.InvalidGVariant, "pull with an html summary");
        Assert.Contains(url + "summary", r.Stderr);
        Assert.Equal(string.Empty, Tools.Ours("refs", "--repo=" + t["dest"]).Out);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(t["dest"], "objects"), "*", SearchOption.AllDirectories));
        Tools.Ostree("fsck", "--repo=" + t["dest"]).Ok("ostree fsck of the destination");
    }

    // The metadata dict of a serialised commit (its first member), cut out of the commit's bytes: the dict is the
    // first member, so it starts at 0 and ends at the first framing offset (the last bytes of the commit).
    private static byte[] DeepMetadataBytes(byte[] commit)
    {
        int w = commit.Length <= byte.MaxValue ? 1 : commit.Length <= ushort.MaxValue ? 2 : 4;
        long end = w switch
        {
            1 => commit[^1],
            2 => BitConverter.ToUInt16(commit, commit.Length - 2),
            _ => BitConverter.ToUInt32(commit, commit.Length - 4),
        };
        return commit[..(int)end];
    }

    [Fact]
    public async Task Serve_answers_after_a_page_that_lists_a_deep_commit()
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        var deep = WriteDeepCommit(repo, commit, 18_000, "deep");
        using var servers = new HttpServers();
        var (process, url) = servers.Ours(["--repo=" + repo, "--port=0", "--cache-dir=" + t["cache"]]);
        using var http = new HttpClient();
        var root = url[..url.IndexOf("/repo/", StringComparison.Ordinal)] + "/";
        var page = await http.GetAsync(new Uri(root));
        Assert.False(process.HasExited);
        Assert.True(page.IsSuccessStatusCode || (int)page.StatusCode >= 500, page.StatusCode.ToString());
        var config = await http.GetAsync(new Uri(url + "config"));
        Assert.True(config.IsSuccessStatusCode, config.StatusCode.ToString());
        var obj = await http.GetAsync(new Uri(url + $"objects/{deep[..2]}/{deep[2..]}.commit"));
        Assert.True(obj.IsSuccessStatusCode, obj.StatusCode.ToString());
        Assert.False(process.HasExited);
    }

    [Fact]
    public void Pull_gives_up_on_a_server_that_accepts_and_never_answers()
    {
        using var t = new TempDir();
        using var server = new SilentServer();
        var url = server.Url;
        Tools.Ours("init", "--repo=" + t["dest"], "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + t["dest"], "--no-gpg-verify", "origin", url).Ok("remote add");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = Tools.OursCoded("pull", "--repo=" + t["dest"], "--low-speed-time-seconds=1", "--network-retries=1", "origin", "x");
        r.FailsWith(OstreeErrorCode.FetchFailed, "pull from a silent server");
        Assert.Contains(url + "/config", r.Stderr); // the first request
        Assert.Contains("less than 1000 bytes/s for 1 s", r.Stderr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(2, server.Accepted); // the request and its one retry

        // --disable-retry-on-network-errors: the first stall fails the pull.
        r = Tools.OursCoded("pull", "--repo=" + t["dest"], "--low-speed-time-seconds=1", "--disable-retry-on-network-errors", "origin", "x");
        r.FailsWith(OstreeErrorCode.FetchFailed, "pull without retries");
        Assert.Equal(3, server.Accepted);
    }

    [Theory]
    [InlineData("heads/bad", "bad", "garbage here")]
    [InlineData("heads/os/bad", "os/bad", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("remotes/origin/x", "x", "zz")]
    public void Fsck_fails_on_a_ref_that_names_no_commit_in_ostrees_words(string file, string name, string content)
    {
        var (t, repo, _) = MakeRepo("archive");
        using var _ = t;
        Tools.Ours("fsck", "--repo=" + repo).Ok("fsck of a good repository");
        var path = Path.Combine(repo, "refs", file);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content + "\n");
        var expected = $"Loading commit for ref {name}: No such metadata object {content}.commit";
        var real = Tools.Ostree("fsck", "--repo=" + repo);
        Assert.Equal(1, real.ExitCode);
        Assert.Contains("error: " + expected, real.Stderr);
        var ours = Tools.Ours("fsck", "--repo=" + repo);
        Assert.Equal(1, ours.ExitCode);
        Assert.Contains("error: " + expected, ours.Stderr);
    }

    private static string WriteObject(string repo, string ext, byte[] bytes)
    {
        var id = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Directory.CreateDirectory(Path.GetDirectoryName(ObjectPath(repo, id, ext))!);
        File.WriteAllBytes(ObjectPath(repo, id, ext), bytes);
        return id;
    }

    [Theory]
    [InlineData("..", false)]
    [InlineData(".", false)]
    [InlineData("", false)]
    [InlineData("/abs", false)]
    [InlineData("a/b", false)]
    [InlineData("..", true)]
    [InlineData("a/b", true)]
    public void Pull_local_and_pull_refuse_a_tree_entry_named_outside_its_folder(string name, bool asFolder)
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        var c = OstreeSharp.Objects.Commit.Parse(File.ReadAllBytes(ObjectPath(repo, commit, "commit")));
        var root = OstreeSharp.Objects.DirTree.Parse(File.ReadAllBytes(ObjectPath(repo, c.RootTree.ToHex(), "dirtree")));
        var files = root.Files.ToList();
        var dirs = root.Dirs.ToList();
        if (asFolder)
        {
            dirs.Add(new OstreeSharp.Objects.DirTreeDir(name, dirs[0].TreeChecksum, dirs[0].MetaChecksum));
        }
        else
        {
            files.Add(new OstreeSharp.Objects.DirTreeFile(name, files[0].Checksum));
        }

        var tree = WriteObject(repo, "dirtree", new OstreeSharp.Objects.DirTree(files, dirs).ToBytes());
        var bad = new OstreeSharp.Objects.Commit(GVariantValue.FromVarDict([]), null, "bad", string.Empty, c.Timestamp, OstreeSharp.Objects.Checksum.Parse(tree), c.RootMeta);
        var badId = WriteObject(repo, "commit", bad.ToBytes());
        File.WriteAllText(Path.Combine(repo, "refs", "heads", "bad"), badId + "\n");

        // ostree refuses it too, except an empty name, which its filename check lets through (no folder can hold such
        // an entry: our fsck and checkout already called it corrupt, and now every path that brings objects in does).
        Tools.Ostree("init", "--repo=" + t["real"], "--mode=archive").Ok("init");
        Assert.Equal(name.Length == 0, Tools.Ostree("pull-local", "--repo=" + t["real"], repo, "bad").ExitCode == 0);

        Tools.Ours("init", "--repo=" + t["dest"], "--mode=archive").Ok("init");
        var r = Tools.OursCoded("pull-local", "--repo=" + t["dest"], repo, "bad");
        r.FailsWith(OstreeErrorCode.ObjectCorrupted, "pull-local");
        Assert.Contains($"{tree}.dirtree", r.Stderr);
        Assert.Equal(string.Empty, Tools.Ours("refs", "--repo=" + t["dest"]).Out);

        using var servers = new HttpServers();
        var url = servers.Static(repo);
        Tools.Ours("remote", "add", "--repo=" + t["dest"], "--no-gpg-verify", "origin", url).Ok("remote add");
        r = Tools.OursCoded("pull", "--repo=" + t["dest"], "origin", "bad");
        r.FailsWith(OstreeErrorCode.ObjectCorrupted, "pull");
        Assert.True(r.Stderr.Contains($"{tree}.dirtree", StringComparison.Ordinal), r.Stderr);
        Assert.Equal(string.Empty, Tools.Ours("refs", "--repo=" + t["dest"]).Out);
        Assert.False(File.Exists(ObjectPath(t["dest"], tree, "dirtree")));
        Tools.Ostree("fsck", "--repo=" + t["dest"]).Ok("ostree fsck of the destination");

        // A static delta made by the real ostree carries the same tree: applying it is refused alike.
        Tools.Ostree("static-delta", "generate", "--repo=" + repo, "--empty", "--inline", "--filename=" + t["bad.delta"], "bad").Ok("ostree static-delta generate");
        Tools.Ours("init", "--repo=" + t["offline"], "--mode=archive").Ok("init");
        r = Tools.OursCoded("static-delta", "apply-offline", "--repo=" + t["offline"], t["bad.delta"]);
        r.FailsWith(OstreeErrorCode.ObjectCorrupted, "apply-offline");
        Assert.True(r.Stderr.Contains($"{tree}.dirtree", StringComparison.Ordinal), r.Stderr);
        Assert.False(File.Exists(ObjectPath(t["offline"], tree, "dirtree")));
        Assert.False(File.Exists(ObjectPath(t["offline"], badId, "commit")));
        Tools.Ostree("fsck", "--repo=" + t["offline"]).Ok("ostree fsck after apply-offline");
    }

    // A commit whose tree is `levels` folders deep (d/d/d/...), written object by object as an attacker would.
    private static string WriteDeepTree(string repo, string commit, int levels, string refName)
    {
        var c = OstreeSharp.Objects.Commit.Parse(File.ReadAllBytes(ObjectPath(repo, commit, "commit")));
        var tree = WriteObject(repo, "dirtree", new OstreeSharp.Objects.DirTree([], []).ToBytes());
        for (int i = 0; i < levels; i++)
        {
            tree = WriteObject(repo, "dirtree", new OstreeSharp.Objects.DirTree([], [new OstreeSharp.Objects.DirTreeDir("d", OstreeSharp.Objects.Checksum.Parse(tree), c.RootMeta)]).ToBytes());
        }

        var deep = new OstreeSharp.Objects.Commit(GVariantValue.FromVarDict([]), null, "deep", string.Empty, c.Timestamp, OstreeSharp.Objects.Checksum.Parse(tree), c.RootMeta);
        var id = WriteObject(repo, "commit", deep.ToBytes());
        File.WriteAllText(Path.Combine(repo, "refs", "heads", refName), id + "\n");
        return id;
    }

    // Walks used to recurse once per folder: fsck, prune and pull-local of this tree overflowed the stack (the native
    // binary segfaulted). ostree 2022.7 reads it all.
    [Fact]
    public void A_tree_twelve_thousand_folders_deep_crashes_nothing()
    {
        var (t, repo, commit) = MakeRepo("archive");
        using var _ = t;
        var deep = WriteDeepTree(repo, commit, 12_000, "deep");
        foreach (var args in new[] { new[] { "fsck" }, ["ls", "-R", "deep"], ["show", "deep"], ["diff", "x", "deep"], ["prune", "--no-prune"] })
        {
            Tools.Ostree([args[0], "--repo=" + repo, .. args[1..]]).Ok("ostree " + args[0]);
            var r = Tools.Ours([args[0], "--repo=" + repo, .. args[1..]]);
            Assert.True(r.ExitCode == 0, $"{args[0]}: exit {r.ExitCode}: {r.Stderr}");
        }

        // Every other walk of a tree: listing, delta, tar export, overlay, SELinux labels, container image.
        Tools.Ours("static-delta", "generate", "--repo=" + repo, "--from=" + commit, "--to=deep").Ok("static-delta generate");
        Tools.Ours("tar", "export", "--repo=" + repo, "deep", "-o", t["deep.tar"]).Ok("tar export");
        Tools.Ours("commit", "--repo=" + repo, "-b", "overlay", "--tree=ref=deep", "--tree=ref=x").Ok("commit --tree=ref=");
        Tools.Ours("commit", "--repo=" + repo, "-b", "owned", "--owner-uid=5", "--tree=ref=deep").Ok("commit --tree=ref= --owner-uid");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "deep", $"oci:{t["layout"]}:deep").Ok("container encapsulate");

        // A checkout that deep goes past PATH_MAX: one clean error, no crash.
        var co = Tools.OursCoded("checkout", "--repo=" + repo, "deep", t["co"]);
        co.FailsWith(OstreeErrorCode.IOFailed, "checkout");
        Assert.False(Path.Exists(t["co"]), "a failed checkout leaves its destination half-written");

        Tools.Ours("init", "--repo=" + t["copy"], "--mode=archive").Ok("init");
        Tools.Ours("pull-local", "--repo=" + t["copy"], repo, "deep").Ok("pull-local");
        Assert.Equal(deep, Tools.Ours("rev-parse", "--repo=" + t["copy"], "deep").Out);
        Tools.Ostree("fsck", "--repo=" + t["copy"]).Ok("ostree fsck of the copy");
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(Path.Combine(t["copy"], "tmp")), e => Path.GetFileName(e).StartsWith("staging-", StringComparison.Ordinal));
    }

    // Item 7: errors that say what is wrong. A 0-byte superblock gave .NET's "Specified argument was out of the range
    // of valid values."; a config holding control bytes had them echoed raw (an escape sequence reached the terminal);
    // a 900 KB entry name was echoed whole.
    [Fact]
    public void Errors_name_the_object_and_come_clipped_and_escaped()
    {
        var (t, repo, _) = MakeRepo("archive");
        using var _ = t;
        File.WriteAllText(Path.Combine(t["in"], "new"), "new\n");
        Tools.Ours("commit", "--repo=" + repo, "-b", "x", t["in"]).Ok("commit");
        Tools.Ours("static-delta", "generate", "--repo=" + repo, "x").Ok("delta");
        var delta = Tools.Ours("static-delta", "list", "--repo=" + repo).Ok("list");
        var superblock = Directory.EnumerateFiles(Path.Combine(repo, "deltas"), "superblock", SearchOption.AllDirectories).Single();
        File.WriteAllBytes(superblock, []);
        Assert.NotEqual(0, Tools.Ostree("static-delta", "show", "--repo=" + repo, delta).ExitCode);
        var r = Tools.OursCoded("static-delta", "show", "--repo=" + repo, delta);
        r.FailsWith(OstreeErrorCode.InvalidData, "show");
        Assert.Contains("superblock: invalid static delta superblock", r.Stderr);
        Tools.Ours("init", "--repo=" + t["copy"], "--mode=archive").Ok("init");
        r = Tools.OursCoded("static-delta", "apply-offline", "--repo=" + t["copy"], Path.GetDirectoryName(superblock)!);
        r.FailsWith(OstreeErrorCode.InvalidData, "apply-offline");
        Assert.Contains(superblock, r.Stderr);

        var config = Path.Combine(repo, "config");
        File.WriteAllText(config, File.ReadAllText(config) + "\u0001\u0002 garbage\u001b[31m\n");
        r = Tools.OursCoded("refs", "--repo=" + repo);
        r.FailsWith(OstreeErrorCode.InvalidData, "refs");
        Assert.Contains(@"config:", r.Stderr);
        Assert.Contains(@"'\x01\x02 garbage\x1b[31m'", r.Stderr);

        using (var tar = new FileStream(t["long.tar"], FileMode.Create))
        {
            var w = new OstreeSharp.Tar.TarWriter(tar);
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "usr/" + new string('a', 900_000), Mode = 0x1A4 }, "x"u8);
            w.Finish();
        }

        Tools.Ours("init", "--repo=" + t["fresh"], "--mode=archive").Ok("init");
        r = Tools.OursCoded("commit", "--repo=" + t["fresh"], "-b", "long", "--tree=tar=" + t["long.tar"]);
        r.FailsWith(OstreeErrorCode.InvalidArchive, "commit");
        Assert.StartsWith($"error OSTREE1032: {t["long.tar"]}: ", r.Stderr);
        Assert.Matches(@"\(90000\d characters\)", r.Stderr);
        Assert.True(r.Stderr.Length < 1024, r.Stderr.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
