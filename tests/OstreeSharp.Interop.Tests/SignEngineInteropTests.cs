using OstreeSharp.Signing;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Signature engines as libostree has them (ed25519 and its test engine "dummy"): commit signatures, signed static
/// delta superblocks and their checks, each made by one tool and checked by the other. Debian's ostree 2022.7 and
/// forky's 2026.4 are built without ed25519 ("Requested signature type is not implemented"), so ed25519 is checked
/// against our own engine and the dummy engine against theirs.
/// </summary>
public class SignEngineInteropTests
{
    private static readonly Dictionary<string, string> DummyOn = new() { ["OSTREE_DUMMY_SIGN_ENABLED"] = "1" };

    private static RunResult Run(string tool, string peer, params string[] args) =>
        tool == "ours" ? Tools.OursEnv(DummyOn, args) : Tools.Run(Tools.PeerCommand(peer), args, DummyOn);

    private static Ed25519SecretKey Key(byte seed) => Ed25519SecretKey.FromSeed(Enumerable.Repeat(seed, 32).ToArray());

    private static string Commit(TempDir t, string repo, string content)
    {
        Directory.CreateDirectory(t["tree"]);
        File.WriteAllText(t["tree/f"], content);
        return Tools.Ours("commit", "--repo=" + repo, "-b", "main", "--timestamp=2024-01-01", t["tree"]).Ok("commit");
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Commit_signatures_of_both_engines_are_ostree_s_bytes_and_each_tool_verifies_the_other_s(string peer)
    {
        using var t = new TempDir();
        var key = Key(3);
        foreach (var tool in new[] { "theirs", "ours" })
        {
            Tools.Ours("init", "--repo=" + t[tool], "--mode=archive").Ok("init");
        }

        var c = Commit(t, t["theirs"], "a\n");
        Assert.Equal(c, Commit(t, t["ours"], "a\n"));
        // Two signatures appended to the same detached metadata.
        foreach (var tool in new[] { "theirs", "ours" })
        {
            Run(tool, peer, "sign", "--repo=" + t[tool], "--sign-type=dummy", c, "dummysign").Ok(tool + " sign dummy");
            Run(tool, peer, "sign", "--repo=" + t[tool], "--sign-type=dummy", c, "second").Ok(tool + " sign dummy again");
        }

        var meta = $"objects/{c[..2]}/{c[2..]}.commitmeta";
        Assert.Equal(File.ReadAllBytes(Path.Combine(t["theirs"], meta)), File.ReadAllBytes(Path.Combine(t["ours"], meta)));
        foreach (var (checker, repo) in new[] { ("theirs", "ours"), ("ours", "theirs") })
        {
            Assert.Equal("dummy: Signature verified", Run(checker, peer, "sign", "--repo=" + t[repo], "--sign-type=dummy", "--verify", c, "nope", "second").Ok(checker + " verify dummy"));
        }

        // Wrong keys and a missing OSTREE_DUMMY_SIGN_ENABLED: the same refusal from both.
        foreach (var tool in new[] { "theirs", "ours" })
        {
            var wrong = Run(tool, peer, "sign", "--repo=" + t[tool], "--sign-type=dummy", "--verify", c, "nope");
            Assert.NotEqual(0, wrong.ExitCode);
            Assert.Contains("No valid signatures found", wrong.Stderr);
            var off = tool == "ours" ? Tools.Ours("sign", "--repo=" + t[tool], "--sign-type=dummy", c, "x") : Tools.Peer(peer, "sign", "--repo=" + t[tool], "--sign-type=dummy", c, "x");
            Assert.NotEqual(0, off.ExitCode);
            Assert.Contains("dummy signature type is only for ostree testing", off.Stderr);
        }

        // ed25519 (ours): a signature next to the dummy ones, found by the one key of three that made it.
        Tools.Ours("sign", "--repo=" + t["ours"], c, key.Base64).Ok("sign ed25519");
        var hex = Convert.ToHexStringLower(key.PublicKey.Bytes);
        Assert.Equal($"ed25519: Signature verified successfully with key '{hex}'", Tools.Ours("sign", "--repo=" + t["ours"], "--verify", c, Key(8).PublicKey.Base64, key.PublicKey.Base64).Ok("verify ed25519"));
        Assert.Equal("dummy: Signature verified", Run("theirs", peer, "sign", "--repo=" + t["ours"], "--sign-type=dummy", "--verify", c, "dummysign").Ok("ostree verifies dummy next to ed25519"));
        var bad = Tools.Ours("sign", "--repo=" + t["ours"], "--verify", c, Key(8).PublicKey.Base64);
        Assert.Contains("No valid signatures found", bad.Stderr);
        File.WriteAllText(t["keys"], string.Concat(Enumerable.Range(10, 5).Select(i => Key((byte)i).PublicKey.Base64 + "\n")));
        Assert.Contains("ed25519: Signature couldn't be verified; tried 5 keys", Tools.Ours("sign", "--repo=" + t["ours"], "--verify", "--keys-file=" + t["keys"], c).Stderr);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Signed_static_deltas_made_by_one_tool_verify_and_apply_with_the_other(string peer)
    {
        using var t = new TempDir();
        var key = Key(5);
        foreach (var tool in new[] { "theirs", "ours" })
        {
            Tools.Ours("init", "--repo=" + t[tool], "--mode=archive").Ok("init");
        }

        var from = Commit(t, t["theirs"], "one\n");
        var to = Commit(t, t["theirs"], "two\n" + new string('x', 5000));
        Tools.Ours("pull-local", "--repo=" + t["ours"], "--depth=1", t["theirs"], "main").Ok("pull-local");
        var delta = $"{from}-{to}";
        var cases = new[]
        {
            ("theirs", "ours", "dummy", "dummysign", "dummysign", "badsign", "signature: dummy: incorrect signatures found: 1"),
            ("ours", "theirs", "dummy", "dummysign", "dummysign", "badsign", "signature: dummy: incorrect signatures found: 1"),
            ("ours", "ours", "ed25519", key.Base64, key.PublicKey.Base64, Key(9).PublicKey.Base64, "ed25519: Signature couldn't be verified with: key"),
        };
        foreach (var (maker, checker, type, secret, pub, wrongPub, wrongMessage) in cases)
        {
            var repo = t[maker];
            var what = $"{checker} checking {maker}'s {type} delta";
            Run(maker, peer, "static-delta", "generate", "--repo=" + repo, "--from=" + from, "--to=" + to, "--sign-type=" + type, "--sign=" + secret).Ok(maker + " generate --sign");
            var ok = Run(checker, peer, "static-delta", "verify", "--repo=" + repo, "--sign-type=" + type, delta, pub);
            Assert.Equal("Verification OK", ok.Ok(what));
            var bad = Run(checker, peer, "static-delta", "verify", "--repo=" + repo, "--sign-type=" + type, delta, wrongPub);
            Assert.NotEqual(0, bad.ExitCode);
            Assert.Contains("Verification fails", bad.Stdout);
            Assert.Contains(wrongMessage, bad.Stderr);

            // Applied offline into a repository that has the source and insists on signed deltas: refused without a
            // key, with the wrong key, applied with the right one.
            var dest = t[$"{maker}-{checker}-{type}-dest"];
            Tools.Ours("init", "--repo=" + dest, "--mode=bare-user").Ok("init");
            Tools.Ours("pull-local", "--repo=" + dest, repo, from).Ok("pull-local from");
            Tools.Ours("config", "--repo=" + dest, "set", "core.sign-verify-deltas", "true").Ok("config");
            var dir = Assert.Single(Directory.GetDirectories(Assert.Single(Directory.GetDirectories(Path.Combine(repo, "deltas")))));
            var nokey = Run(checker, peer, "static-delta", "apply-offline", "--repo=" + dest, "--sign-type=" + type, dir);
            Assert.NotEqual(0, nokey.ExitCode);
            var wrong = Run(checker, peer, "static-delta", "apply-offline", "--repo=" + dest, "--sign-type=" + type, dir, wrongPub);
            Assert.Contains(wrongMessage, wrong.Stderr);
            Run(checker, peer, "static-delta", "apply-offline", "--repo=" + dest, "--sign-type=" + type, dir, pub).Ok(what + ": apply-offline");
            Tools.Ours("fsck", "--repo=" + dest).Ok("fsck");
            Assert.Equal(Tools.Ours("ls", "--repo=" + t["theirs"], "-R", to).Out, Tools.Ours("ls", "--repo=" + dest, "-R", to).Out);
        }
    }
}
