using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;

namespace OstreeSharp.Tests.Containers;

/// <summary>containers-policy.json: parsing, scope precedence, signedIdentity rules and sigstore payloads.</summary>
public sealed class ImagePolicyTests
{
    private static ImagePolicy Parse(string json) => ImagePolicy.Parse(Encoding.UTF8.GetBytes(json), "test.json");

    [Fact]
    public void Scopes_go_from_the_full_reference_to_wildcard_domains_and_from_a_layout_to_its_parents()
    {
        Assert.Equal(
            ["registry.example.com:5000/ns/app:v1", "registry.example.com:5000/ns/app", "registry.example.com:5000/ns", "registry.example.com:5000", "*.example.com", "*.com"],
            ImagePolicy.Scopes(ImageReference.Parse("docker://registry.example.com:5000/ns/app:v1")));
        Assert.Equal("docker.io/library/busybox:latest", ImagePolicy.Scopes(ImageReference.Parse("docker://busybox"))[0]);
        Assert.Equal(["/srv/images/os", "/srv/images", "/srv"], ImagePolicy.Scopes(ImageReference.Parse("oci:/srv/images/os:v1")));
        Assert.Empty(ImagePolicy.Scopes(ImageReference.Parse("docker-archive:/srv/x.tar")));
    }

    [Fact]
    public void The_most_specific_scope_wins_then_the_transport_default_then_the_global_default()
    {
        var policy = Parse("""
            {"default":[{"type":"reject"}],
             "transports":{"docker":{
                "":[{"type":"insecureAcceptAnything"}],
                "*.example.com":[{"type":"reject"}],
                "quay.example.com/team":[{"type":"sigstoreSigned","keyData":"AA==","signedIdentity":{"type":"matchRepository"}}],
                "quay.example.com/team/app:pinned":[{"type":"insecureAcceptAnything"}]}}}
            """);
        Assert.Equal("quay.example.com/team/app:pinned", policy.RequirementsFor(ImageReference.Parse("docker://quay.example.com/team/app:pinned")).Scope);
        var team = policy.RequirementsFor(ImageReference.Parse("docker://quay.example.com/team/app:v2"));
        Assert.Equal("transports.docker[\"quay.example.com/team\"]", team.Section);
        Assert.IsType<SigstoreSignedRequirement>(Assert.Single(team.Requirements));
        Assert.Equal("*.example.com", policy.RequirementsFor(ImageReference.Parse("docker://quay.example.com/other:v1")).Scope);
        Assert.Equal(string.Empty, policy.RequirementsFor(ImageReference.Parse("docker://docker.io/library/busybox")).Scope);
        Assert.Equal("default", policy.RequirementsFor(ImageReference.Parse("oci:/tmp/x:v1")).Section);
        Assert.False(policy.DefaultAcceptsAnything);
        Assert.True(Parse("""{"default":[{"type":"insecureAcceptAnything"}]}""").DefaultAcceptsAnything);
    }

