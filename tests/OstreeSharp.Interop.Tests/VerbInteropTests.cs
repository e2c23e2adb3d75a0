using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>The smaller verbs, each next to the real ostree.</summary>
public class VerbInteropTests
{
    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Checksum_config_refs_reset_and_diff_against_a_directory(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true);
        foreach (var f in new[] { "README", "data/binary.bin", "link-to-readme", "bin/setuid" })
        {
            Assert.Equal(Tools.Peer(peer, "checksum", t["in/" + f]).Ok("ostree checksum"), Tools.Ours("checksum", t["in/" + f]).Ok("our checksum"));
        }

        var repo = "--repo=" + t["repo"];
        Tools.Peer(peer, "init", repo, "--mode=bare-user").Ok("init");
        var c1 = Tools.Ours("commit", repo, "-b", "x", t["in"]).Ok("commit 1");
        File.WriteAllText(t["in/README"], "changed\n");
        File.Delete(t["in/empty"]);
        File.WriteAllText(t["in/added"], "new\n");
        var c2 = Tools.Ours("commit", repo, "-b", "x", t["in"]).Ok("commit 2");

        Assert.Equal(Tools.Peer(peer, "diff", repo, c1, t["in"]).Ok("ostree diff dir"), Tools.Ours("diff", repo, c1, t["in"]).Ok("our diff dir"));
        Assert.Equal(Tools.Peer(peer, "diff", repo, "x^", "x").Ok("ostree diff"), Tools.Ours("diff", repo, "x^", "x").Ok("our diff"));

        Tools.Ours("config", repo, "set", "core.tombstone-commits", "true").Ok("config set");
        Assert.Equal("true", Tools.Peer(peer, "config", repo, "get", "core.tombstone-commits").Ok("ostree config get"));
        Tools.Peer(peer, "config", repo, "set", "remote.origin.url", "http://127.0.0.1/repo").Ok("ostree config set");
        Assert.Equal("http://127.0.0.1/repo", Tools.Ours("config", repo, "get", "remote.origin.url").Ok("our config get"));
        Assert.NotEqual(0, Tools.Ours("config", repo, "get", "core.nope").ExitCode);

        Tools.Ours("refs", repo, "--create=other/branch", "x").Ok("refs --create");
        Assert.Equal(Tools.Peer(peer, "refs", repo).Out, Tools.Ours("refs", repo).Out);
        Assert.Equal(Tools.Peer(peer, "refs", repo, "other").Out, Tools.Ours("refs", repo, "other").Out);
        Tools.Ours("refs", repo, "--delete", "other").Ok("refs --delete");
        Assert.Equal("x", Tools.Peer(peer, "refs", repo).Out);

