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
        Assert.Contains(secret.PublicKey.Base64, Tools.Ours("sign", repo, "--verify", "--keys-file=" + t["trusted.pub"], c).Ok("verify"));
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
        Assert.Equal(key.PublicKey, OstreeSharp.Signing.CommitVerifier.Verify(ours, OstreeSharp.Objects.Checksum.Parse(signed), policy)!.Key);
        var e = Assert.Throws<OstreeSharp.Signing.SignatureException>(() => OstreeSharp.Signing.CommitVerifier.Verify(ours, OstreeSharp.Objects.Checksum.Parse(unsigned), policy));
        Assert.Equal(OstreeSharp.Signing.SignatureFailure.NoSignature, e.Reason);
        Assert.True(OstreeSharp.Signing.VerificationPolicy.ForRemote(OstreeSharp.Repository.OstreeRepo.Open(t["theirs"]), "second").RequireGpg);
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
