using System.Text.Json;
using OstreeSharp.Operations;

namespace OstreeSharp.Interop.Tests;

/// <summary>Static deltas against the real ostree: each side applies and pulls the other's, and bad deltas are refused.</summary>
public sealed class StaticDeltaTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly HttpServers _servers = new();

    public void Dispose()
    {
        _servers.Dispose();
        _tmp.Dispose();
    }

    /// <summary>An archive repository (made by <paramref name="tool"/>: "ours" or a peer version) with commits v1 and v2 on <c>os</c>: v2 edits a large file in place, adds one and a symlink, drops one.</summary>
    private (string Repo, string V1, string V2) TwoVersions(string name, string tool)
    {
        var tree = _tmp[name + "-tree"];
        TestTrees.WriteTricky(tree, withOwners: true);
        var big = new byte[600_000];
        new Random(7).NextBytes(big);
        Directory.CreateDirectory(Path.Combine(tree, "usr/lib"));
        File.WriteAllBytes(Path.Combine(tree, "usr/lib/libbig.so.1.0"), [.. big]);
        var repo = _tmp[name];
        Func<string[], RunResult> run = tool == "ours" ? Tools.Ours : args => Tools.Peer(tool, args);
        run(["init", "--repo=" + repo, "--mode=archive"]).Ok("init");
        var v1 = run(["commit", "--repo=" + repo, "-b", "os", "-s", "v1", tree]).Ok("commit v1").Trim();
        for (int i = 0; i < 300; i++)
        {
            big[(i * 1999) % big.Length] ^= 0x41;
        }

        File.Delete(Path.Combine(tree, "usr/lib/libbig.so.1.0"));
        File.WriteAllBytes(Path.Combine(tree, "usr/lib/libbig.so.1.1"), [.. big[..300_000], .. "inserted"u8, .. big[300_000..]]);
        File.WriteAllText(Path.Combine(tree, "README"), "Hello, OSTree, again!\n");
        File.WriteAllText(Path.Combine(tree, "usr/share/new-file"), string.Concat(Enumerable.Repeat("new\n", 5000)));
        File.CreateSymbolicLink(Path.Combine(tree, "usr/share/new-link"), "new-file");
        File.Delete(Path.Combine(tree, "empty"));
        var v2 = run(["commit", "--repo=" + repo, "-b", "os", "-s", "v2", tree]).Ok("commit v2").Trim();
        return (repo, v1, v2);
    }

    private static void Fsck(string peer, string repo) => Tools.Peer(peer, "fsck", "--repo=" + repo).Ok($"ostree {peer} fsck of {repo}");

    private static string DeltaDir(string repo, string from, string to) =>
        Path.Combine(repo, new Deltas.DeltaName(from is null ? null : Objects.Checksum.Parse(from), Objects.Checksum.Parse(to)).RelativeDir);

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Ostree_applies_and_shows_our_deltas(string peer)
    {
        var (repo, v1, v2) = TwoVersions("ours", "ours");
        var gen = JsonDocument.Parse(Tools.Ours("static-delta", "generate", "--repo=" + repo, "--json", "os").Ok("generate")).RootElement;
        Assert.Equal($"{v1}-{v2}", gen.GetProperty("name").GetString());
        Assert.Equal(1, gen.GetProperty("patched").GetInt32()); // libbig.so.1.1 as a bsdiff of libbig.so.1.0
        Tools.Ours("static-delta", "generate", "--repo=" + repo, "--empty", "--to=" + v2).Ok("generate --empty");
        Assert.Equal(new[] { v2, $"{v1}-{v2}" }.Order(StringComparer.Ordinal), Tools.Peer(peer, "static-delta", "list", "--repo=" + repo).Ok("ostree static-delta list").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        var shown = Tools.Peer(peer, "static-delta", "show", "--repo=" + repo, $"{v1}-{v2}").Ok("ostree static-delta show");
        Assert.Contains("bspatch=1", shown, StringComparison.Ordinal);
        Assert.Equal(shown, Tools.Ours("static-delta", "show", "--repo=" + repo, $"{v1}-{v2}").Ok("our show"));

        // From v1: ostree has v1 and applies the bsdiff delta.
        var target = _tmp["ostree-from-v1"];
        Tools.Peer(peer, "init", "--repo=" + target, "--mode=bare-user").Ok("init");
        Tools.Peer(peer, "pull-local", "--repo=" + target, repo, v1).Ok("pull-local v1");
        Tools.Peer(peer, "static-delta", "apply-offline", "--repo=" + target, Path.Combine(DeltaDir(repo, v1, v2), "superblock")).Ok("ostree apply-offline of our delta");
        Fsck(peer, target);
        Assert.Contains("libbig.so.1.1", Tools.Peer(peer, "ls", "--repo=" + target, "-R", v2).Ok("ls"), StringComparison.Ordinal);

        // From nothing, into every mode ostree applies deltas to offline.
        foreach (var mode in new[] { "bare-user", "archive" })
        {
            var scratch = _tmp["ostree-scratch-" + mode];
            Tools.Peer(peer, "init", "--repo=" + scratch, "--mode=" + mode).Ok("init");
            Tools.Peer(peer, "static-delta", "apply-offline", "--repo=" + scratch, Path.Combine(DeltaDir(repo, null!, v2), "superblock")).Ok("ostree apply-offline --empty delta into " + mode);
            Fsck(peer, scratch);
            Assert.Equal(
                Tools.Peer(peer, "ls", "--repo=" + repo, "-RC", v2).Ok("ls source"),
                Tools.Peer(peer, "ls", "--repo=" + scratch, "-RC", v2).Ok("ls applied"));
        }
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void We_apply_and_show_ostree_deltas(string peer)
    {
        var (repo, v1, v2) = TwoVersions("theirs", peer);
        Tools.Peer(peer, "static-delta", "generate", "--repo=" + repo, "os").Ok("ostree static-delta generate");
        Tools.Peer(peer, "static-delta", "generate", "--repo=" + repo, "--empty", "os").Ok("ostree static-delta generate --empty");
        foreach (var name in new[] { $"{v1}-{v2}", v2 })
        {
            Assert.Equal(Tools.Peer(peer, "static-delta", "show", "--repo=" + repo, name).Ok("ostree show"), Tools.Ours("static-delta", "show", "--repo=" + repo, name).Ok("our show"));
        }

        Assert.Equal(
            Tools.Peer(peer, "static-delta", "list", "--repo=" + repo).Ok("ostree list").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal),
            Tools.Ours("static-delta", "list", "--repo=" + repo).Ok("our list").Split('\n', StringSplitOptions.RemoveEmptyEntries));

        foreach (var mode in new[] { "bare-user", "archive", "bare" })
        {
            var target = _tmp["ours-" + mode];
            Tools.Ours("init", "--repo=" + target, "--mode=" + mode).Ok("init");
            if (mode != "bare")
            {
                Tools.Ours("pull-local", "--repo=" + target, repo, v1).Ok("pull-local v1");
                Assert.Equal(v2, Tools.Ours("static-delta", "apply-offline", "--repo=" + target, DeltaDir(repo, v1, v2)).Ok("our apply-offline").Trim());
            }
            else
            {
                Tools.Ours("static-delta", "apply-offline", "--repo=" + target, DeltaDir(repo, null!, v2)).Ok("our apply-offline from nothing");
            }

            Fsck(peer, target);
            Assert.Equal(
                Tools.Peer(peer, "ls", "--repo=" + repo, "-RC", v2).Ok("ls source"),
                Tools.Peer(peer, "ls", "--repo=" + target, "-RC", v2).Ok("ls applied"));
        }
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Pulls_use_the_other_side_deltas_over_http(string peer)
    {
        // Our deltas and summary, pulled by ostree.
        var (ours, o1, o2) = TwoVersions("ours", "ours");
        Tools.Ours("static-delta", "generate", "--repo=" + ours, "os").Ok("generate");
        Tools.Ours("summary", "--repo=" + ours, "-u").Ok("summary -u");
        Assert.Contains("ostree.static-deltas", Tools.Peer(peer, "summary", "--repo=" + ours, "-v").Ok("ostree summary -v"), StringComparison.Ordinal);
        var url = _servers.Static(ours);
        var client = _tmp["ostree-client"];
        Tools.Peer(peer, "init", "--repo=" + client, "--mode=bare-user").Ok("init");
        Tools.Peer(peer, "remote", "add", "--repo=" + client, "--no-gpg-verify", "origin", url).Ok("remote add");
        Tools.Peer(peer, "pull", "--repo=" + client, "--disable-static-deltas", "origin", o1).Ok("ostree pull v1");
        Tools.Peer(peer, "refs", "--repo=" + client, "--create=origin:os", o1).Ok("refs --create");
        var pulled = Tools.Peer(peer, "pull", "--repo=" + client, "--require-static-deltas", "origin", "os").Ok("ostree pull --require-static-deltas");
        Assert.Contains("1 delta parts", pulled, StringComparison.Ordinal);
        Fsck(peer, client);
        Assert.Equal(o2, Tools.Peer(peer, "rev-parse", "--repo=" + client, "origin:os").Ok("rev-parse").Trim());

        // ostree's deltas and summary, pulled by us: from v1, then from nothing.
        var (theirs, t1, t2) = TwoVersions("theirs", peer);
        Tools.Peer(peer, "static-delta", "generate", "--repo=" + theirs, "os").Ok("ostree generate");
        Tools.Peer(peer, "static-delta", "generate", "--repo=" + theirs, "--empty", "os").Ok("ostree generate --empty");
        Tools.Peer(peer, "summary", "--repo=" + theirs, "-u").Ok("ostree summary -u");
        var url2 = _servers.Static(theirs);
        foreach (var (name, from) in new[] { ("update", t1), ("from-scratch", (string?)null) })
        {
            var mine = _tmp["our-client-" + name];
            Tools.Ours("init", "--repo=" + mine, "--mode=bare-user").Ok("init");
            Tools.Ours("remote", "add", "--repo=" + mine, "--no-gpg-verify", "origin", url2).Ok("remote add");
            if (from is not null)
            {
                Tools.Ours("pull", "--repo=" + mine, "origin", from).Ok("pull v1");
                Tools.Ours("refs", "--repo=" + mine, "--create=origin:os", from).Ok("refs --create");
            }

            var j = JsonDocument.Parse(Tools.Ours("pull", "--repo=" + mine, "--require-static-deltas", "--json", "origin", "os").Ok("our pull")).RootElement;
            Assert.Equal(from is null ? t2 : $"{t1}-{t2}", Assert.Single(j.GetProperty("deltasUsed").EnumerateArray()).GetString());
            Fsck(peer, mine);
            Assert.Equal(t2, Tools.Ours("rev-parse", "--repo=" + mine, "origin:os").Ok("rev-parse").Trim());
        }

        // As libostree, an archive repository never applies static deltas: requiring them is refused in its words.
        var archive = _tmp["our-client-archive"];
        Tools.Ours("init", "--repo=" + archive, "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + archive, "--no-gpg-verify", "origin", url2).Ok("remote add");
        var refused = Tools.Ours("pull", "--repo=" + archive, "--require-static-deltas", "origin", "os");
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal("error: Can't use static deltas in an archive repo", refused.Stderr.Trim());
        var plain = JsonDocument.Parse(Tools.Ours("pull", "--repo=" + archive, "--json", "origin", "os").Ok("archive pull")).RootElement;
        Assert.Empty(plain.GetProperty("deltasUsed").EnumerateArray());
    }

    [Theory]
    [InlineData("--swap-endianness")]
    [InlineData("--inline")]
    public void Byteswapped_and_inline_deltas_are_pulled_by_ostree_and_dry_runs_print_ostree_line(string flag)
    {
        var (ours, o1, o2) = TwoVersions("shape" + flag, "ours");
        Tools.Ours("static-delta", "generate", "--repo=" + ours, flag, "os").Ok("generate " + flag);
        Tools.Ours("summary", "--repo=" + ours, "-u").Ok("summary -u");
        var dir = DeltaDir(ours, o1, o2);
        Assert.Equal(flag == "--inline" ? ["superblock"] : ["0", "superblock"], Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        if (flag == "--swap-endianness")
        {
            // (ostree's show reads parts from their files only, so it cannot show an inline delta, its own included.)
            Assert.Contains("Endianness: big", Tools.Ostree("static-delta", "show", "--repo=" + ours, $"{o1}-{o2}").Ok("ostree static-delta show"), StringComparison.Ordinal);
        }

        var url = _servers.Static(ours);
        var lines = new List<string>();
        foreach (var who in new[] { "ostree", "ours" })
        {
            var client = _tmp[$"client-{who}{flag}"];
            string Run(params string[] args) => who == "ours" ? Tools.Ours(args).Ok("ours " + args[0]) : Tools.Ostree(args).Ok("ostree " + args[0]);
            Run("init", "--repo=" + client, "--mode=bare-user");
            Run("remote", "add", "--repo=" + client, "--no-gpg-verify", "origin", url);
            Run("pull", "--repo=" + client, "origin", "os@" + o1);
            lines.Add(Run("pull", "--repo=" + client, "--dry-run", "--require-static-deltas", "origin", "os").Trim());
            Assert.Equal(o1, Run("rev-parse", "--repo=" + client, "origin:os").Trim()); // a dry run writes nothing
            Run("pull", "--repo=" + client, "--require-static-deltas", "origin", "os");
            Assert.Equal(o2, Run("rev-parse", "--repo=" + client, "origin:os").Trim());
            Fsck(Tools.V2022, client);
        }

        Assert.StartsWith("Delta update: 0/1 parts, ", lines[0], StringComparison.Ordinal);
        Assert.Equal(lines[0], lines[1]);
    }

    [Fact]
    public void A_corrupt_delta_is_refused_offline_and_bypassed_by_pull()
    {
        var (repo, v1, v2) = TwoVersions("corrupt", "ours");
        Tools.Ours("static-delta", "generate", "--repo=" + repo, "os").Ok("generate");
        Tools.Ours("summary", "--repo=" + repo, "-u").Ok("summary -u");
        var part = Path.Combine(DeltaDir(repo, v1, v2), "0");
        var bytes = File.ReadAllBytes(part);
        bytes[bytes.Length / 2] ^= 0xff;
        File.WriteAllBytes(part, bytes);

        var target = _tmp["target"];
        Tools.Ours("init", "--repo=" + target, "--mode=bare-user").Ok("init");
        Tools.Ours("pull-local", "--repo=" + target, repo, v1).Ok("pull-local v1");
        var r = Tools.Ours("static-delta", "apply-offline", "--repo=" + target, DeltaDir(repo, v1, v2));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(part, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("checksum", r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(target, "objects", v2[..2], v2[2..] + ".commit")), "nothing is published from a refused delta");

        // A pull notices the bad part, says so, and fetches objects instead.
        Tools.Ours("remote", "add", "--repo=" + target, "--no-gpg-verify", "origin", _servers.Static(repo)).Ok("remote add");
        Tools.Ours("refs", "--repo=" + target, "--create=origin:os", v1).Ok("refs --create");
        var pull = Tools.Ours("pull", "--repo=" + target, "--json", "origin", "os");
        var j = JsonDocument.Parse(pull.Ok("pull past a corrupt delta")).RootElement;
        Assert.Empty(j.GetProperty("deltasUsed").EnumerateArray());
        Assert.Contains("static delta", pull.Stderr, StringComparison.Ordinal);
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + target);

        // Unless deltas are required: then the pull fails.
        var strict = _tmp["strict"];
        Tools.Ours("init", "--repo=" + strict, "--mode=bare-user").Ok("init");
        Tools.Ours("pull-local", "--repo=" + strict, repo, v1).Ok("pull-local v1");
        Tools.Ours("remote", "add", "--repo=" + strict, "--no-gpg-verify", "origin", _servers.Static(repo)).Ok("remote add");
        Tools.Ours("refs", "--repo=" + strict, "--create=origin:os", v1).Ok("refs --create");
        var refused = Tools.Ours("pull", "--repo=" + strict, "--require-static-deltas", "origin", "os");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("checksum", refused.Stderr, StringComparison.Ordinal);
    }
}
