// ed25519 signatures on commits, stored in detached metadata under ostree.sign.ed25519
// (spec: ostree-repo-format.md, section 5.2).
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Signing;

/// <summary>Outcome of a successful verification.</summary>
public sealed record SignatureVerification(Ed25519PublicKey Key, int ValidSignatures);

/// <summary>Signs and verifies commits with ed25519 keys.</summary>
public static class Ed25519CommitSigner
{
    /// <summary>The detached metadata key.</summary>
    public const string MetadataKey = "ostree.sign.ed25519";

    /// <summary>The signatures of a commit (empty when none).</summary>
    public static IReadOnlyList<byte[]> ReadSignatures(GVariantValue? detached)
    {
        var v = detached?.Lookup(MetadataKey);
        if (v is null)
        {
            return [];
        }

        if (v.Type.Text != "aay")
        {
            throw new SignatureException($"{MetadataKey} has type {v.Type}, expected aay");
        }

        return v.GetChildren().Select(c => c.GetBytes()).ToList();
    }

    /// <summary>
    /// Detached metadata with <paramref name="signatures"/> as the signature list; other keys are kept.
    /// The dictionary is rebuilt as GLib's GVariantDict does (hash-table order), as ostree does.
    /// </summary>
    public static GVariantValue WithSignatures(GVariantValue? detached, IEnumerable<byte[]> signatures) =>
        SignatureMetadata.WithArray(detached, MetadataKey, signatures);

    /// <summary>Adds a signature by each key (skipping keys that already signed) and writes the detached metadata.</summary>
    public static void Sign(OstreeRepo repo, Checksum commit, IEnumerable<Ed25519SecretKey> keys)
    {
        var bytes = repo.ReadMetadataBytes(ObjectType.Commit, commit);
        var detached = repo.LoadDetachedMetadata(commit);
        var sigs = ReadSignatures(detached).ToList();
        foreach (var k in keys)
        {
            if (sigs.Any(s => Ed25519Keys.Verify(k.PublicKey, bytes, s)))
            {
                continue;
            }

            sigs.Add(k.Sign(bytes));
        }

        using var tx = repo.BeginTransaction();
        tx.WriteCommitDetachedMetadata(commit, WithSignatures(detached, sigs));
        tx.Commit();
    }

    /// <summary>Removes the signatures made by the given public keys; returns how many were removed.</summary>
    public static int Delete(OstreeRepo repo, Checksum commit, IReadOnlyCollection<Ed25519PublicKey> keys)
    {
        var bytes = repo.ReadMetadataBytes(ObjectType.Commit, commit);
        var detached = repo.LoadDetachedMetadata(commit);
        var sigs = ReadSignatures(detached).ToList();
        int removed = sigs.RemoveAll(s => keys.Any(k => Ed25519Keys.Verify(k, bytes, s)));
        if (removed > 0)
        {
            using var tx = repo.BeginTransaction();
            tx.WriteCommitDetachedMetadata(commit, WithSignatures(detached, sigs));
            tx.Commit();
        }

        return removed;
    }

    /// <summary>
    /// Verifies <paramref name="commitBytes"/> against its detached metadata: at least one signature
    /// must verify with a trusted key that is not revoked. Throws with the reason otherwise.
    /// </summary>
    public static SignatureVerification Verify(ReadOnlySpan<byte> commitBytes, GVariantValue? detached, IReadOnlyCollection<Ed25519PublicKey> trusted, IReadOnlyCollection<Ed25519PublicKey>? revoked = null)
    {
        ArgumentNullException.ThrowIfNull(trusted);
        if (trusted.Count == 0)
        {
            throw new SignatureException("No trusted ed25519 keys configured", SignatureFailure.UnknownKey);
        }

        var verified = Ed25519SignEngine.WithKeys(trusted, revoked).VerifyMetadata(commitBytes, detached);
        return new SignatureVerification(verified.Ed25519Key!, 1);
    }
}
