using Org.BouncyCastle.Crypto;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Operations;
using OstreeSharp.Signing;

namespace OstreeSharp.Containers.Signatures;

/// <summary>An image the signature policy does not allow; the message names the policy section and requirement.</summary>
public sealed class PolicyRejectedException(string message, PolicyScope scope, PolicyRequirement requirement) : ContainerException(OstreeErrorCode.PolicyRejected, message)
{
    /// <summary>Where in the policy the requirements came from.</summary>
    public PolicyScope Scope { get; } = scope;

    /// <summary>The requirement that was not met.</summary>
    public PolicyRequirement Requirement { get; } = requirement;
}

/// <summary>
/// Decides whether containers-policy.json allows an image, as containers/image's <c>IsRunningImageAllowed</c> does:
/// every requirement of the image's scope must allow it, and a signature requirement is met by one signature that
/// verifies with its keys, is about this manifest and claims an identity the rule accepts.
/// </summary>
public static class PolicyEnforcer
{
    /// <summary>
    /// Checks the image whose top-level manifest is <paramref name="top"/>, read through <paramref name="source"/>,
    /// before anything else of it is read.
    /// </summary>
    /// <exception cref="PolicyRejectedException">The policy does not allow the image.</exception>
    public static async Task CheckAsync(ImagePolicy policy, IImageSource source, ManifestBlob top, RegistriesD? registriesD, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(top);
        var reference = source.Reference;
        var scope = policy.RequirementsFor(reference);
        ImageSignatureSet? signatures = null;
        for (int i = 0; i < scope.Requirements.Count; i++)
        {
            var req = scope.Requirements[i];
            string? reason = req switch
            {
                AcceptAnythingRequirement => null,
                RejectRequirement => $"Running image {reference} is rejected by policy.",
                SignedBaseLayerRequirement => "signedBaseLayer not implemented yet!",
                SignedByRequirement g => SignedBy(g, reference, top, signatures ??= await SignatureFinder.FindAsync(source, top.Digest, registriesD, cancellationToken).ConfigureAwait(false)),
                SigstoreSignedRequirement s => Sigstore(s, reference, top, signatures ??= await SignatureFinder.FindAsync(source, top.Digest, registriesD, cancellationToken).ConfigureAwait(false)),
                _ => $"unknown requirement {req.Type}",
            };
            if (reason is not null)
            {
                throw new PolicyRejectedException($"Source image rejected: {reason} (policy {policy.Path}, {scope.Section}, requirement {i + 1}: {req.Type})", scope, req);
            }
        }
    }

    /// <summary>The identity an image read from <paramref name="reference"/> has for signedIdentity rules (a registry reference without tag or digest means <c>latest</c>).</summary>
    public static DockerReference? IntendedIdentity(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Transport != Transport.Registry)
        {
            return null;
        }

