using System.Text.Json;
using System.Text.Json.Nodes;
using OstreeSharp.TestSupport;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// containers-policy.json against real signatures: images signed by skopeo 1.22 (<c>--sign-by-sigstore-private-key</c>,
/// a <c>.sig</c> attachment) and by cosign 3.1 (a bundle attached through the referrers tag, no transparency log),
/// verified by us, and the same decisions taken by skopeo where it reads the same signatures.
/// </summary>
[Collection("registries")]
public sealed class SignaturePolicyInteropTests(RegistryFixture registries) : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static string Skopeo => Path.Combine(ComposefsInteropTests.ForkyBin, "skopeo-forky");

    private static string Cosign => Path.Combine(ComposefsInteropTests.ForkyBin, "cosign");

    private string Registry => registries.Plain.Address;

    /// <summary>A cosign key pair (ECDSA P-256, empty passphrase) in DIR/cosign.key and DIR/cosign.pub.</summary>
    private string KeyPair(string name)
    {
        var dir = _tmp[name];
        Directory.CreateDirectory(dir);
        Tools.Run(Cosign, ["generate-key-pair"], new Dictionary<string, string> { ["COSIGN_PASSWORD"] = string.Empty }, dir).Ok("cosign generate-key-pair");
        return dir;
    }

    // registries.d telling skopeo to read and write sigstore signatures as attachments on the test registry.
    private string RegistriesD()
    {
        var dir = _tmp["registries.d"];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "test.yaml"), $"docker:\n  {Registry}:\n    use-sigstore-attachments: true\n");
        return dir;
    }

    private string Policy(string name, JsonNode scoped)
    {
        var policy = new JsonObject
        {
            ["default"] = new JsonArray(new JsonObject { ["type"] = "reject" }),
            ["transports"] = new JsonObject
            {
                ["docker"] = new JsonObject { [$"{Registry}/signed"] = scoped },
                ["oci"] = new JsonObject { [string.Empty] = new JsonArray(new JsonObject { ["type"] = "insecureAcceptAnything" }) },
            },
        };
        var path = _tmp[name + ".json"];
        File.WriteAllText(path, policy.ToJsonString());
        return path;
    }

    private static JsonArray SigstoreKey(string pub) => new(new JsonObject { ["type"] = "sigstoreSigned", ["keyPath"] = pub });

    // Pushes a small image with skopeo, signed with KEY when given; returns its digest.
    private string Push(string reference, int seed, string? key = null)
    {
        var layout = _tmp[$"layout{seed}"];
        if (!Directory.Exists(layout))
        {
            TestImages.WriteSmallLayout(layout, "v1", files: 3, seed: (ulong)seed);
        }

        var pass = _tmp["empty-pass"];
        File.WriteAllText(pass, string.Empty);
        var digestFile = _tmp[$"digest{Guid.NewGuid():N}"];
        List<string> args = ["copy", "--registries.d", RegistriesD(), "--dest-tls-verify=false", "--digestfile", digestFile];
        if (key is not null)
        {
            args.AddRange(["--sign-by-sigstore-private-key", key, "--sign-passphrase-file", pass]);
        }

        Tools.Run(Skopeo, [.. args, $"oci:{layout}:v1", "docker://" + reference]).Ok("skopeo copy " + reference);
        return File.ReadAllText(digestFile).Trim();
    }

    private RunResult OursCopy(string policy, string reference) =>
        Tools.Ours("image", "copy", "--policy", policy, "--tls-verify=false", "docker://" + reference, $"oci:{_tmp["out" + Guid.NewGuid().ToString("N")[..8]]}:x");

    private RunResult SkopeoCopy(string policy, string reference) =>
        Tools.Run(Skopeo, ["copy", "--policy", policy, "--registries.d", RegistriesD(), "--remove-signatures", "--src-tls-verify=false", "docker://" + reference, $"oci:{_tmp["skout" + Guid.NewGuid().ToString("N")[..8]]}:x"]);

    [Fact]
    public void Images_signed_by_skopeo_verify_with_us_and_both_tools_refuse_unsigned_wrongly_signed_and_misnamed_ones()
    {
        var keys = KeyPair("keys");
        var other = KeyPair("other");
        var good = Policy("good", SigstoreKey(Path.Combine(keys, "cosign.pub")));
        var wrong = Policy("wrong", SigstoreKey(Path.Combine(other, "cosign.pub")));

        Push($"{Registry}/signed/app:v1", 1, Path.Combine(keys, "cosign.key"));
        Push($"{Registry}/signed/app:unsigned", 2);
        // The same manifest as v1 under another tag: its signature names v1, which matchRepoDigestOrExact refuses
        // for v2 and accepts for a pull by digest.
        var digest = Push($"{Registry}/signed/app:v2", 1);

        var cases = new (string Policy, string Reference, string? Error)[]
        {
            (good, $"{Registry}/signed/app:v1", null),
            (good, $"{Registry}/signed/app@{digest}", null),
            (good, $"{Registry}/signed/app:unsigned", "A signature was required, but no signature exists"),
            (good, $"{Registry}/signed/app:v2", $"Signature for identity \"{Registry}/signed/app:v1\" is not accepted"),
            (wrong, $"{Registry}/signed/app:v1", "cryptographic signature verification failed"),
        };
        foreach (var (policy, reference, error) in cases)
        {
            var ours = OursCopy(policy, reference);
            var theirs = SkopeoCopy(policy, reference);
            Assert.True((ours.ExitCode == 0) == (theirs.ExitCode == 0), $"{reference} with {Path.GetFileName(policy)}: ours exit {ours.ExitCode}, skopeo exit {theirs.ExitCode}\n{ours.Stderr}\n{theirs.Stderr}");
            if (error is null)
            {
                ours.Ok($"ours copy {reference}");
            }
            else
            {
                Assert.Contains("Source image rejected: " + error, ours.Stderr, StringComparison.Ordinal);
                Assert.Contains("requirement 1: sigstoreSigned", ours.Stderr, StringComparison.Ordinal);
                Assert.True(theirs.Stderr.Contains(error.Replace("\"", "\\\"", StringComparison.Ordinal), StringComparison.Ordinal), $"skopeo said: {theirs.Stderr}");
            }
        }

        // Outside the signed scope the default rejects, in skopeo's words.
        var elsewhere = $"{Registry}/elsewhere/app:v1";
        Push(elsewhere, 3);
        var rejected = OursCopy(good, elsewhere);
        Assert.NotEqual(0, rejected.ExitCode);
        Assert.Contains($"Running image docker://{elsewhere} is rejected by policy. (policy {good}, default, requirement 1: reject)", rejected.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, SkopeoCopy(good, elsewhere).ExitCode);
    }

    [Fact]
    public void Images_signed_by_cosign_3_with_a_bundle_verify_with_us_and_a_bundle_by_another_key_does_not()
    {
        var keys = KeyPair("keys");
        var other = KeyPair("other");
        var reference = $"{Registry}/signed/cosign:v1";
        var digest = Push(reference, 4);

        // cosign 3 signs offline with a signing config that has no transparency log or timestamp authority, and
        // attaches a bundle through the referrers tag (the registry has no referrers API).
        var config = _tmp["signing-config.json"];
        Tools.Run(Cosign, ["signing-config", "create", "--no-default-fulcio", "--no-default-rekor", "--no-default-tsa", "--no-default-oidc", "--out", config]).Ok("cosign signing-config create");
        var env = new Dictionary<string, string> { ["COSIGN_PASSWORD"] = string.Empty };
        Tools.Run(Cosign, ["sign", "--key", Path.Combine(keys, "cosign.key"), "--signing-config", config, "--allow-insecure-registry", "-y", $"{Registry}/signed/cosign@{digest}"], env).Ok("cosign sign");
        using (var tags = JsonDocument.Parse(Tools.Ours("image", "tags", "--tls-verify=false", $"docker://{Registry}/signed/cosign").Ok("tags")))
        {
            Assert.Contains(digest.Replace(':', '-'), tags.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()));
        }

        OursCopy(Policy("good", SigstoreKey(Path.Combine(keys, "cosign.pub"))), reference).Ok("ours copy of a cosign-signed image");
        var wrong = OursCopy(Policy("wrong", SigstoreKey(Path.Combine(other, "cosign.pub"))), reference);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("Source image rejected: cryptographic signature verification failed", wrong.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void An_ostree_image_signed_pull_checks_the_policy_before_anything_is_imported()
    {
        var keys = KeyPair("keys");
        var repo = _tmp["src"];
        Directory.CreateDirectory(_tmp["tree/usr/bin"]);
        File.WriteAllText(_tmp["tree/usr/bin/tool"], "#!/bin/sh\n");
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + repo, "-b", "os", "--timestamp=2024-01-01", _tmp["tree"]).Ok("commit");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "os", $"oci:{_tmp["os"]}:v1").Ok("encapsulate");
        var pass = _tmp["empty-pass"];
        File.WriteAllText(pass, string.Empty);
        Tools.Run(Skopeo, ["copy", "--registries.d", RegistriesD(), "--dest-tls-verify=false", "--sign-by-sigstore-private-key", Path.Combine(keys, "cosign.key"), "--sign-passphrase-file", pass, $"oci:{_tmp["os"]}:v1", $"docker://{Registry}/signed/os:v1"]).Ok("skopeo copy --sign");
        Tools.Run(Skopeo, ["copy", "--dest-tls-verify=false", $"oci:{_tmp["os"]}:v1", $"docker://{Registry}/signed/os:renamed"]).Ok("skopeo copy");
        var policy = Policy("good", SigstoreKey(Path.Combine(keys, "cosign.pub")));

        var target = _tmp["target"];
        Tools.Ours("init", "--repo=" + target, "--mode=bare-user").Ok("init");
        var refused = Tools.Ours("container", "image", "pull", "--policy", policy, "--tls-verify=false", target, $"ostree-image-signed:docker://{Registry}/signed/os:renamed");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains($"Source image rejected: Signature for identity \"{Registry}/signed/os:v1\" is not accepted", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, Tools.Ours("refs", "--repo=" + target).Ok("refs"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(target, "objects"), "*", SearchOption.AllDirectories));

        Tools.Ours("container", "image", "pull", "--policy", policy, "--tls-verify=false", target, $"ostree-image-signed:docker://{Registry}/signed/os:v1").Ok("signed pull");
        Assert.Contains($"docker://{Registry}/signed/os:v1", Tools.Ours("container", "image", "list", "--repo=" + target).Ok("image list"));

        // As ostree-ext's image proxy, the policy applies to unverified references too: this one rejects the
        // registry's other repositories, and nothing is imported.
        var other = _tmp["other-target"];
        Tools.Ours("init", "--repo=" + other, "--mode=bare-user").Ok("init");
        Tools.Run(Skopeo, ["copy", "--dest-tls-verify=false", $"oci:{_tmp["os"]}:v1", $"docker://{Registry}/unsigned/os:v1"]).Ok("skopeo copy");
        var unverified = Tools.Ours("container", "image", "pull", "--policy", policy, "--tls-verify=false", other, $"ostree-unverified-registry:{Registry}/unsigned/os:v1");
        Assert.NotEqual(0, unverified.ExitCode);
        Assert.Contains($"Running image docker://{Registry}/unsigned/os:v1 is rejected by policy.", unverified.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, Tools.Ours("refs", "--repo=" + other).Ok("refs"));
        Tools.Ours("container", "image", "pull", "--policy", policy, "--tls-verify=false", other, $"ostree-unverified-registry:{Registry}/signed/os:v1").Ok("an unverified reference to a signed image passes");

        // ostree-ext refuses a signed reference when the policy's default accepts anything.
        var lax = _tmp["lax.json"];
        File.WriteAllText(lax, """{"default":[{"type":"insecureAcceptAnything"}]}""");
        var r = Tools.Ours("container", "image", "pull", "--policy", lax, "--tls-verify=false", target, $"ostree-image-signed:docker://{Registry}/signed/os:v1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Our_signatures_verify_with_skopeo_and_with_cosign_3_in_both_formats()
    {
        var keys = KeyPair("keys");
        var pass = _tmp["empty-pass"];
        File.WriteAllText(pass, string.Empty);
        var layout = _tmp["layout"];
        TestImages.WriteSmallLayout(layout, "v1", files: 3, seed: 9);
        var reference = $"{Registry}/signed/ours:v1";

        // A wrong passphrase stops the copy before anything is pushed.
        var badPass = _tmp["bad-pass"];
        File.WriteAllText(badPass, "not it\n");
        var bad = Tools.Ours("image", "copy", "--insecure-policy", "--sign-by-sigstore-private-key", Path.Combine(keys, "cosign.key"), "--sign-passphrase-file", badPass, "--tls-verify=false", $"oci:{layout}:v1", "docker://" + reference);
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("decrypting the private key failed: wrong passphrase?", bad.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("v1", Tools.Ours("image", "tags", "--tls-verify=false", $"docker://{Registry}/signed/ours").Stdout, StringComparison.Ordinal);

        // Signing needs a registry to keep the signature, as in skopeo.
        var toLayout = Tools.Ours("image", "copy", "--insecure-policy", "--sign-by-sigstore-private-key", Path.Combine(keys, "cosign.key"), "--sign-passphrase-file", pass, $"oci:{layout}:v1", $"oci:{_tmp["copy"]}:v1");
        Assert.NotEqual(0, toLayout.ExitCode);
        Assert.Contains("Pushing signatures for oci images is not supported", toLayout.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_tmp["copy"]));

        Tools.Ours("image", "copy", "--insecure-policy", "--sign-by-sigstore-private-key", Path.Combine(keys, "cosign.key"), "--sign-passphrase-file", pass, "--tls-verify=false", $"oci:{layout}:v1", "docker://" + reference).Ok("ours copy --sign-by-sigstore-private-key");
        var policy = Policy("good", SigstoreKey(Path.Combine(keys, "cosign.pub")));
        SkopeoCopy(policy, reference).Ok("skopeo verifies our .sig attachment");
        OursCopy(policy, reference).Ok("we verify our own signature");
        var env = new Dictionary<string, string> { ["COSIGN_PASSWORD"] = string.Empty };
        var bundle = Tools.Run(Cosign, ["verify", "--key", Path.Combine(keys, "cosign.pub"), "--insecure-ignore-tlog", "--allow-insecure-registry", reference], env).Ok("cosign verify (bundle)");
        Assert.Contains("https://sigstore.dev/cosign/sign/v1", bundle, StringComparison.Ordinal);
        var legacy = Tools.Run(Cosign, ["verify", "--key", Path.Combine(keys, "cosign.pub"), "--insecure-ignore-tlog", "--allow-insecure-registry", "--new-bundle-format=false", reference], env).Ok("cosign verify --new-bundle-format=false");
        Assert.Contains($"\"docker-reference\":\"{reference}\"", legacy, StringComparison.Ordinal);
        Assert.Contains("\"creator\":\"ostree-sharp ", legacy, StringComparison.Ordinal);

        // A second signature (another key, another claimed identity) is added next to the first.
        var other = KeyPair("other");
        Tools.Ours("image", "copy", "--insecure-policy", "--sign-by-sigstore-private-key", Path.Combine(other, "cosign.key"), "--sign-passphrase-file", pass, "--sign-identity", $"{Registry}/signed/ours:release", "--tls-verify=false", $"oci:{layout}:v1", "docker://" + reference).Ok("second signature");
        SkopeoCopy(policy, reference).Ok("skopeo still accepts the first signature");
        var both = OursCopy(Policy("other", new JsonArray(new JsonObject { ["type"] = "sigstoreSigned", ["keyPath"] = Path.Combine(other, "cosign.pub"), ["signedIdentity"] = new JsonObject { ["type"] = "exactReference", ["dockerReference"] = $"{Registry}/signed/ours:release" } })), reference);
        both.Ok("the second signature meets an exactReference rule");
    }

    [Fact]
    public void An_encapsulated_commit_signed_while_pushed_is_pulled_as_ostree_image_signed()
    {
        var keys = KeyPair("keys");
        var pass = _tmp["empty-pass"];
        File.WriteAllText(pass, string.Empty);
        var repo = _tmp["src"];
        Directory.CreateDirectory(_tmp["tree/usr/bin"]);
        File.WriteAllText(_tmp["tree/usr/bin/tool"], "#!/bin/sh\n");
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        var commit = Tools.Ours("commit", "--repo=" + repo, "-b", "os", "--timestamp=2024-01-01", _tmp["tree"]).Ok("commit");
        var reference = $"{Registry}/signed/encapsulated:v1";
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--tls-verify=false", "--sign-by-sigstore-private-key", Path.Combine(keys, "cosign.key"), "--sign-passphrase-file", pass, "os", "docker://" + reference).Ok("encapsulate --sign-by-sigstore-private-key");
        var target = _tmp["target"];
        Tools.Ours("init", "--repo=" + target, "--mode=bare-user").Ok("init");
        var policy = Policy("good", SigstoreKey(Path.Combine(keys, "cosign.pub")));
        Tools.Ours("container", "unencapsulate", "--repo=" + target, "--policy", policy, "--tls-verify=false", "--write-ref=imported", $"ostree-image-signed:docker://{reference}").Ok("signed unencapsulate");
        Assert.Equal(commit, Tools.Ours("rev-parse", "--repo=" + target, "imported").Ok("rev-parse"));
    }

    [Fact]
    public void Gpg_simple_signing_through_a_lookaside_and_a_dir_image_verifies_both_ways_with_skopeo()
    {
        using var gpg = new Gpg();
        var fpr = gpg.NewKey("signer");
        var otherFpr = gpg.NewKey("stranger");
        var pub = _tmp["signer.gpg"];
        File.WriteAllBytes(pub, Convert.FromBase64String(string.Concat(gpg.Run("--export", "--armor", fpr).Ok("export").Split('\n').Where(l => l.Length > 0 && !l.StartsWith("-----", StringComparison.Ordinal) && !l.StartsWith('=')))));
        var strangerPub = _tmp["stranger.gpg"];
        File.WriteAllText(strangerPub, gpg.Run("--export", "--armor", otherFpr).Ok("export"));

        // registries.d: the lookaside for this registry is a folder here (for writing and reading).
        var lookaside = _tmp["lookaside"];
        var regd = _tmp["regd-gpg"];
        Directory.CreateDirectory(regd);
        File.WriteAllText(Path.Combine(regd, "lookaside.yaml"), $"docker:\n  {Registry}/signed:\n    lookaside: file://{lookaside}\n    lookaside-staging: file://{lookaside}\n");
        var env = new Dictionary<string, string> { ["GNUPGHOME"] = gpg.Home };
        var layout = _tmp["layout"];
        TestImages.WriteSmallLayout(layout, "v1", files: 2, seed: 31);
        TestImages.WriteSmallLayout(_tmp["layout2"], "v1", files: 2, seed: 32);

        // skopeo signs one image, we sign another; each tool verifies both.
        Tools.Run(Skopeo, ["copy", "--registries.d", regd, "--dest-tls-verify=false", "--sign-by", fpr, $"oci:{layout}:v1", $"docker://{Registry}/signed/gpg:theirs"], env).Ok("skopeo copy --sign-by");
        Tools.OursEnv(env, "image", "copy", "--insecure-policy", "--registries.d", regd, "--tls-verify=false", "--sign-by", fpr, $"oci:{_tmp["layout2"]}:v1", $"docker://{Registry}/signed/gpg:ours").Ok("ours copy --sign-by");
        Assert.True(Directory.EnumerateFiles(lookaside, "signature-1", SearchOption.AllDirectories).Count() == 2, string.Join(' ', Directory.EnumerateFiles(lookaside, "*", SearchOption.AllDirectories)));

        var good = Policy("gpg", new JsonArray(new JsonObject { ["type"] = "signedBy", ["keyType"] = "GPGKeys", ["keyPath"] = pub }));
        var stranger = Policy("gpg-stranger", new JsonArray(new JsonObject { ["type"] = "signedBy", ["keyType"] = "GPGKeys", ["keyPath"] = strangerPub }));
        foreach (var (policy, tag, ok) in new[] { (good, "theirs", true), (good, "ours", true), (stranger, "theirs", false), (stranger, "ours", false) })
        {
            var reference = $"{Registry}/signed/gpg:{tag}";
            var ours = Tools.Ours("image", "copy", "--policy", policy, "--registries.d", regd, "--tls-verify=false", "docker://" + reference, $"oci:{_tmp["g" + Guid.NewGuid().ToString("N")[..8]]}:x");
            var theirs = Tools.Run(Skopeo, ["copy", "--policy", policy, "--registries.d", regd, "--remove-signatures", "--src-tls-verify=false", "docker://" + reference, $"oci:{_tmp["gs" + Guid.NewGuid().ToString("N")[..8]]}:x"]);
            Assert.True(ours.ExitCode == 0 == ok, $"ours, {tag} with {Path.GetFileName(policy)}: {ours.Stderr}");
            Assert.True(theirs.ExitCode == 0 == ok, $"skopeo, {tag} with {Path.GetFileName(policy)}: {theirs.Stderr}");
            if (!ok)
            {
                Assert.Contains("is not accepted (policy", ours.Stderr, StringComparison.Ordinal);
                Assert.Contains("requirement 1: signedBy", ours.Stderr, StringComparison.Ordinal);
            }
        }

        // A dir: image keeps its signatures as signature-N files; skopeo reads ours.
        var dirImage = _tmp["dir-image"];
        Tools.OursEnv(env, "image", "copy", "--insecure-policy", "--sign-by", fpr, "--sign-identity", "example.com/app:v1", $"oci:{layout}:v1", "dir:" + dirImage).Ok("ours copy --sign-by to dir:");
        Assert.True(File.Exists(Path.Combine(dirImage, "signature-1")));
        var dirPolicy = _tmp["dir-policy.json"];
        File.WriteAllText(dirPolicy, new JsonObject
        {
            ["default"] = new JsonArray(new JsonObject { ["type"] = "reject" }),
            ["transports"] = new JsonObject { ["dir"] = new JsonObject { [string.Empty] = new JsonArray(new JsonObject { ["type"] = "signedBy", ["keyType"] = "GPGKeys", ["keyPath"] = pub, ["signedIdentity"] = new JsonObject { ["type"] = "exactReference", ["dockerReference"] = "example.com/app:v1" } }) } },
        }.ToJsonString());
        Tools.Run(Skopeo, ["copy", "--policy", dirPolicy, "--remove-signatures", "dir:" + dirImage, $"oci:{_tmp["from-dir"]}:x"]).Ok("skopeo verifies our dir: signature");
        Tools.Ours("image", "copy", "--policy", dirPolicy, "dir:" + dirImage, $"oci:{_tmp["from-dir-ours"]}:x").Ok("we verify our dir: signature");
        File.Delete(Path.Combine(dirImage, "signature-1"));
        var unsigned = Tools.Ours("image", "copy", "--policy", dirPolicy, "dir:" + dirImage, $"oci:{_tmp["from-dir-unsigned"]}:x");
        Assert.Contains("A signature was required, but no signature exists", unsigned.Stderr, StringComparison.Ordinal);
    }
}
