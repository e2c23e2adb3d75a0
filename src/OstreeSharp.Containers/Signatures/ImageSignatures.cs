using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Containers.Signatures;

/// <summary>
/// A sigstore signature stored as cosign and containers/image store it: a layer of the <c>sha256-HEX.sig</c>
/// attachment manifest, holding the payload, with the base64 signature in an annotation.
/// </summary>
internal sealed record SigstoreAttachment(string MediaType, byte[] Payload, IReadOnlyDictionary<string, string> Annotations)
{
    /// <summary>The media type of a "simple signing" payload.</summary>
    public const string SimpleSigningType = "application/vnd.dev.cosign.simplesigning.v1+json";

    /// <summary>The annotation holding the base64 signature.</summary>
    public const string SignatureAnnotation = "dev.cosignproject.cosign/signature";
}

/// <summary>A sigstore bundle (cosign 3) attached to the image as an OCI 1.1 referrer.</summary>
internal sealed record SigstoreBundle(Digest Manifest, byte[] Json);

/// <summary>The signatures found for an image: sigstore attachments and bundles, and GPG simple signings.</summary>
internal sealed record ImageSignatureSet(IReadOnlyList<SigstoreAttachment> Attachments, IReadOnlyList<SigstoreBundle> Bundles, IReadOnlyList<byte[]> SimpleSignings)
{
    /// <summary>No signatures.</summary>
    public static readonly ImageSignatureSet None = new([], [], []);
}

/// <summary>
/// Finds an image's sigstore signatures in its registry: the <c>sha256-HEX.sig</c> tag (cosign 2, skopeo's
/// <c>--sign-by-sigstore-private-key</c>) and bundles attached as referrers (cosign 3: the referrers API, else the
/// <c>sha256-HEX</c> referrers tag), and GPG simple signings in the registry's lookaside store (registries.d) or
/// in a <c>dir:</c> image (<c>signature-N</c> files).
/// </summary>
internal static class SignatureFinder
{
    /// <summary>The media type of a sigstore bundle.</summary>
    public const string BundleType = "application/vnd.dev.sigstore.bundle.v0.3+json";

    private const string EmptyType = "application/vnd.oci.empty.v1+json";

    private const int MaxSignatures = 64;
    private const long MaxPayload = 1 << 20;

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Finds the signatures of the manifest <paramref name="digest"/> read through <paramref name="source"/>.</summary>
    public static async Task<ImageSignatureSet> FindAsync(IImageSource source, Digest digest, RegistriesD? registriesD, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source is DirSource)
        {
            var simple = new List<byte[]>();
            for (int i = 1; i <= MaxSignatures && File.Exists(Path.Combine(source.Reference.Path, $"signature-{i}")); i++)
            {
                simple.Add(ReadBounded(Path.Combine(source.Reference.Path, $"signature-{i}")));
            }

            return new ImageSignatureSet([], [], simple);
        }

        if (source is not RegistrySource registry)
        {
            return ImageSignatureSet.None;
        }

        var repo = registry.Repository;
        var client = registry.Client;
        var what = registry.Reference.ToString();
        var attachments = new List<SigstoreAttachment>();
        var sigTag = digest.Algorithm + "-" + digest.Hex + ".sig";
        if (await client.TryGetManifestAsync(repo, sigTag, what, cancellationToken).ConfigureAwait(false) is { } sig && !sig.IsIndex)
        {
            foreach (var layer in sig.AsManifest().Layers.Take(MaxSignatures))
            {
                var payload = await source.ReadBlobAsync(layer, MaxPayload, "Signature payload", cancellationToken).ConfigureAwait(false);
                attachments.Add(new SigstoreAttachment(layer.MediaType, payload, layer.Annotations ?? []));
            }
        }

        var bundles = new List<SigstoreBundle>();
        var referrers = await client.GetReferrersAsync(repo, digest, what, cancellationToken).ConfigureAwait(false)
            ?? await client.TryGetManifestAsync(repo, digest.Algorithm + "-" + digest.Hex, what, cancellationToken).ConfigureAwait(false);
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
                    bundles.Add(new SigstoreBundle(m.Digest, await source.ReadBlobAsync(layer, MaxPayload, "Signature payload", cancellationToken).ConfigureAwait(false)));
                }
            }
        }

        var lookaside = await LookasideAsync((registriesD ?? RegistriesD.Empty).LookasideBase(registry.Reference, write: false), digest, cancellationToken).ConfigureAwait(false);
        return new ImageSignatureSet(attachments, bundles, lookaside);
    }

    // signature-1, signature-2, ... under the lookaside base until one is missing.
    private static async Task<List<byte[]>> LookasideAsync(Uri baseUrl, Digest digest, CancellationToken ct)
    {
        var found = new List<byte[]>();
        for (int i = 1; i <= MaxSignatures; i++)
        {
            var url = RegistriesD.SignatureUrl(baseUrl, digest, i);
            if (url.IsFile)
            {
                if (!File.Exists(url.LocalPath))
                {
                    break;
                }

                found.Add(ReadBounded(url.LocalPath));
                continue;
            }

            if (url.Scheme is not ("http" or "https"))
            {
                throw new ContainerException(OstreeErrorCode.NotSupported, $"Unsupported scheme in signature storage URL {url}");
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(60));
            try
            {
                using var resp = await Http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token).ConfigureAwait(false);
                if (resp.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    break;
                }

                if (!resp.IsSuccessStatusCode)
                {
                    throw new ContainerException(OstreeErrorCode.FetchFailed, $"Reading signature from {url}: status {(int)resp.StatusCode} ({resp.ReasonPhrase})");
                }

                if (resp.Content.Headers.ContentLength > MaxPayload)
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"Signature {url} is over {MaxPayload} bytes");
                }

                var bytes = await resp.Content.ReadAsByteArrayAsync(cts.Token).ConfigureAwait(false);
                found.Add(bytes.Length <= MaxPayload ? bytes : throw new ContainerException(OstreeErrorCode.InvalidData, $"Signature {url} is over {MaxPayload} bytes"));
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                throw new ContainerException(OstreeErrorCode.FetchFailed, $"Reading signature from {url}: {e.Message}");
            }
        }

        return found;
    }

    private static byte[] ReadBounded(string path)
    {
        var info = new FileInfo(path);
        return info.Length <= MaxPayload ? File.ReadAllBytes(path) : throw new ContainerException(OstreeErrorCode.InvalidData, $"Signature {path} is over {MaxPayload} bytes");
    }
}
