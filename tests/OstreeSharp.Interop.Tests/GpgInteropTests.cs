using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Interop.Tests;

/// <summary>OpenPGP signatures both ways with the real ostree and GnuPG.</summary>
public class GpgInteropTests
{
    private static (string Repo, string Commit) Repo(string peer, TempDir t, string name)
    {
        TestTrees.WriteTricky(t[name + "-in"], withOwners: false);
        Tools.Peer(peer, "init", "--repo=" + t[name], "--mode=archive").Ok("init");
        var c = Tools.Peer(peer, "commit", "--repo=" + t[name], "-b", "x", "--timestamp=2024-01-01", t[name + "-in"]).Ok("commit");
        return (t[name], c);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Signatures_made_by_ostree_verify_with_us_and_ours_with_ostree(string peer)
    {
        using var g = new Gpg();
        var rsa = g.NewKey("rsa-signer");
        var ed = g.NewKey("ed-signer", "EDDSA");
        File.WriteAllText(g.Dir["pub.asc"], g.Run("--armor", "--export").Ok("export"));
        File.WriteAllText(g.Dir["sec.asc"], g.Run("--armor", "--export-secret-keys").Ok("export secret"));
        var (repo, c) = Repo(peer, g.Dir, "r");
        Tools.Peer(peer, "remote", "add", "--repo=" + repo, "--gpg-import=" + g.Dir["pub.asc"], "origin", "http://127.0.0.1/repo").Ok("remote add");

        // ostree signs, we verify: the same report as ostree's.
        Tools.Peer(peer, "gpg-sign", "--repo=" + repo, "--gpg-homedir=" + g.Home, c, rsa).Ok("ostree gpg-sign");
        Assert.Equal(Tools.Peer(peer, "show", "--repo=" + repo, "--gpg-verify-remote=origin", c).Ok("ostree show"), Tools.Ours("show", "--repo=" + repo, "--gpg-verify-remote=origin", c).Ok("our show"));
        var r = OstreeRepo.Open(repo);
        Assert.True(CommitVerifier.Verify(r, Checksum.Parse(c), VerificationPolicy.ForRemote(r, "origin")) is null);

        // We sign (RSA and ed25519 keys), ostree verifies.
        var (repo2, c2) = Repo(peer, g.Dir, "r2");
        Tools.Peer(peer, "remote", "add", "--repo=" + repo2, "--gpg-import=" + g.Dir["pub.asc"], "origin", "http://127.0.0.1/repo").Ok("remote add");
        Tools.Ours("gpg-sign", "--repo=" + repo2, "--gpg-secret-key=" + g.Dir["sec.asc"], c2, rsa, ed).Ok("our gpg-sign");
        var shown = Tools.Peer(peer, "show", "--repo=" + repo2, "--gpg-verify-remote=origin", c2).Ok("ostree show of our signatures");
        Assert.Contains("Found 2 signatures", shown);
        Assert.Equal(2, shown.Split("Good signature from").Length - 1);
        Assert.Equal(shown, Tools.Ours("show", "--repo=" + repo2, "--gpg-verify-remote=origin", c2).Ok("our show"));
        Tools.Peer(peer, "fsck", "--repo=" + repo2).Ok("fsck");

        Tools.Ours("gpg-sign", "--repo=" + repo2, "--delete", c2, rsa[^16..]).Ok("delete");
        Assert.Contains("Found 1 signature", Tools.Peer(peer, "show", "--repo=" + repo2, "--gpg-verify-remote=origin", c2).Ok("show"));
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Ostree_pulls_from_our_repository_checking_our_summary_and_commit_signatures(string peer)
    {
        using var g = new Gpg();
        var key = g.NewKey("publisher");
        File.WriteAllText(g.Dir["pub.asc"], g.Run("--armor", "--export").Ok("export"));
        File.WriteAllText(g.Dir["sec.asc"], g.Run("--armor", "--export-secret-keys").Ok("export secret"));
        TestTrees.WriteTricky(g.Dir["in"], withOwners: false);
        var src = g.Dir["published"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + src, "-b", "os/stable", "--gpg-sign=" + key, "--gpg-secret-key=" + g.Dir["sec.asc"], g.Dir["in"]).Ok("signed commit");
        Tools.Ours("summary", "--repo=" + src, "-u", "--gpg-sign=" + key, "--gpg-secret-key=" + g.Dir["sec.asc"]).Ok("signed summary");

        var client = g.Dir["client"];
        Tools.Peer(peer, "init", "--repo=" + client, "--mode=bare-user").Ok("client init");
        Tools.Peer(peer, "remote", "add", "--repo=" + client, "--set=gpg-verify-summary=true", "--gpg-import=" + g.Dir["pub.asc"], "origin", "file://" + src).Ok("remote add");
        Tools.Peer(peer, "pull", "--repo=" + client, "origin", "os/stable").Ok("ostree pull verifying our signatures");
        Tools.Peer(peer, "fsck", "--repo=" + client).Ok("fsck");

        // A summary changed after signing is refused by ostree.
        File.AppendAllText(Path.Combine(src, "summary"), "x");
        Assert.NotEqual(0, Tools.Peer(peer, "pull", "--repo=" + client, "origin", "os/stable").ExitCode);
    }

    [Fact]
    public void Tampering_wrong_expired_and_revoked_keys_and_missing_signatures_are_refused_with_the_reason()
    {
        using var g = new Gpg();
        var good = g.NewKey("good");
        var expired = g.NewKey("expired", fakedTime: "20200101T000000", expire: "1d");
        var revoked = g.NewKey("revoked");
        var stranger = g.NewKey("stranger");
        var rev = File.ReadAllText(Path.Combine(g.Home, "openpgp-revocs.d", revoked + ".rev")).Replace(":-----BEGIN", "-----BEGIN", StringComparison.Ordinal);
        File.WriteAllText(g.Dir["rev.asc"], rev);
        g.Run("--import", g.Dir["rev.asc"]).Ok("import revocation");
        File.WriteAllText(g.Dir["trusted.asc"], g.Run("--armor", "--export", good, expired, revoked).Ok("export"));
        File.WriteAllText(g.Dir["sec.asc"], g.Run("--armor", "--export-secret-keys").Ok("export secret"));
        var keyring = new GpgKeyring();
        keyring.AddFile(g.Dir["trusted.asc"]);

        SignatureFailure ReasonFor(string? key, bool tamper = false)
        {
            var (repo, c) = Repo(Tools.V2022, g.Dir, "r-" + (key ?? "nosignature")[..6] + (tamper ? "-t" : string.Empty));
            if (key is not null)
            {
                Tools.Ours("gpg-sign", "--repo=" + repo, "--gpg-secret-key=" + g.Dir["sec.asc"], c, key).Ok("sign");
            }

            var r = OstreeRepo.Open(repo);
            var bytes = r.ReadMetadataBytes(ObjectType.Commit, Checksum.Parse(c));
            if (tamper)
            {
                bytes[^1] ^= 1;
            }

            var e = Assert.Throws<SignatureException>(() => GpgCommitSigner.Verify(bytes, r.LoadDetachedMetadata(Checksum.Parse(c)), keyring));
            return e.Reason;
        }

        Assert.Equal(SignatureFailure.BadSignature, ReasonFor(good, tamper: true));
        Assert.Equal(SignatureFailure.UnknownKey, ReasonFor(stranger));
        Assert.Equal(SignatureFailure.ExpiredKey, ReasonFor(expired));
        Assert.Equal(SignatureFailure.RevokedKey, ReasonFor(revoked));
        Assert.Equal(SignatureFailure.NoSignature, ReasonFor(null));

        // A passphrase-protected key is refused with a clear error unless its passphrase is given.
        using var p = new Gpg();
        var locked = p.NewKey("locked", passphrase: "s3cret");
        File.WriteAllText(p.Dir["sec.asc"], p.Run("--armor", "--pinentry-mode", "loopback", "--passphrase", "s3cret", "--export-secret-keys").Ok("export"));
        var (repo3, c3) = Repo(Tools.V2022, p.Dir, "r3");
        var refused = Tools.Ours("gpg-sign", "--repo=" + repo3, "--gpg-secret-key=" + p.Dir["sec.asc"], c3, locked);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("passphrase", refused.Stderr);
        File.WriteAllText(p.Dir["pass"], "s3cret\n");
        Tools.Ours("gpg-sign", "--repo=" + repo3, "--gpg-secret-key=" + p.Dir["sec.asc"], "--gpg-passphrase-file=" + p.Dir["pass"], c3, locked).Ok("sign with passphrase");
    }

    public static TheoryData<string, string, string?> KeyTypes()
    {
        var data = new TheoryData<string, string, string?>();
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            data.Add(peer, "RSA", null);
            data.Add(peer, "EDDSA", null);
            data.Add(peer, "RSA", "rsa-pass");
            data.Add(peer, "EDDSA", "ed pass");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(KeyTypes))]
    public void Keys_in_a_gnupg_home_folder_sign_directly_and_ostree_verifies(string peer, string type, string? passphrase)
    {
        using var g = new Gpg();
        var fpr = g.NewKey("homedir-" + type.ToLowerInvariant(), type, passphrase: passphrase);
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(g.Home, "private-keys-v1.d"), "*.key"));
        File.WriteAllText(g.Dir["pub.asc"], g.Run("--armor", "--export").Ok("export"));
        var (repo, c) = Repo(peer, g.Dir, "r");
        Tools.Peer(peer, "remote", "add", "--repo=" + repo, "--gpg-import=" + g.Dir["pub.asc"], "origin", "http://127.0.0.1/repo").Ok("remote add");
        if (passphrase is not null)
        {
            var refused = Tools.Ours("gpg-sign", "--repo=" + repo, "--gpg-homedir=" + g.Home, c, fpr[^16..]);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("protected by a passphrase", refused.Stderr, StringComparison.Ordinal);
            File.WriteAllText(g.Dir["wrong"], "not it\n");
            var wrong = Tools.Ours("gpg-sign", "--repo=" + repo, "--gpg-homedir=" + g.Home, "--gpg-passphrase-file=" + g.Dir["wrong"], c, fpr);
            Assert.Equal(1, wrong.ExitCode);
            Assert.Contains("Wrong passphrase", wrong.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("signature", Tools.Peer(peer, "show", "--repo=" + repo, "--gpg-verify-remote=origin", c).Stdout, StringComparison.Ordinal);
            File.WriteAllText(g.Dir["pass"], passphrase + "\n");
        }

        var args = new List<string> { "gpg-sign", "--repo=" + repo, "--gpg-homedir=" + g.Home };
        if (passphrase is not null)
        {
            args.Add("--gpg-passphrase-file=" + g.Dir["pass"]);
        }

        Tools.Ours([.. args, c, fpr[^16..]]).Ok("sign from the home folder");
        var shown = Tools.Peer(peer, "show", "--repo=" + repo, "--gpg-verify-remote=origin", c).Ok("ostree show");
        Assert.Contains("Good signature from \"homedir-" + type.ToLowerInvariant(), shown, StringComparison.Ordinal);

        // commit --gpg-sign reads the same home folder.
        var signedArgs = new List<string> { "commit", "--repo=" + repo, "-b", "y", "--gpg-sign=" + fpr, "--gpg-homedir=" + g.Home, g.Dir["r-in"] };
        if (passphrase is not null)
        {
            signedArgs.Add("--gpg-passphrase-file=" + g.Dir["pass"]);
        }

        var c2 = Tools.Ours([.. signedArgs]).Ok("commit --gpg-sign from the home folder");
        Assert.Contains("Good signature", Tools.Peer(peer, "show", "--repo=" + repo, "--gpg-verify-remote=origin", c2).Ok("ostree show commit"), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Remote_summary_prints_and_verifies_like_ostree_over_file_and_http(string peer)
    {
        using var g = new Gpg();
        var fpr = g.NewKey("summary-signer", expire: "2y");
        File.WriteAllText(g.Dir["pub.asc"], g.Run("--armor", "--export").Ok("export"));
        var (src, _) = Repo(peer, g.Dir, "src");
        Tools.Peer(peer, "commit", "--repo=" + src, "-b", "os/v2", "--timestamp=2024-02-01", "--add-metadata-string=version=2.0", "--add-metadata-string=custom=x", g.Dir["src-in"]).Ok("second ref");
        Tools.Peer(peer, "summary", "-u", "--repo=" + src, "--gpg-sign=" + fpr, "--gpg-homedir=" + g.Home).Ok("ostree signs the summary");

        using var http = new FakeRegistry(ctx =>
        {
            var file = Path.Combine(src, ctx.Request.Url!.AbsolutePath.TrimStart('/').Replace("repo/", string.Empty, StringComparison.Ordinal));
            if (!File.Exists(file))
            {
                return false;
            }

            FakeRegistry.Reply(ctx, 200, File.ReadAllBytes(file), "application/octet-stream");
            return true;
        });
        var client = g.Dir["client"];
        Tools.Peer(peer, "init", "--repo=" + client, "--mode=archive").Ok("init");
        Tools.Peer(peer, "remote", "add", "--repo=" + client, "--set=gpg-verify-summary=true", "--gpg-import=" + g.Dir["pub.asc"], "viafile", "file://" + src).Ok("remote add file");
        Tools.Peer(peer, "remote", "add", "--repo=" + client, "--set=gpg-verify-summary=true", "--gpg-import=" + g.Dir["pub.asc"], "viahttp", $"http://{http.Address}/repo").Ok("remote add http");
        foreach (var remote in new[] { "viafile", "viahttp" })
        {
            foreach (var extra in new[] { Array.Empty<string>(), ["--raw"] })
            {
                var theirs = Tools.Peer(peer, ["remote", "summary", "--repo=" + client, .. extra, remote]).Ok("ostree remote summary");
                Assert.Equal(theirs, Tools.Ours(["remote", "summary", "--repo=" + client, .. extra, remote]).Ok("our remote summary"));
            }
        }

        var view = Tools.Peer(peer, "summary", "-v", "--repo=" + src).Ok("ostree summary -v");
        var ourView = Tools.Ours("summary", "-v", "--repo=" + src).Ok("our summary -v");
        if (peer == Tools.V2022)
        {
            Assert.Equal(view, ourView);
        }
        else
        {
            // 2026.3 and later also check summary.sig against the system keyrings (or --gpg-homedir), after the
            // same view; we print the view alone, as 2022.7 does.
            Assert.StartsWith(ourView + "\n\nFound 1 signature on the summary:\n\n  Signature made ", view, StringComparison.Ordinal);
            Assert.EndsWith($"using RSA key ID {fpr[^16..]}\n  Can't check signature: public key not found", view, StringComparison.Ordinal);
        }

        // A tampered signature and a missing one are refused, by both.
        var sig = File.ReadAllBytes(Path.Combine(src, "summary.sig"));
        var bad = (byte[])sig.Clone();
        bad[^40] ^= 0x55;
        File.WriteAllBytes(Path.Combine(src, "summary.sig"), bad);
        Assert.NotEqual(0, Tools.Peer(peer, "remote", "summary", "--repo=" + client, "viafile").ExitCode);
        var refused = Tools.Ours("remote", "summary", "--repo=" + client, "viafile");
        Assert.Equal(1, refused.ExitCode);
        Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        File.Delete(Path.Combine(src, "summary.sig"));
        var missing = Tools.Ours("remote", "summary", "--repo=" + client, "viahttp");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no summary signatures found", missing.Stderr, StringComparison.Ordinal);

        // We sign the summary (from the GnuPG home folder, and with ed25519): ostree verifies the OpenPGP
        // signature. (Debian builds ostree, 2022.7 and 2026.4, without ed25519, so we check that one ourselves.)
        var ed = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(Enumerable.Range(7, 32).Select(i => (byte)i).ToArray());
        Tools.Ours("summary", "-u", "--repo=" + src, "--gpg-sign=" + fpr, "--gpg-homedir=" + g.Home, "--sign=" + ed.Base64).Ok("we sign the summary");
        Assert.Contains("Good signature from \"summary-signer", Tools.Peer(peer, "remote", "summary", "--repo=" + client, "viafile").Ok("ostree verifies our summary"), StringComparison.Ordinal);
        Tools.Peer(peer, "remote", "add", "--repo=" + client, "--no-gpg-verify", "--set=sign-verify-summary=true", "--set=verification-ed25519-key=" + ed.PublicKey.Base64, "ed", "file://" + src).Ok("remote add ed25519");
        Tools.Ours("remote", "summary", "--repo=" + client, "ed").Ok("we check the ed25519 summary signature");
        var other = OstreeSharp.Signing.Ed25519SecretKey.FromSeed(new byte[32]);
        Tools.Peer(peer, "config", "--repo=" + client, "set", "remote \"ed\".verification-ed25519-key", other.PublicKey.Base64).Ok("wrong key");
        var wrongKey = Tools.Ours("remote", "summary", "--repo=" + client, "ed");
        Assert.Equal(1, wrongKey.ExitCode);
        Assert.StartsWith("error:", wrongKey.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Key_listings_show_reports_and_repeated_signing_match_ostree_as_keys_expire_and_are_revoked(string peer)
    {
        using var g = new Gpg();
        var mailed = g.NewKey("mailed");
        g.Run("--passphrase", string.Empty, "--quick-gen-key", "Name Only (a comment)", "rsa2048", "sign", "never").Ok("gpg --quick-gen-key");
        var nameOnly = g.Run("--with-colons", "--list-keys", "Name Only").Ok("list").Split('\n').First(l => l.StartsWith("fpr:", StringComparison.Ordinal)).Split(':')[9];
        g.Run("--passphrase", string.Empty, "--quick-add-key", mailed, "rsa2048", "sign", "never").Ok("gpg --quick-add-key");
        var global = g.Dir["global"];
        Directory.CreateDirectory(global);
        // The global keyring folder holds binary keyrings (libostree reads no armor there).
        void Export()
        {
            WriteExport();
            g.Run("--output", Path.Combine(global, "keys.gpg"), "--yes", "--export").Ok("export binary");
        }

        string WriteExport()
        {
            var file = g.Dir["export.asc"];
            File.WriteAllText(file, g.Run("--armor", "--export").Ok("export"));
            return file;
        }

        var env = new Dictionary<string, string> { ["OSTREE_GPG_HOME"] = global };
        RunResult Run(string tool, params string[] args) => tool == "ours" ? Tools.OursEnv(env, args) : Tools.Run(Tools.PeerCommand(peer), args, env);

        Export();
        var commits = new Dictionary<string, string>();
        foreach (var (tool, _) in Tools.TheirsAndOurs(peer))
        {
            var (repo, c) = Repo(peer, g.Dir, tool);
            commits[tool] = c;
            Run(tool, "remote", "add", "--repo=" + repo, "--gpg-import=" + g.Dir["export.asc"], "origin", "http://127.0.0.1/repo").Ok(tool + " remote add");
            Run(tool, "gpg-sign", "--repo=" + repo, "--gpg-homedir=" + g.Home, c, nameOnly[^16..]).Ok(tool + " gpg-sign");
            var again = Run(tool, "gpg-sign", "--repo=" + repo, "--gpg-homedir=" + g.Home, c, nameOnly[^16..]);
            Assert.True(again.ExitCode != 0 && again.Stderr.Contains("Commit is already signed with GPG key", StringComparison.Ordinal), $"{tool} signed twice ({again.ExitCode}): {again.Stderr}");
        }

        void Same(string what)
        {
            foreach (var args in new[] { new[] { "remote", "gpg-list-keys", "origin" }, ["remote", "gpg-list-keys"], ["show", "COMMIT"] })
            {
                // Each tool lists its own remote's keys; both show the one signature ostree made.
                var theirs = Run("theirs", [.. args.Select(a => a == "COMMIT" ? commits["theirs"] : a), "--repo=" + g.Dir["theirs"]]).Ok("ostree " + args[0]);
                var ours = Run("ours", [.. args.Select(a => a == "COMMIT" ? commits["theirs"] : a), "--repo=" + g.Dir[args[0] == "show" ? "theirs" : "ours"]]).Ok("our " + args[0]);
                Assert.True(theirs == ours, $"{what}, {string.Join(' ', args)}:\n--- ostree\n{theirs}\n--- ours\n{ours}");
            }
        }

        Same("fresh keys");

        // A key that expired and one that was revoked (GnuPG's ready-made revocation, made importable), imported
        // again over the old ones.
        g.Run("--quick-set-expire", nameOnly, "seconds=1").Ok("gpg --quick-set-expire");
        Thread.Sleep(2100);
        var rev = File.ReadAllText(Path.Combine(g.Home, "openpgp-revocs.d", mailed + ".rev")).Replace(":-----BEGIN", "-----BEGIN", StringComparison.Ordinal);
        File.WriteAllText(g.Dir["mailed.rev"], rev);
        g.Run("--import", g.Dir["mailed.rev"]).Ok("gpg --import revocation");
        Export();
        foreach (var tool in new[] { "theirs", "ours" })
        {
            Assert.Contains("Imported 0 GPG keys", Run(tool, "remote", "gpg-import", "--repo=" + g.Dir[tool], "--keyring=" + WriteExport(), "origin").Ok(tool + " gpg-import"));
        }

        Same("an expired key and a revoked one");
    }
}