    [Theory]
    [InlineData("{}", "Default policy is missing")]
    [InlineData("""{"default":[]}""", "List of verification policy requirements must not be empty")]
    [InlineData("""{"default":[{"type":"accept"}]}""", "Unknown policy requirement type \"accept\"")]
    [InlineData("""{"default":[{"type":"reject","keyPath":"/k"}]}""", "Unknown key \"keyPath\"")]
    [InlineData("""{"default":[{"type":"sigstoreSigned"}]}""", "Exactly one of keyPath, keyPaths, keyData and keyDatas must be specified, none of them present")]
    [InlineData("""{"default":[{"type":"sigstoreSigned","keyPath":"/a","keyData":"AA=="}]}""", "more than one present")]
    [InlineData("""{"default":[{"type":"sigstoreSigned","fulcio":{}}]}""", "sigstoreSigned with \"fulcio\" is not supported")]
    [InlineData("""{"default":[{"type":"signedBy","keyType":"X509Certificates","keyPath":"/k"}]}""", "Unsupported keyType \"X509Certificates\"")]
    [InlineData("""{"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"/k","signedIdentity":{"type":"exactReference","dockerReference":"a/b"}}]}""", "dockerReference \"a/b\" contains neither a tag nor digest")]
    [InlineData("""{"default":[{"type":"reject"}],"transports":{"oci":{"relative/path":[{"type":"reject"}]}}}""", "Invalid scope \"relative/path\" for transport oci")]
    [InlineData("""{"default":[{"type":"reject"}],"default":[{"type":"reject"}]}""", "duplicate key \"default\"")]
    [InlineData("[1", "invalid policy in \"test.json\"")]
    public void Malformed_policies_are_refused_naming_the_file_and_the_problem(string json, string message)
    {
        var e = Assert.Throws<InvalidPolicyException>(() => Parse(json));
        Assert.StartsWith("invalid policy in \"test.json\": ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    // intended (null: not a registry image), rule, signed, accepted
    [InlineData("example.com/app:v1", "matchRepoDigestOrExact", null, null, "example.com/app:v1", true)]
    [InlineData("example.com/app:v1", "matchRepoDigestOrExact", null, null, "example.com/app:v2", false)]
    [InlineData("example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "matchRepoDigestOrExact", null, null, "example.com/app:v2", true)]
    [InlineData("example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "matchRepoDigestOrExact", null, null, "example.com/other:v2", false)]
    [InlineData("example.com/app:v1", "matchRepoDigestOrExact", null, null, "example.com/app", false)]
    [InlineData("example.com/app:v1", "matchExact", null, null, "example.com/app:v1", true)]
    [InlineData("example.com/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "matchExact", null, null, "example.com/app:v1", false)]
    [InlineData("example.com/app:v1", "matchRepository", null, null, "example.com/app:other", true)]
    [InlineData("example.com/app:v1", "exactReference", "example.com/signed:v9", null, "example.com/signed:v9", true)]
    [InlineData(null, "exactReference", "example.com/signed:v9", null, "example.com/signed:v9", true)]
    [InlineData(null, "matchRepoDigestOrExact", null, null, "example.com/signed:v9", false)]
    [InlineData("example.com/app:v1", "exactRepository", "example.com/signed", null, "example.com/signed:any", true)]
    [InlineData("mirror.local/ns/app:v1", "remapIdentity", "mirror.local/ns", "example.com/upstream", "example.com/upstream/app:v1", true)]
    [InlineData("mirror.local/nsx/app:v1", "remapIdentity", "mirror.local/ns", "example.com/upstream", "example.com/upstream/app:v1", false)]
    [InlineData("docker.io/library/busybox:latest", "matchRepoDigestOrExact", null, null, "busybox", false)]
    [InlineData("docker.io/library/busybox:latest", "matchRepoDigestOrExact", null, null, "busybox:latest", true)]
    public void Signed_identities_follow_the_rules_of_containers_image(string? intended, string type, string? reference, string? signedPrefix, string signed, bool accepted)
    {
        var rule = new IdentityRule(type, reference, signedPrefix);
        Assert.Equal(accepted, rule.Matches(intended is null ? null : DockerReference.Parse(intended), signed));
    }

    [Fact]
    public void A_simple_signing_payload_verifies_with_its_key_and_not_with_another_or_when_altered()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var digest = Digest.Sha256("manifest"u8);
        var payload = Encoding.UTF8.GetBytes($$"""{"critical":{"identity":{"docker-reference":"example.com/app:v1"},"image":{"docker-manifest-digest":"{{digest}}"},"type":"cosign container image signature"},"optional":null}""");
        var signature = Convert.ToBase64String(key.SignData(payload, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
        var attachment = new SigstoreAttachment(SigstoreAttachment.SimpleSigningType, payload, new Dictionary<string, string> { [SigstoreAttachment.SignatureAnnotation] = signature });
        var keys = SigstoreVerifier.ReadPublicKeys(Encoding.ASCII.GetBytes(key.ExportSubjectPublicKeyInfoPem()), "key.pub");

        var claim = SigstoreVerifier.VerifyAttachment(attachment, keys);
        Assert.Equal(digest, claim.ManifestDigest);
        Assert.Equal("example.com/app:v1", claim.DockerReference);

        var otherKeys = SigstoreVerifier.ReadPublicKeys(Encoding.ASCII.GetBytes(other.ExportSubjectPublicKeyInfoPem()), "other.pub");
        Assert.StartsWith("cryptographic signature verification failed", Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.VerifyAttachment(attachment, otherKeys)).Message, StringComparison.Ordinal);

        var altered = attachment with { Payload = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(payload).Replace("app:v1", "app:v2", StringComparison.Ordinal)) };
        Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.VerifyAttachment(altered, keys));
        Assert.Contains("missing dev.cosignproject.cosign/signature annotation", Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.VerifyAttachment(attachment with { Annotations = new Dictionary<string, string>() }, keys)).Message, StringComparison.Ordinal);
        Assert.Contains("no PEM \"PUBLIC KEY\" block", Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.ReadPublicKeys("garbage"u8, "bad.pub")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Payloads_with_extra_or_missing_fields_or_another_type_are_refused()
    {
        Assert.Contains("Unrecognized signature type atomic container signature", Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.ParsePayload(
            """{"critical":{"identity":{"docker-reference":"a/b:c"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"atomic container signature"},"optional":null}"""u8.ToArray())).Message, StringComparison.Ordinal);
        Assert.Contains("unexpected field \"extra\"", Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.ParsePayload(
            """{"critical":{"identity":{"docker-reference":"a/b:c"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature","extra":1},"optional":null}"""u8.ToArray())).Message, StringComparison.Ordinal);
        Assert.Contains("missing field \"optional\"", Assert.Throws<InvalidSignatureException>(() => SigstoreVerifier.ParsePayload("""{"critical":{}}"""u8.ToArray())).Message, StringComparison.Ordinal);
    }
}
