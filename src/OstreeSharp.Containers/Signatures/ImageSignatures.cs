using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Containers.Signatures;

/// <summary>
/// A sigstore signature stored as cosign and containers/image store it: a layer of the <c>sha256-HEX.sig</c>
/// attachment manifest, holding the payload, with the base64 signature in an annotation.
/// </summary>
public sealed record SigstoreAttachment(string MediaType, byte[] Payload, IReadOnlyDictionary<string, string> Annotations)
{
    /// <summary>The media type of a "simple signing" payload.</summary>
    public const string SimpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json";

    /// <summary>The annotation holding the base64 signature.</summary>
    public const string SignatureAnnotation = "dev.cosignproject.cosign/signature";
}

/// <summary>A sigstore bundle (cosign 3) attached to the image as an OCI 1.1 referrer.</summary>
public sealed record SigstoreBundle(Digest Manifest, byte[] Json);

/// <summary>The signatures found for an image.</summary>
public sealed record ImageSignatureSet(IReadOnlyList<SigstoreAttachment> Attachments, IReadOnlyList<SigstoreBundle> Bundles)
{
    /// <summary>No signatures.</summary>
    public static readonly ImageSignatureSet None = new([], []);
}

/// <summary>
/// Finds an image's sigstore signatures in its registry: the <c>sha256-HEX.sig</c> tag (cosign 2, skopeo's
/// <c>--sign-by-sigstore-private-key</c>) and bundles attached as referrers (cosign 3: the referrers API, else the
/// <c>sha256-HEX</c> referrers tag). Sources other than a registry have no sigstore signatures.
/// </summary>
public static class SignatureFinder
{
    /// <summary>The media type of a sigstore bundle.</summary>
    public const string BundleType = "application/vnd.dev.sigstore.bundle.v0.3+json";

    private const string EmptyType = "application/vnd.oci.empty.v1+json";

    private const int MaxSignatures = 64;
    private const long MaxPayload = 1 << 20;

    /// <summary>Finds the signatures of the manifest <paramref name="digest"/> read through <paramref name="source"/>.</summary>
    public static async Task<ImageSignatureSet> FindAsync(IImageSource source, Digest digest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source is not RegistrySource registry)
        {
            return ImageSignatureSet.None;
        }

        var repo = registry.Repository;
        var client = registry.Client;
        var what = registry.Reference.ToString();
        var attachments = new List<SigstoreAttachment>();
        var sigTag = digest.Algorithm + "-" + digest.Hex + ".sig";
        if (await TryTagAsync(registry, repo, sigTag, what, cancellationToken).ConfigureAwait(false) is { } sig && !sig.IsIndex)
        {
            foreach (var layer in sig.AsManifest().Layers.Take(MaxSignatures))
            {
                var payload = await ReadAsync(source, layer, cancellationToken).ConfigureAwait(false);
                attachments.Add(new SigstoreAttachment(layer.MediaType, payload, layer.Annotations ?? []));
            }
        }

        var bundles = new List<SigstoreBundle>();
        var referrers = await client.GetReferrersAsync(repo, digest, what, cancellationToken).ConfigureAwait(false)
            ?? await TryTagAsync(registry, repo, digest.Algorithm + "-" + digest.Hex, what, cancellationToken).ConfigureAwait(false);
        if (referrers is { IsIndex: true })
        {
            // cosign 3.1 lists its bundle manifests in the referrers tag with the empty config's type as artifactType,
            // so the manifests themselves are read.
            foreach (var d in referrers.AsIndex().Manifests.Where(m => m.ArtifactType is null or BundleType or EmptyType).Take(MaxSignatures))
            {
                var m = await source.GetManifestAsync(d.GetDigest(), cancellationToken).ConfigureAwait(false);
                if (m.IsIndex)
                {
                    continue;
                }

                var manifest = m.AsManifest();
                if (manifest.Subject?.Digest != digest.ToString())
                {
                    continue; // a referrer of something else: the tag is only a hint
                }

                foreach (var layer in manifest.Layers.Where(l => l.MediaType == BundleType).Take(MaxSignatures))
                {
                    bundles.Add(new SigstoreBundle(m.Digest, await ReadAsync(source, layer, cancellationToken).ConfigureAwait(false)));
                }
            }
        }

        return new ImageSignatureSet(attachments, bundles);
    }

    private static async Task<ManifestBlob?> TryTagAsync(RegistrySource registry, string repo, string tag, string what, CancellationToken ct)
    {
        try
        {
            return await registry.Client.GetManifestAsync(repo, tag, what, ct).ConfigureAwait(false);
        }
        catch (RegistryException e) when (e.StatusCode == 404)
        {
            return null;
        }
    }

    private static async Task<byte[]> ReadAsync(IImageSource source, Descriptor layer, CancellationToken ct)
    {
        if (layer.Size > MaxPayload)
        {
            throw new ManifestException($"Signature payload {layer.Digest} of {source.Reference} is {layer.Size} bytes: too large");
        }

        await using var s = await source.GetBlobAsync(layer, 0, ct).ConfigureAwait(false);
        using var ms = new MemoryStream((int)Math.Max(0, layer.Size));
        await s.CopyToAsync(ms, ct).ConfigureAwait(false);
        return ms.ToArray();
    }
}
