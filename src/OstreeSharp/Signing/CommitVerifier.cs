// The verification policy later issues use unchanged: given a commit and a remote (or an explicit
// key set), verify or refuse with the reason.
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Signing;

/// <summary>Which keys a commit must be signed by.</summary>
public sealed record VerificationPolicy(IReadOnlyList<Ed25519PublicKey> TrustedEd25519, IReadOnlyList<Ed25519PublicKey> RevokedEd25519, bool RequireGpg)
{
    /// <summary>Trust exactly these ed25519 keys.</summary>
    public static VerificationPolicy ForKeys(params Ed25519PublicKey[] keys) => new(keys, [], false);

    /// <summary>
    /// The policy of a remote: <c>sign-verify</c> with <c>verification-ed25519-key</c> /
    /// <c>verification-ed25519-file</c>, and <c>gpg-verify</c> (default true, as in ostree).
    /// </summary>
    public static VerificationPolicy ForRemote(OstreeRepo repo, string remote)
    {
        var r = repo.RequireRemote(remote);
        var trusted = new List<Ed25519PublicKey>();
        var signVerify = r.Options.GetValueOrDefault("sign-verify");
        if (signVerify is not null and not "false")
        {
            if (r.Options.TryGetValue("verification-ed25519-key", out var inline))
            {
                trusted.Add(Ed25519PublicKey.Parse(inline));
            }

            if (r.Options.TryGetValue("verification-ed25519-file", out var file))
            {
                trusted.AddRange(Ed25519Keys.ReadPublicKeys(file));
            }

            if (trusted.Count == 0)
            {
                throw new SignatureException($"Remote \"{remote}\" has sign-verify set but no verification-ed25519-key or verification-ed25519-file", SignatureFailure.UnknownKey);
            }
        }

        bool gpg = !string.Equals(r.Options.GetValueOrDefault("gpg-verify") ?? "true", "false", StringComparison.Ordinal);
        return new VerificationPolicy(trusted, [], gpg);
    }
}

/// <summary>Applies a <see cref="VerificationPolicy"/> to commits.</summary>
public static class CommitVerifier
{
    /// <summary>Verifies or throws <see cref="SignatureException"/> with the reason; nothing is changed either way.</summary>
    public static SignatureVerification? Verify(OstreeRepo repo, Checksum commit, VerificationPolicy policy) =>
        Verify(repo.ReadMetadataBytes(ObjectType.Commit, commit), repo.LoadDetachedMetadata(commit), policy);

    /// <summary>Verifies commit bytes and their detached metadata (e.g. before anything is imported).</summary>
    public static SignatureVerification? Verify(ReadOnlySpan<byte> commitBytes, GVariant.GVariantValue? detached, VerificationPolicy policy)
    {
        if (policy.RequireGpg)
        {
            throw new SignatureException("OpenPGP verification is required by the policy (gpg-verify) and is not supported yet; set gpg-verify=false and use sign-verify with ed25519 keys", SignatureFailure.UnknownKey);
        }

        return policy.TrustedEd25519.Count == 0 ? null : Ed25519CommitSigner.Verify(commitBytes, detached, policy.TrustedEd25519, policy.RevokedEd25519);
    }
}
