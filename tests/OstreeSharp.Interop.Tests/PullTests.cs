using System.Diagnostics;
using System.Text.Json;
using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>`pull` over HTTP: from a plain static server and from ours, verified, resumable; `serve --image`.</summary>
public sealed class PullTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly HttpServers _servers = new();

    public void Dispose()
    {
        _servers.Dispose();
        _tmp.Dispose();
    }

    /// <summary>A tree of <paramref name="files"/> distinct small files in nested folders, a symlink and an executable.</summary>
    private string Tree(int files, string salt = "")
    {
        var root = _tmp["tree" + salt];
        for (int i = 0; i < files; i++)
        {
            var dir = Path.Combine(root, "usr", "share", $"d{i % 37:D2}", $"s{i % 5}");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, $"f{i}.txt"), $"file {i} {salt} " + new string((char)('a' + (i % 26)), 100 + (i * 7 % 3000)));
        }

        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        File.WriteAllText(Path.Combine(root, "usr", "bin", "tool"), "#!/bin/sh\necho hi\n");
        OstreeSharp.Internal.Native.Chmod(Path.Combine(root, "usr", "bin", "tool"), 0x1ED);
        File.CreateSymbolicLink(Path.Combine(root, "usr", "bin", "alias"), "tool");
        return root;
    }

    /// <summary>The repository's object files, by path, sorted: what two pulls fetched, compared.</summary>
    private static string Objects(string repo) => string.Join('\n', Directory.EnumerateFiles(Path.Combine(repo, "objects"), "*", SearchOption.AllDirectories)
        .Select(f => Path.GetRelativePath(repo, f)).Order(StringComparer.Ordinal));

    private string NewRepo(string name, string mode, string url, params string[] remoteOptions)
    {
        var repo = _tmp[name];
        Tools.Ours("init", "--repo=" + repo, "--mode=" + mode).Ok("init " + name);
        Tools.Ours(["remote", "add", "--repo=" + repo, .. remoteOptions, "origin", url]).Ok("remote add");
        return repo;
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Our_pull_reads_a_repository_made_by_real_ostree_from_a_static_server(string peer)
    {
        var src = _tmp["src"];
        Tools.Peer(peer, "init", "--repo=" + src, "--mode=archive").Ok("ostree init");
        var tree = Tree(300);
        var first = Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os/stable", "-s", "one", "--add-metadata-string=version=1", tree).Ok("ostree commit 1");
        File.WriteAllText(Path.Combine(tree, "usr", "bin", "tool"), "#!/bin/sh\necho changed\n");
        var second = Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os/stable", "-s", "two", "--add-metadata-string=version=2", tree).Ok("ostree commit 2");
        Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os/other", "-s", "other", tree).Ok("ostree commit other");
        var url = _servers.Static(src);

        // Without a summary, refs come from refs/heads/.
        foreach (var mode in new[] { "archive", "bare-user" })
        {
            var dest = NewRepo("dest-" + mode, mode, url, "--no-gpg-verify");
            var json = Tools.Ours("pull", "--repo=" + dest, "--json", "origin", "os/stable").Ok("pull into " + mode);
            using var doc = JsonDocument.Parse(json);
            Assert.Equal(second, doc.RootElement.GetProperty("refs")[0].GetProperty("commit").GetString());
            Assert.True(doc.RootElement.GetProperty("contentFetched").GetInt32() > 300);
            Assert.Equal(second, Tools.Peer(peer, "rev-parse", "--repo=" + dest, "origin:os/stable").Ok("rev-parse"));
            Tools.Peer(peer, "fsck", "--repo=" + dest).Ok("ostree fsck");
            Assert.False(File.Exists(Path.Combine(dest, "state", second + ".commitpartial")));
            Assert.NotEqual(0, Tools.Peer(peer, "show", "--repo=" + dest, first).ExitCode); // depth 0: no parent
            Assert.Equal(Tools.Peer(peer, "ls", "--repo=" + src, "-R", "-X", second).Ok("ls src"), Tools.Peer(peer, "ls", "--repo=" + dest, "-R", "-X", second).Ok("ls dest"));

            // Again: nothing to fetch.
            using var again = JsonDocument.Parse(Tools.Ours("pull", "--repo=" + dest, "--json", "origin", "os/stable").Ok("pull again"));
            Assert.Equal(0, again.RootElement.GetProperty("contentFetched").GetInt32());
        }

        // --depth=1 brings the parent; only the changed file is fetched.
        var d1 = _tmp["dest-archive"];
        using (var deep = JsonDocument.Parse(Tools.Ours("pull", "--repo=" + d1, "--depth=1", "--json", "origin", "os/stable").Ok("pull --depth=1")))
        {
            Assert.Equal(1, deep.RootElement.GetProperty("contentFetched").GetInt32());
        }

        Assert.Contains("one", Tools.Peer(peer, "log", "--repo=" + d1, "origin:os/stable").Ok("log"), StringComparison.Ordinal);
        Tools.Peer(peer, "fsck", "--repo=" + d1).Ok("fsck after depth");

        // --commit-metadata-only: commits and a ref, the trees stay partial.
        var meta = NewRepo("meta", "archive", url, "--no-gpg-verify");
        Tools.Ours("pull", "--repo=" + meta, "--commit-metadata-only", "--depth=1", "origin", "os/stable").Ok("commit-metadata-only");
        Assert.Equal(second, Tools.Peer(peer, "rev-parse", "--repo=" + meta, "origin:os/stable").Ok("rev-parse meta"));
        Assert.True(File.Exists(Path.Combine(meta, "state", second + ".commitpartial")));
        Assert.True(File.Exists(Path.Combine(meta, "state", first + ".commitpartial")));
        Assert.Empty(Directory.GetFiles(Path.Combine(meta, "objects"), "*.filez", SearchOption.AllDirectories));

        // A later full pull completes the commit and clears its marker.
        Tools.Ours("pull", "--repo=" + meta, "origin", "os/stable").Ok("complete");
        Assert.False(File.Exists(Path.Combine(meta, "state", second + ".commitpartial")));
        Tools.Peer(peer, "fsck", "--repo=" + meta).Ok("fsck after completing");

        // A commit by checksum: no ref written.
        var byId = NewRepo("by-id", "archive", url, "--no-gpg-verify");
        Tools.Ours("pull", "--repo=" + byId, "origin", first).Ok("pull by checksum");
        Assert.Equal("", Tools.Peer(peer, "refs", "--repo=" + byId).Ok("refs"));
        Tools.Peer(peer, "fsck", "--repo=" + byId).Ok("fsck by id");

        // --mirror without refs needs a summary; with one, every ref becomes a local head and the summary is copied.
        var mirror = NewRepo("mirror", "archive", url, "--no-gpg-verify");
        var noSummary = Tools.Ours("pull", "--repo=" + mirror, "--mirror", "origin");
        Assert.Equal(1, noSummary.ExitCode);
        Assert.Contains("does not have a summary", noSummary.Stderr, StringComparison.Ordinal);
        Tools.Peer(peer, "summary", "--repo=" + src, "-u").Ok("ostree summary -u");
        Tools.Ours("pull", "--repo=" + mirror, "--mirror", "origin").Ok("pull --mirror");
        Assert.Equal(["os/other", "os/stable"], Tools.Peer(peer, "refs", "--repo=" + mirror).Ok("refs").Split('\n').Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, "summary")), File.ReadAllBytes(Path.Combine(mirror, "summary")));
        Tools.Peer(peer, "fsck", "--repo=" + mirror).Ok("fsck mirror");

        // No ref and no configured branches: ostree's error.
        var none = Tools.Ours("pull", "--repo=" + mirror, "origin");
        Assert.Equal(1, none.ExitCode);
        Assert.Contains("No configured branches for remote origin", none.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Subpath_pulls_fetch_the_same_objects_as_ostree_s_and_leave_the_commit_partial_until_a_full_pull(string peer)
    {
        var src = _tmp["src"];
        Tools.Peer(peer, "init", "--repo=" + src, "--mode=archive").Ok("ostree init");
        var tree = Tree(120);
        File.WriteAllText(Path.Combine(tree, "top"), "a file at the top\n");
        var commit = Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os", tree).Ok("ostree commit");
        var url = _servers.Static(src);

        var steps = new[] { new[] { "--subpath=/usr/share/d03", "--subpath=/usr/bin/tool" }, ["--subpath=/top"], [] };
        var dests = new Dictionary<string, string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            dests[tool] = NewRepo("dest-" + tool, "bare-user", url, "--no-gpg-verify");
        }

        foreach (var step in steps)
        {
            foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
            {
                run(["pull", "--repo=" + dests[tool], "--disable-static-deltas", .. step, "origin", "os"]).Ok($"{tool} pull {string.Join(' ', step)}");
            }

            var what = step.Length == 0 ? "full pull" : string.Join(' ', step);
            Assert.True(Objects(dests["theirs"]) == Objects(dests["ours"]), what + ": other objects than ostree's");
            bool partial = File.Exists(Path.Combine(dests["ours"], "state", commit + ".commitpartial"));
            Assert.Equal(File.Exists(Path.Combine(dests["theirs"], "state", commit + ".commitpartial")), partial);
            Assert.Equal(step.Length > 0, partial);
            Assert.Equal(commit, Tools.Peer(peer, "rev-parse", "--repo=" + dests["ours"], "origin:os").Ok("rev-parse"));
        }

        Tools.Peer(peer, "fsck", "--repo=" + dests["ours"]).Ok("ostree fsck");
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Contenturl_and_mirrorlists_split_metadata_from_objects_and_fall_over_to_the_next_mirror_as_ostree_does(string peer)
    {
        var src = _tmp["src"];
        Tools.Peer(peer, "init", "--repo=" + src, "--mode=archive").Ok("ostree init");
        var commit = Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os", Tree(60)).Ok("ostree commit");
        Tools.Peer(peer, "summary", "-u", "--repo=" + src).Ok("ostree summary");

        // Metadata only at url (no objects); objects at two mirrors behind a list whose first entry is no repository.
        var meta = _tmp["meta"];
        foreach (var f in Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories).Where(f => !f.Contains("/objects/", StringComparison.Ordinal)))
        {
            var to = Path.Combine(meta, Path.GetRelativePath(src, f));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(f, to);
        }

        var mirror1 = _tmp["mirror1"];
        Tools.Run("cp", ["-a", src, mirror1]).Ok("cp");

        // The content server of the split case holds objects only: no config, summary, refs or signatures.
        var content = _tmp["content"];
        Directory.CreateDirectory(content);
        Tools.Run("cp", ["-a", Path.Combine(src, "objects"), content]).Ok("cp objects");
        Assert.DoesNotContain(Directory.EnumerateFiles(content, "*", SearchOption.AllDirectories), f => !f.Contains("/objects/", StringComparison.Ordinal));
        var contentUrl = _servers.Static(content);

        var metaUrl = _servers.Static(meta);
        var srcUrl = _servers.Static(src);
        var list = _tmp["list"];
        Directory.CreateDirectory(list);
        File.WriteAllText(Path.Combine(list, "mirrorlist"), $"# mirrors\n\n{metaUrl}/nothing-here\nfile:///ignored\n{_servers.Static(mirror1)}\n{srcUrl}\n");
        var mirrorlist = "mirrorlist=" + _servers.Static(list) + "/mirrorlist";

        foreach (var (name, url, contenturl) in new[] { ("split", metaUrl, contentUrl), ("mirrorlist", mirrorlist, null), ("both", mirrorlist, mirrorlist) })
        {
            foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
            {
                var dest = _tmp[$"{name}-{tool}"];
                run(["init", "--repo=" + dest, "--mode=bare-user"]).Ok("init");
                string[] extra = contenturl is null ? [] : ["--contenturl=" + contenturl];
                run(["remote", "add", "--repo=" + dest, "--no-gpg-verify", .. extra, "origin", url]).Ok("remote add");
                run(["pull", "--repo=" + dest, "origin", "os"]).Ok($"{tool} pull ({name})");
                Assert.Equal(commit, Tools.Peer(peer, "rev-parse", "--repo=" + dest, "origin:os").Ok("rev-parse"));
                Tools.Peer(peer, "fsck", "--repo=" + dest).Ok("ostree fsck");
            }

            Assert.Equal(Objects(_tmp[$"{name}-theirs"]), Objects(_tmp[$"{name}-ours"]));
        }

        // A mirror that lacks objects: they come from the next one. (ostree 2022.7 and 2026.4 keep the first mirror's
        // 404 page as the object when the server sends one, and fail; so this is ours alone.)
        foreach (var f in Directory.EnumerateFiles(Path.Combine(mirror1, "objects"), "*.filez", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(10))
        {
            File.Delete(f);
        }

        var gaps = _tmp["gaps"];
        Tools.Ours("init", "--repo=" + gaps, "--mode=bare-user").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + gaps, "--no-gpg-verify", "origin", mirrorlist).Ok("remote add");
        Tools.Ours("pull", "--repo=" + gaps, "origin", "os").Ok("pull from a mirror with gaps");
        Tools.Peer(peer, "fsck", "--repo=" + gaps).Ok("ostree fsck");
        Assert.Equal(Objects(_tmp["mirrorlist-theirs"]), Objects(gaps));

        // A list without one working mirror: refused in ostree's words.
        File.WriteAllText(Path.Combine(list, "mirrorlist"), $"{metaUrl}/nothing-here\n");
        var dead = _tmp["dead"];
        Tools.Ours("init", "--repo=" + dead, "--mode=bare-user").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + dead, "--no-gpg-verify", "origin", mirrorlist).Ok("remote add");
        Assert.Contains("No valid mirrors were found in mirrorlist", Tools.Ours("pull", "--repo=" + dead, "origin", "os").Stderr);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void A_localcache_repo_supplies_what_it_has_and_the_counts_are_ostree_s(string peer)
    {
        var src = _tmp["src"];
        Tools.Peer(peer, "init", "--repo=" + src, "--mode=archive").Ok("ostree init");
        var tree = Tree(40);
        Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os", tree).Ok("ostree commit 1");
        var url = _servers.Static(src);
        var cache = NewRepo("cache", "archive", url, "--no-gpg-verify");
        Tools.Ours("pull", "--repo=" + cache, "origin", "os").Ok("pull into the cache");
        File.WriteAllText(Path.Combine(tree, "usr", "bin", "tool"), "#!/bin/sh\necho changed\n");
        var second = Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os", tree).Ok("ostree commit 2");

        // The counts before the first ';' (what came from where); the bytes differ by what each asks for.
        var lines = new Dictionary<string, string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var dest = NewRepo("dest-" + tool, "archive", url, "--no-gpg-verify");
            lines[tool] = run(["pull", "--repo=" + dest, "--localcache-repo=" + cache, "origin", "os"]).Ok(tool + " pull -L").Split('\n')[^1].Split(';')[0];
            Tools.Peer(peer, "fsck", "--repo=" + dest).Ok("ostree fsck");
            Assert.Equal(second, Tools.Peer(peer, "rev-parse", "--repo=" + dest, "origin:os").Ok("rev-parse"));
        }

        // ostree 2026.4 counts one fetched metadata object fewer than 2022.7 (whose count libostree's test suite
        // checks, and ours follows); what came from the cache is the same for both.
        Assert.Equal(peer == Tools.V2022 ? lines["theirs"] : lines["theirs"][lines["theirs"].IndexOf('(')..], peer == Tools.V2022 ? lines["ours"] : lines["ours"][lines["ours"].IndexOf('(')..]);
        Assert.Contains("content local)", lines["ours"]);
    }

    [Fact]
    public void A_file_remote_of_a_bare_repository_is_held_to_the_remote_s_sign_verify()
    {
        var src = _tmp["bare-src"];
        Tools.Ours("init", "--repo=" + src, "--mode=bare-user").Ok("init");
        var key = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Repeat((byte)7, 32).ToArray());
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "main", Tree(5)).Ok("commit unsigned");
        var dest = NewRepo("signed-dest", "bare-user", "file://" + src, "--no-gpg-verify", "--sign-verify=ed25519=inline:" + key.PublicKey.Base64);
        var unsigned = Tools.Ours("pull", "--repo=" + dest, "origin", "main");
        Assert.True(unsigned.ExitCode != 0 && unsigned.Stderr.Contains("No signatures found", StringComparison.Ordinal), unsigned.Stderr);
        Tools.Ours("sign", "--repo=" + src, commit, key.Base64).Ok("sign");
        Tools.Ours("pull", "--repo=" + dest, "origin", "main").Ok("pull signed");
        Assert.Equal(commit, Tools.Ours("rev-parse", "--repo=" + dest, "origin:main").Ok("rev-parse"));
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void An_altered_object_is_refused_and_no_ref_moves(string peer)
    {
        var src = _tmp["src"];
        Tools.Peer(peer, "init", "--repo=" + src, "--mode=archive").Ok("init");
        Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os", Tree(40)).Ok("commit");
        var victim = Directory.GetFiles(Path.Combine(src, "objects"), "*.filez", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).First();
        var bytes = File.ReadAllBytes(victim);
        bytes[^3] ^= 0x01;
        File.WriteAllBytes(victim, bytes);
        var (_, url) = _servers.Ours(["--repo=" + src, "--port=0", "--quiet"]);
        var dest = NewRepo("dest", "bare-user", url, "--no-gpg-verify");
        var pull = Tools.Ours("pull", "--repo=" + dest, "origin", "os");
        Assert.Equal(1, pull.ExitCode);
        var hex = Path.GetFileName(Path.GetDirectoryName(victim)) + Path.GetFileNameWithoutExtension(victim);
        Assert.Contains(hex, pull.Stderr, StringComparison.Ordinal);
        Assert.Equal("", Tools.Peer(peer, "refs", "--repo=" + dest).Ok("refs"));
        Assert.False(Directory.EnumerateFiles(Path.Combine(dest, "objects"), hex[2..] + ".*", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public void Commits_are_checked_against_the_remotes_keys_before_their_trees_are_fetched()
    {
        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "os", Tree(20)).Ok("commit");
        var key = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());
        var (_, url) = _servers.Ours(["--repo=" + src, "--port=0", "--quiet"]);

        // gpg-verify is on unless turned off, as in ostree: an unsigned commit is refused.
        var gpg = NewRepo("gpg", "archive", url);
        var refused = Tools.Ours("pull", "--repo=" + gpg, "origin", "os");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains(commit, refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("GPG", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(gpg, "objects"), "*.filez", SearchOption.AllDirectories));

        var signed = NewRepo("signed", "archive", url, "--no-gpg-verify", "--sign-verify=ed25519=inline:" + key.PublicKey.Base64);
        var unsigned = Tools.Ours("pull", "--repo=" + signed, "origin", "os");
        Assert.Equal(1, unsigned.ExitCode);
        Assert.Contains(commit, unsigned.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(signed, "objects"), "*.filez", SearchOption.AllDirectories));

        Tools.Ours("sign", "--repo=" + src, commit, key.Base64).Ok("sign");
        Tools.Ours("pull", "--repo=" + signed, "origin", "os").Ok("pull signed");
        Assert.Equal(commit, Tools.Ostree("rev-parse", "--repo=" + signed, "origin:os").Ok("rev-parse"));
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + signed);
    }

    [Fact]
    public async Task A_pull_cut_off_by_a_dying_server_resumes_without_fetching_finished_objects_again()
    {
        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "os", Tree(2500)).Ok("commit");
        int total = Directory.GetFiles(Path.Combine(src, "objects"), "*.filez", SearchOption.AllDirectories).Length;
        int port = HttpServers.FreePort();
        var log1 = new List<string>();
        var (server, url) = _servers.Ours(["--repo=" + src, "--port=" + port], log1);
        var dest = NewRepo("dest", "archive", url, "--no-gpg-verify");

        // Kill the server once a fifth of the content has been served.
        var killer = Task.Run(() =>
        {
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromMinutes(2))
            {
                lock (log1)
                {
                    if (log1.Count(l => l.Contains(".filez", StringComparison.Ordinal)) >= total / 5)
                    {
                        break;
                    }
                }

                Thread.Sleep(5);
            }

            HttpServers.Stop(server);
        });
        var cut = Tools.Ours("pull", "--repo=" + dest, "--network-retries=0", "--max-requests=2", "origin", "os");
        await killer;
        Assert.Equal(1, cut.ExitCode);
        Assert.Contains("GET " + url, cut.Stderr, StringComparison.Ordinal);
        Assert.Equal("", Tools.Ostree("refs", "--repo=" + dest).Ok("no ref yet"));
        Assert.True(File.Exists(Path.Combine(dest, "state", commit + ".commitpartial")));
        var kept = Directory.GetFiles(Path.Combine(dest, "objects"), "*.filez", SearchOption.AllDirectories)
            .Select(f => Path.GetFileName(Path.GetDirectoryName(f)) + "/" + Path.GetFileName(f)).ToHashSet(StringComparer.Ordinal);
        Assert.True(kept.Count >= total / 10, $"only {kept.Count} of {total} objects kept");
        Assert.True(kept.Count < total);
        Tools.EveryPeerOk("a partial commit is a valid repository", "fsck", "--repo=" + dest);

        var log2 = new List<string>();
        _servers.Ours(["--repo=" + src, "--port=" + port], log2);
        Tools.Ours("pull", "--repo=" + dest, "origin", "os").Ok("resumed pull");
        Assert.Equal(commit, Tools.Ostree("rev-parse", "--repo=" + dest, "origin:os").Ok("rev-parse"));
        Assert.False(File.Exists(Path.Combine(dest, "state", commit + ".commitpartial")));
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + dest);
        List<string> second;
        lock (log2)
        {
            second = log2.Where(l => l.Contains(".filez", StringComparison.Ordinal)).ToList();
        }

        Assert.Equal(total - kept.Count, second.Count);
        Assert.DoesNotContain(second, l => kept.Any(k => l.Contains(k, StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("theirs", "ours")]
    [InlineData("ours", "theirs")]
    public void A_pull_that_stopped_before_publishing_is_resumed_from_its_staging_folder_by_the_other_tool(string first, string second)
    {
        // libostree's transaction resume: a staging folder of this boot that no one holds is taken over, with what
        // it staged. ostree 2026.4 and ours each take over the other's (same names, same locks, same layout).
        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "os", Tree(120)).Ok("commit");
        var log = new List<string>();
        var (_, url) = _servers.Ours(["--repo=" + src, "--port=0"], log);
        var dest = _tmp["dest"];
        var boot = new Dictionary<string, string> { ["OSTREE_BOOTID"] = "0123456789abcdef0123456789abcdef" };
        RunResult Tool(string who, IDictionary<string, string> env, params string[] args) =>
            who == "ours" ? Tools.OursEnv(env, args) : Tools.Run(Tools.PeerCommand(Tools.V2026), args, env);
        Tool(first, boot, "init", "--repo=" + dest, "--mode=bare-user").Ok("init");
        Tool(first, boot, "remote", "add", "--repo=" + dest, "--no-gpg-verify", "origin", url).Ok("remote add");

        // libostree's test hook fails the commit of the transaction before anything is published.
        var failed = Tool(first, new Dictionary<string, string>(boot) { ["OSTREE_REPO_TEST_ERROR"] = "pre-commit" }, "pull", "--repo=" + dest, "origin", "os");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.Contains("OSTREE_REPO_TEST_ERROR_PRE_COMMIT specified", failed.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(dest, "objects"), "*.file", SearchOption.AllDirectories));
        var staging = Assert.Single(Directory.GetDirectories(Path.Combine(dest, "tmp"), "staging-" + boot["OSTREE_BOOTID"] + "-*"));
        int staged = Directory.GetFiles(staging, "*.file", SearchOption.AllDirectories).Length;
        Assert.True(staged > 0, "nothing staged");
        int before;
        lock (log)
        {
            before = log.Count;
            Assert.Contains(log, l => l.Contains(".filez", StringComparison.Ordinal));
        }

        Tool(second, boot, "pull", "--repo=" + dest, "origin", "os").Ok(second + " pull");
        Assert.Equal(commit, Tool(second, boot, "rev-parse", "--repo=" + dest, "origin:os").Ok("rev-parse"));
        lock (log)
        {
            Assert.DoesNotContain(log.Skip(before), l => l.Contains(".filez", StringComparison.Ordinal)); // nothing fetched again
        }

        Assert.False(Directory.Exists(staging));
        Assert.Equal(staged, Directory.GetFiles(Path.Combine(dest, "objects"), "*.file", SearchOption.AllDirectories).Length);
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + dest);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Ostree_pulls_the_commit_inside_an_image_from_serve_image(string peer)
    {
        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        var tree = Tree(50);
        Directory.CreateDirectory(Path.Combine(tree, "usr", "lib", "modules", "6.1.0-test"));
        File.WriteAllText(Path.Combine(tree, "usr", "lib", "modules", "6.1.0-test", "vmlinuz"), "kernel");
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "os/stable", "-s", "in an image", tree).Ok("commit");
        var layout = _tmp["layout"];
        Tools.Ours("container", "encapsulate", "--repo=" + src, "--expose-repo-port=8080", "os/stable", $"oci:{layout}:v1").Ok("encapsulate");

        // EXPOSE 8080, as the config says.
        using (var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(layout, "index.json"))))
        {
            var manifestDigest = index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!;
            using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", manifestDigest[7..])));
            var configDigest = manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!;
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(layout, "blobs", "sha256", configDigest[7..])));
            Assert.True(config.RootElement.GetProperty("config").GetProperty("ExposedPorts").TryGetProperty("8080/tcp", out _));
        }

        var cache = _tmp["cache"];
        var (server, url) = _servers.Ours(["--image=oci:" + layout + ":v1", "--ref=os/stable", "--cache-dir=" + cache, "--port=0", "--quiet"]);
        var dest = _tmp["dest"];
        Tools.Peer(peer, "init", "--repo=" + dest, "--mode=bare-user").Ok("init dest");
        Tools.Peer(peer, "remote", "add", "--repo=" + dest, "--no-gpg-verify", "img", url).Ok("remote add");
        Tools.Peer(peer, "pull", "--repo=" + dest, "img", "os/stable").Ok("ostree pull from serve --image");
        Assert.Equal(commit, Tools.Peer(peer, "rev-parse", "--repo=" + dest, "img:os/stable").Ok("rev-parse"));
        Tools.Peer(peer, "fsck", "--repo=" + dest).Ok("fsck");
        Assert.Equal(Tools.Peer(peer, "ls", "--repo=" + src, "-R", "-X", commit).Ok("ls src"), Tools.Peer(peer, "ls", "--repo=" + dest, "-R", "-X", commit).Ok("ls dest"));

        // A restart on the same cache imports nothing again.
        HttpServers.Stop(server);
        var (_, url2) = _servers.Ours(["--image=oci:" + layout + ":v1", "--ref=os/stable", "--cache-dir=" + cache, "--port=0", "--quiet"]);
        var dest2 = NewRepo("dest2", "archive", url2, "--no-gpg-verify");
        Tools.Ours("pull", "--repo=" + dest2, "origin", "os/stable").Ok("our pull from serve --image");
        Assert.Equal(commit, Tools.Peer(peer, "rev-parse", "--repo=" + dest2, "origin:os/stable").Ok("rev-parse 2"));
    }

    [Fact]
    public void A_host_deployed_from_an_http_remote_upgrades_from_it()
    {
        var build = _tmp["build"];
        Tools.Ours("init", "--repo=" + build, "--mode=archive").Ok("init build");
        string Commit(int n)
        {
            SysrootTests.WriteOsTree(_tmp["os" + n], n);
            return Tools.Ours("commit", "--repo=" + build, "--branch=exampleos/stable", "--tree=dir=" + _tmp["os" + n], "--owner-uid=0", "--owner-gid=0", "--bootable", $"--add-metadata-string=version={n}.0").Ok("commit " + n);
        }

        var rev1 = Commit(1);
        var (_, url) = _servers.Ours(["--repo=" + build, "--port=0", "--quiet"]);
        var sr = _tmp["sysroot"];
        var repo = Path.Combine(sr, "ostree", "repo");
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        Tools.Ours("admin", "os-init", "--sysroot=" + sr, "exampleos").Ok("os-init");
        Tools.Ours("remote", "add", "--repo=" + repo, "--no-gpg-verify", "origin", url).Ok("remote add");
        Tools.Ours("pull", "--repo=" + repo, "origin", "exampleos/stable").Ok("pull into the sysroot");
        Tools.Ours("admin", "deploy", "--sysroot=" + sr, "--os=exampleos", "origin:exampleos/stable").Ok("deploy");
        Assert.Equal(77, Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--check").ExitCode);

        var rev2 = Commit(2);
        Assert.Contains("Update available", Tools.Ours("admin", "upgrade", "--sysroot=" + sr, "--check").Ok("upgrade --check"), StringComparison.Ordinal);
        Tools.Ours("admin", "upgrade", "--sysroot=" + sr).Ok("upgrade");
        var s = OstreeSharp.Sysroot.OstreeSysroot.Open(sr);
        Assert.Equal([rev2, rev1], s.Deployments.Select(d => d.Commit.ToHex()));
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + repo);
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            Assert.Contains("exampleos " + rev2, Tools.Peer(peer, "admin", "status", "--sysroot=" + sr).Ok($"ostree {peer} admin status"), StringComparison.Ordinal);
        }
    }
}