        Tools.Ours("reset", repo, "x", c1).Ok("reset");
        Assert.Equal(c1, Tools.Peer(peer, "rev-parse", repo, "x").Out);
        Assert.NotEqual(0, Tools.Peer(peer, "reset", repo, "nosuchref", c2).ExitCode);
        Assert.NotEqual(0, Tools.Ours("reset", repo, "nosuchref", c2).ExitCode);
        Tools.Ours("reset", repo, "x", c2).Ok("reset to a commit that is no ancestor any more, as ostree allows");
        Assert.Equal(c2, Tools.Peer(peer, "rev-parse", repo, "x").Out);
        Tools.Peer(peer, "fsck", repo).Ok("ostree fsck");
    }

    [Fact]
    public void Prune_keep_younger_than_and_delete_commit_with_tombstones()
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        var repo = "--repo=" + t["repo"];
        Tools.Ours("init", repo, "--mode=archive").Ok("init");
        Tools.Ours("config", repo, "set", "core.tombstone-commits", "true").Ok("config");
        var old = Tools.Ours("commit", repo, "-b", "x", "--timestamp=2020-01-01", t["in"]).Ok("commit old");
        File.WriteAllText(t["in/README"], "2\n");
        var mid = Tools.Ours("commit", repo, "-b", "x", "--timestamp=2023-01-01", t["in"]).Ok("commit mid");
        File.WriteAllText(t["in/README"], "3\n");
        Tools.Ours("commit", repo, "-b", "x", "--timestamp=2024-01-01", t["in"]).Ok("commit new");
        Tools.Ours("prune", repo, "--refs-only", "--depth=0", "--keep-younger-than=2022-06-01").Ok("prune");
        Assert.NotEqual(0, Tools.Ours("show", repo, old).ExitCode);
        Tools.Ours("show", repo, mid).Ok("mid commit kept");
        var orphan = Tools.Ours("commit", repo, "--orphan", t["in/bin"]).Ok("orphan");
        Tools.Ours("prune", repo, "--delete-commit=" + orphan).Ok("delete commit");
        var hex = orphan;
        Assert.True(File.Exists(Path.Combine(t["repo"], "objects", hex[..2], hex[2..] + ".tombstone-commit")));
        Tools.EveryPeerOk("fsck", "fsck", repo);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Ed25519_sign_verify_and_delete_from_the_command_line(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        var secret = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
        var other = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(new byte[32]);
        File.WriteAllText(t["secret.key"], secret.Base64 + "\n");
        File.WriteAllText(t["trusted.pub"], secret.PublicKey.Base64 + "\n");
        var repo = "--repo=" + t["repo"];
        Tools.Ours("init", repo, "--mode=archive").Ok("init");
        var c = Tools.Ours("commit", repo, "-b", "x", "--sign-from-file=" + t["secret.key"], "--add-detached-metadata-string=k=v", t["in"]).Ok("signed commit");
        Assert.Contains(Convert.ToHexStringLower(secret.PublicKey.Bytes), Tools.Ours("sign", repo, "--verify", "--keys-file=" + t["trusted.pub"], c).Ok("verify"));
        Assert.Equal("'v'", Tools.Peer(peer, "show", repo, c, "--print-detached-metadata-key=k").Out);
        var wrong = Tools.Ours("sign", repo, "--verify", c, other.PublicKey.Base64);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.StartsWith("error: ", wrong.Stderr);
        Tools.Ours("sign", repo, c, other.Base64).Ok("second signature");
        Tools.Ours("sign", repo, "--verify", c, other.PublicKey.Base64).Ok("verify with the second key");
        Tools.Ours("sign", repo, "--delete", c, secret.PublicKey.Base64).Ok("delete");
        Assert.NotEqual(0, Tools.Ours("sign", repo, "--verify", "--keys-file=" + t["trusted.pub"], c).ExitCode);
        Tools.Peer(peer, "fsck", repo).Ok("ostree fsck with signed detached metadata");
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Remotes_are_written_as_ostree_writes_them_and_drive_verification(string peer)
    {
        using var t = new TempDir();
        foreach (var (tool, repo) in new[] { ("ostree", "theirs"), ("ours", "ours") })
        {
            Func<string[], RunResult> run = tool == "ostree" ? args => Tools.Peer(peer, args) : Tools.Ours;
            run(["init", "--repo=" + t[repo], "--mode=archive"]).Ok("init");
            run(["remote", "add", "--repo=" + t[repo], "--no-gpg-verify", "--set=foo=bar", "origin", "http://127.0.0.1:8080/repo", "main", "other"]).Ok("remote add");
            run(["remote", "add", "--repo=" + t[repo], "second", "http://127.0.0.1/r"]).Ok("remote add 2");
            Assert.NotEqual(0, run(["remote", "add", "--repo=" + t[repo], "origin", "http://x"]).ExitCode);
            run(["remote", "add", "--repo=" + t[repo], "--if-not-exists", "origin", "http://x"]).Ok("if-not-exists");
        }

        Assert.Equal(File.ReadAllText(t["theirs/config"]), File.ReadAllText(t["ours/config"]));
        foreach (var args in new[] { new[] { "list" }, ["list", "-u"], ["show-url", "origin"] })
        {
            Assert.Equal(Tools.Peer(peer, ["remote", args[0], "--repo=" + t["theirs"], .. args[1..]]).Ok("ostree remote"), Tools.Ours(["remote", args[0], "--repo=" + t["ours"], .. args[1..]]).Ok("our remote"));
        }

        Tools.Ours("remote", "delete", "--repo=" + t["ours"], "second").Ok("delete");
        Assert.Equal("origin", Tools.Peer(peer, "remote", "list", "--repo=" + t["ours"]).Out);
        Assert.NotEqual(0, Tools.Ours("remote", "delete", "--repo=" + t["ours"], "nope").ExitCode);
        Tools.Ours("remote", "delete", "--repo=" + t["ours"], "--if-exists", "nope").Ok("if-exists");

        // A remote with an ed25519 key: signed commits verify, unsigned ones are refused.
        var key = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Range(5, 32).Select(i => (byte)i).ToArray());
        Tools.Ours("remote", "add", "--repo=" + t["ours"], "--no-gpg-verify", "--sign-verify=ed25519=inline:" + key.PublicKey.Base64, "signed", "http://127.0.0.1/s").Ok("remote add signed");
        TestTrees.WriteTricky(t["in"], withOwners: false);
        var signed = Tools.Ours("commit", "--repo=" + t["ours"], "-b", "a", "--sign=" + key.Base64, t["in"]).Ok("signed commit");
        var unsigned = Tools.Ours("commit", "--repo=" + t["ours"], "-b", "b", t["in"]).Ok("unsigned commit");
        var ours = OstreeSharp.Repository.OstreeRepo.Open(t["ours"]);
        var policy = OstreeSharp.Signing.VerificationPolicy.ForRemote(ours, "signed");
        Assert.Equal(key.PublicKey, OstreeSharp.Signing.CommitVerifier.Verify(ours, OstreeSharp.Objects.Checksum.Parse(signed), policy)!.Ed25519Key);
        var e = Assert.Throws<OstreeSharp.Signing.SignatureException>(() => OstreeSharp.Signing.CommitVerifier.Verify(ours, OstreeSharp.Objects.Checksum.Parse(unsigned), policy));
        Assert.Equal(OstreeSharp.Signing.SignatureFailure.NoSignature, e.Reason);
        Assert.True(OstreeSharp.Signing.VerificationPolicy.ForRemote(OstreeSharp.Repository.OstreeRepo.Open(t["theirs"]), "second").RequireGpg);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Checkout_processes_docker_whiteouts_and_many_checkouts_from_a_file_as_ostree_does(string peer)
    {
        using var t = new TempDir();
        var repo = "--repo=" + t["repo"];
        Tools.Peer(peer, "init", repo, "--mode=bare-user").Ok("init");
        Directory.CreateDirectory(t["l1/d/sub"]);
        Directory.CreateDirectory(t["l2/d"]);
        File.WriteAllText(t["l1/a"], "a\n");
        File.WriteAllText(t["l1/keep"], "k\n");
        File.WriteAllText(t["l1/d/b"], "b\n");
        File.WriteAllText(t["l1/d/sub/c"], "c\n");
        File.WriteAllText(t["l2/.wh.a"], string.Empty);
        File.WriteAllText(t["l2/d/.wh..wh..opq"], string.Empty);
        File.WriteAllText(t["l2/d/new"], "n\n");
        Tools.Peer(peer, "commit", repo, "-b", "l1", t["l1"]).Ok("commit l1");
        Tools.Peer(peer, "commit", repo, "-b", "l2", t["l2"]).Ok("commit l2");

        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            Directory.CreateDirectory(t[tool]);
            run([ "checkout", repo, "-U", "--whiteouts", "l1", t[tool + "/layered"]]).Ok(tool + " checkout l1");
            run([ "checkout", repo, "-U", "--union", "--whiteouts", "l2", t[tool + "/layered"]]).Ok(tool + " checkout l2 over l1");
            File.WriteAllText(t[tool + ".list"], "l1\0/d\0l2\0/d\0");
            run([ "checkout", repo, "-U", "--union", "--whiteouts", "--from-file=" + t[tool + ".list"], t[tool + "/many"]]).Ok(tool + " --from-file");
            run([ "checkout", repo, "--allow-noent", "--subpath=/nope", "l1", t[tool + "/noent"]]).Ok(tool + " --allow-noent");
            Assert.False(Directory.Exists(t[tool + "/noent"]));
            Assert.Contains("Invalid boolean argument 'maybe'", run(["checkout", repo, "--fsync=maybe", "l1", t[tool + "/x"]]).Stderr, StringComparison.Ordinal);
        }

        Assert.Equal(["/d", "/d/new", "/keep"], Tools.Describe(t["theirs/layered"]).Keys.ToArray());
        Assert.Equal(Tools.Describe(t["theirs/layered"], owners: false, xattrs: false), Tools.Describe(t["ours/layered"], owners: false, xattrs: false));
        Assert.Equal(Tools.Describe(t["theirs/many"], owners: false, xattrs: false), Tools.Describe(t["ours/many"], owners: false, xattrs: false));
        Assert.False(File.Exists(t["ours/layered/a"]));
        Assert.False(File.Exists(t["ours/layered/d/b"]));
        Assert.True(File.Exists(t["ours/many/new"]));
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void A_user_checkout_from_an_archive_repository_fills_the_uncompressed_cache_as_ostree_does(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        var listings = new Dictionary<string, string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var repo = "--repo=" + t[tool];
            var cache = Path.Combine(t[tool], "uncompressed-objects-cache");
            run(["init", repo, "--mode=archive"]).Ok("init");
            run(["commit", repo, "-b", "m", t["in"]]).Ok("commit");
            run(["checkout", repo, "-U", "--disable-cache", "m", t[tool + "-nocache"]]).Ok(tool + " checkout --disable-cache");
            Assert.False(Directory.Exists(cache) && Directory.EnumerateFileSystemEntries(cache).Any(), tool + ": --disable-cache filled the cache");
            run(["checkout", repo, "-U", "m", t[tool + "-co"]]).Ok(tool + " checkout");
            var sb = new System.Text.StringBuilder();
            foreach (var f in Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var st = Native.LStat(f);
                sb.Append(Path.GetRelativePath(cache, f)).Append(' ').Append(Convert.ToString(st.Mode, 8)).Append(' ').Append(st.NLink).Append('\n');
            }

            listings[tool] = sb.ToString();
            Assert.Equal(Tools.Describe(t[tool + "-nocache"], owners: false, xattrs: false), Tools.Describe(t[tool + "-co"], owners: false, xattrs: false));
        }

        Assert.NotEqual(string.Empty, listings["ours"]);
        Assert.Equal(listings["theirs"], listings["ours"]);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void A_repository_with_core_parent_reads_objects_refs_remotes_and_keyrings_from_its_parent(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        Tools.Peer(peer, "init", "--repo=" + t["parent"], "--mode=bare-user").Ok("init parent");
        var commit = Tools.Peer(peer, "commit", "--repo=" + t["parent"], "-b", "main", t["in"]).Ok("commit in parent");
        Tools.Peer(peer, "remote", "add", "--repo=" + t["parent"], "--no-gpg-verify", "up", "http://127.0.0.1:9/repo").Ok("remote add in parent");
        File.WriteAllBytes(Path.Combine(t["parent"], "up.trustedkeys.gpg"), []);
        foreach (var child in new[] { "theirs", "ours" })
        {
            Tools.Peer(peer, "init", "--repo=" + t[child], "--mode=bare-user").Ok("init child");
            Tools.Peer(peer, "config", "--repo=" + t[child], "set", "core.parent", t["parent"]).Ok("set core.parent");
        }

        // Same answers from both tools: the ref, the remote, the tree and the content come from the parent.
        Assert.Equal(commit, Tools.Ours("rev-parse", "--repo=" + t["ours"], "main").Ok("our rev-parse"));
        Assert.Equal(Tools.Peer(peer, "remote", "list", "-u", "--repo=" + t["theirs"]).Ok("their remote list"), Tools.Ours("remote", "list", "-u", "--repo=" + t["ours"]).Ok("our remote list"));
        Assert.Equal(Tools.Peer(peer, "ls", "-R", "--repo=" + t["theirs"], "main").Ok("their ls"), Tools.Ours("ls", "-R", "--repo=" + t["ours"], "main").Ok("our ls"));
        Tools.Peer(peer, "checkout", "--repo=" + t["theirs"], "-U", commit, t["co-theirs"]).Ok("their checkout");
        Tools.Ours("checkout", "--repo=" + t["ours"], "-U", commit, t["co-ours"]).Ok("our checkout");
        Assert.Equal(Tools.Describe(t["co-theirs"], owners: false, xattrs: false), Tools.Describe(t["co-ours"], owners: false, xattrs: false));

        // An archive parent of a bare-user child (libostree aborts on it): its compressed objects are read, not hardlinked.
        Tools.Peer(peer, "init", "--repo=" + t["archive"], "--mode=archive").Ok("init archive parent");
        Tools.Peer(peer, "pull-local", "--repo=" + t["archive"], t["parent"], "main").Ok("pull-local into the archive parent");
        Tools.Peer(peer, "init", "--repo=" + t["archive-child"], "--mode=bare-user").Ok("init child of archive");
        Tools.Peer(peer, "config", "--repo=" + t["archive-child"], "set", "core.parent", t["archive"]).Ok("set core.parent");
        Tools.Ours("checkout", "--repo=" + t["archive-child"], "-U", "main", t["co-archive"]).Ok("our checkout from an archive parent");
        Assert.Equal(Tools.Describe(t["co-theirs"], owners: false, xattrs: false), Tools.Describe(t["co-archive"], owners: false, xattrs: false));

        // A commit in the child that reuses the parent's content; fsck of the child walks into the parent.
        Tools.Ours("commit", "--repo=" + t["ours"], "-b", "local", "-s", "child", "--tree=ref=" + commit).Ok("commit in child");
        Tools.Peer(peer, "fsck", "--repo=" + t["ours"]).Ok("their fsck of our child");

        // A loop of parents is refused, not followed forever.
        Tools.Peer(peer, "config", "--repo=" + t["parent"], "set", "core.parent", t["ours"]).Ok("make a loop");
        var loop = Tools.Ours("refs", "--repo=" + t["ours"]);
        Assert.NotEqual(0, loop.ExitCode);
        Assert.Contains("While checking parent repository", loop.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Show_prints_metadata_keys_sizes_and_any_object_as_ostree_does(string peer)
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["in/d"]);
        File.WriteAllText(t["in/d/f"], "hello\n");
        File.CreateSymbolicLink(t["in/d/l"], "f");
        var repo = "--repo=" + t["repo"];
        Tools.Peer(peer, "init", repo, "--mode=archive").Ok("init");
        Tools.Peer(peer, "commit", repo, "-b", "m", "--generate-sizes", "--add-metadata=SOMENUM=uint64 42", "--add-metadata-string=S=x", "--add-metadata=B=@ay [0x01,0x02]", "--timestamp=2020-01-01", t["in"]).Ok("commit");
        var ids = Tools.Peer(peer, "ls", repo, "-C", "m", "/d", "/d/f", "/d/l").Ok("ls -C").Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        string dirtree = ids[0][4], dirmeta = ids[0][5], file = ids[1][4], link = ids[2][4];
        File.WriteAllBytes(t["variant"], [0, 0, 0, 0, 0, 0, 0, 42]);
        List<string[]> cases =
        [
            ["show", repo, "--print-metadata-key=SOMENUM", "m"],
            ["show", repo, "-B", "--print-metadata-key=SOMENUM", "m"],
            ["show", repo, "--print-metadata-key=NOPE", "m"],
            ["show", repo, "--print-detached-metadata-key=NOPE", "m"],
            ["show", repo, "--print-related", "m"],
            ["show", repo, "--print-sizes", "m"],
            ["show", repo, "--raw", "m"],
            ["show", repo, "-B", "m"],
            ["show", repo, dirtree],
            ["show", repo, "--raw", dirmeta],
            ["show", repo, "-B", dirmeta],
            ["show", repo, file],
            ["show", repo, link],
            ["show", repo, "--print-variant-type=t", t["variant"]],
        ];
        if (peer != Tools.V2022)
        {
            cases.Add(["show", repo, "--print-hex", "--print-metadata-key=B", "m"]);
            cases.Add(["show", repo, "--list-metadata-keys", "m"]);
        }

        foreach (var args in cases)
        {
            var theirs = Tools.Peer(peer, args);
            var ours = Tools.Ours(args);
            Assert.True(theirs.Out == ours.Out && theirs.ExitCode == ours.ExitCode && theirs.Stderr.Trim() == ours.Stderr.Trim(),
                $"{string.Join(' ', args)}:\n--- ostree ({theirs.ExitCode})\n{theirs.Out}{theirs.Stderr}\n--- ours ({ours.ExitCode})\n{ours.Out}{ours.Stderr}");
        }
    }

    [Fact]
    public void Help_is_available_for_every_verb()
    {
        foreach (var verb in new[] { "init", "commit", "checkout", "log", "show", "ls", "cat", "refs", "rev-parse", "reset", "checksum", "config", "diff", "fsck", "prune", "summary", "pull-local", "pull", "serve", "demo", "tar", "sign", "gpg-sign", "remote", "image", "container", "admin", "selinux" })
        {
            var r = Tools.Ours(verb, "--help");
            Assert.True(r.ExitCode == 0 && r.Stdout.Contains("Usage", StringComparison.Ordinal), verb + ": " + r.Stdout + r.Stderr);
        }
    }

    [Fact]
    public void Demo_runs_end_to_end()
    {
        var r = Tools.Ours("demo");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("0 problems", r.Stdout);
        Assert.Contains("0 differences", r.Stdout);
        Assert.Contains("pulled it over HTTP", r.Stdout);
    }

    [Fact]
    public void Json_outputs_parse()
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: false);
        var repo = "--repo=" + t["repo"];
        Tools.Ours("init", repo, "--mode=archive").Ok("init");
        var commit = System.Text.Json.JsonDocument.Parse(Tools.Ours("commit", repo, "-b", "x", "--json", t["in"]).Ok("commit --json"));
        var id = commit.RootElement.GetProperty("commit").GetString();
        var log = System.Text.Json.JsonDocument.Parse(Tools.Ours("log", repo, "x", "--json").Ok("log --json"));
        Assert.Equal(id, log.RootElement[0].GetProperty("commit").GetString());
        var fsck = System.Text.Json.JsonDocument.Parse(Tools.Ours("fsck", repo, "--json").Ok("fsck --json"));
        Assert.Equal(0, fsck.RootElement.GetProperty("problems").GetArrayLength());
        var refs = System.Text.Json.JsonDocument.Parse(Tools.Ours("refs", repo, "--json").Ok("refs --json"));
        Assert.Equal(id, refs.RootElement.GetProperty("x").GetString());
        var progress = Tools.Ours("commit", repo, "-b", "y", "--progress=json", t["in"]);
        Assert.All(progress.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => System.Text.Json.JsonDocument.Parse(l));
    }
}