        var d = reference.Docker;
        return d.Tag is null && d.Digest is null ? d with { Tag = "latest" } : d;
    }

    // Null when one signature meets the requirement, else why none did.
    private static string? Sigstore(SigstoreSignedRequirement req, ImageReference reference, ManifestBlob top, ImageSignatureSet signatures)
    {
        IReadOnlyList<AsymmetricKeyParameter>? keys = null;
        string? keyError = null;
        try
        {
            keys = LoadKeys(req);
        }
        catch (InvalidSignatureException e)
        {
            keyError = e.Message;
        }

        var rejections = new List<string>();
        int others = 0;
        var intended = IntendedIdentity(reference);
        foreach (var a in signatures.Attachments)
        {
            if (a.MediaType != SigstoreAttachment.SimpleSigningType)
            {
                others++;
                continue;
            }

            if (keys is null)
            {
                rejections.Add(keyError!);
                continue;
            }

            if (Judge(() => SigstoreVerifier.VerifyAttachment(a, keys), req.Identity, intended, top) is not { } reason)
            {
                return null;
            }

            rejections.Add(reason);
        }

        foreach (var b in signatures.Bundles)
        {
            if (keys is null)
            {
                rejections.Add(keyError!);
                continue;
            }

            try
            {
                var about = SigstoreVerifier.VerifyBundle(b, top.Bytes, keys);
                if (about.Contains(top.Digest))
                {
                    return null; // a bundle claims no repository: the digest binds it to this image
                }

                rejections.Add($"Signature for digest {(about.Count > 0 ? about[0].ToString() : "(none)")} does not match");
            }
            catch (InvalidSignatureException e)
            {
                rejections.Add(e.Message);
            }
        }

        return Summary(rejections, others);
    }

    // Null when one GPG simple signing meets the requirement, else why none did.
    private static string? SignedBy(SignedByRequirement req, ImageReference reference, ManifestBlob top, ImageSignatureSet signatures)
    {
        var keyring = new GpgKeyring();
        try
        {
            foreach (var path in req.KeyPaths)
            {
                keyring.AddFile(path);
            }

            if (req.KeyData is { } data)
            {
                keyring.AddStream(new MemoryStream(data, writable: false), "keyData");
            }
        }
        catch (Exception e) when (e is OstreeException or IOException or UnauthorizedAccessException or Org.BouncyCastle.Bcpg.OpenPgp.PgpException)
        {
            return $"loading the keys of signedBy: {e.Message}";
        }

        if (keyring.Rings.Count == 0)
        {
            return "No public keys imported";
        }

        var intended = IntendedIdentity(reference);
        var rejections = new List<string>();
        foreach (var sig in signatures.SimpleSignings)
        {
            if (Judge(() => SimpleSigning.Verify(sig, keyring), req.Identity, intended, top) is not { } reason)
            {
                return null;
            }

            rejections.Add(reason);
        }

        return Summary(rejections, 0);
    }

    // Null when the signature verifies, is about this manifest and claims an identity the rule accepts; else why not.
    private static string? Judge(Func<ISignatureClaim> verify, IdentityRule rule, DockerReference? intended, ManifestBlob top)
    {
        try
        {
            var claim = verify();
            var (digest, claimed) = (claim.ManifestDigest, claim.DockerReference);
            return digest != top.Digest ? $"Signature for digest {digest} does not match"
                : !rule.Matches(intended, claimed) ? $"Signature for identity \"{claimed}\" is not accepted"
                : null;
        }
        catch (InvalidSignatureException e)
        {
            return e.Message;
        }
    }

    // containers/image's summary of why no signature met a requirement.
    private static string Summary(List<string> rejections, int others) => rejections.Count switch
    {
        0 when others == 0 => "A signature was required, but no signature exists",
        0 => $"A signature was required, but no signature exists (0 non-sigstore signatures, {others} sigstore non-signature attachments)",
        1 => rejections[0],
        _ => "None of the signatures were accepted, reasons: " + string.Join("; ", rejections),
    };

    private static List<AsymmetricKeyParameter> LoadKeys(SigstoreSignedRequirement req)
    {
        var keys = new List<AsymmetricKeyParameter>();
        foreach (var path in req.KeyPaths)
        {
            byte[] pem;
            try
            {
                pem = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidSignatureException($"reading public key {path}: {e.Message}");
            }

            keys.AddRange(SigstoreVerifier.ReadPublicKeys(pem, path));
        }

        for (int i = 0; i < req.KeyDatas.Count; i++)
        {
            keys.AddRange(SigstoreVerifier.ReadPublicKeys(req.KeyDatas[i], $"keyData {i + 1}"));
        }

        return keys;
    }
}

/// <summary>
/// A source whose image is checked against a signature policy before anything but its top-level manifest is read:
/// the first manifest or blob request fetches the top-level manifest and runs <see cref="PolicyEnforcer"/>.
/// </summary>
public sealed class PolicyCheckedSource(IImageSource inner, ImagePolicy policy, RegistriesD? registriesD = null) : IImageSource
{
    private ManifestBlob? _top;

    /// <inheritdoc/>
    public ImageReference Reference => inner.Reference;

    /// <summary>The source being checked.</summary>
    public IImageSource Inner => inner;

    /// <inheritdoc/>
    public async Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken)
    {
        var top = await TopAsync(cancellationToken).ConfigureAwait(false);
        return instance is null || instance == top.Digest ? top : await inner.GetManifestAsync(instance, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken)
    {
        await TopAsync(cancellationToken).ConfigureAwait(false);
        return await inner.GetBlobAsync(blob, offset, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken) => inner.ListTagsAsync(cancellationToken);

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private async Task<ManifestBlob> TopAsync(CancellationToken cancellationToken)
    {
        if (_top is null)
        {
            var top = await inner.GetManifestAsync(null, cancellationToken).ConfigureAwait(false);
            await PolicyEnforcer.CheckAsync(policy, inner, top, registriesD, cancellationToken).ConfigureAwait(false);
            _top = top;
        }

        return _top;
    }
}
