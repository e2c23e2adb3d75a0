using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Signatures;

/// <summary>A signature that does not verify, or whose contents are not acceptable.</summary>
public sealed class InvalidSignatureException(string message) : ContainerException(OstreeErrorCode.SignatureInvalid, message);

/// <summary>What a verified signature claims: the manifest it is about and the image reference it names.</summary>
internal interface ISignatureClaim
{
    /// <summary>The manifest digest the signature is about.</summary>
    Digest ManifestDigest { get; }

    /// <summary>The identity the signature claims (<c>docker-reference</c>).</summary>
    string DockerReference { get; }
}

/// <summary>What a verified sigstore "simple signing" payload claims.</summary>
internal sealed record SigstorePayload(Digest ManifestDigest, string DockerReference) : ISignatureClaim;

/// <summary>
/// Verifies sigstore signatures with public keys (PEM: ECDSA, RSA or Ed25519; SHA-256 as containers/image and cosign
/// use): "simple signing" payloads from <c>.sig</c> attachments, and cosign 3 bundles (a DSSE envelope holding an
/// in-toto statement about the manifest, or a message signature over it).
/// </summary>
internal static class SigstoreVerifier
{
    private const string PayloadType = "cosign container image signature";
    private const string InTotoType = "application/vnd.in-toto+json";

    /// <summary>Reads PEM public keys (one or more per file or datum).</summary>
    /// <exception cref="InvalidSignatureException">No public key in the PEM, or one that cannot be read.</exception>
    public static IReadOnlyList<AsymmetricKeyParameter> ReadPublicKeys(ReadOnlySpan<byte> pem, string what)
    {
        var text = Encoding.UTF8.GetString(pem);
        var keys = new List<AsymmetricKeyParameter>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var label = rest[fields.Label].ToString();
            if (label == "PUBLIC KEY")
            {
                try
                {
                    keys.Add(PublicKeyFactory.CreateKey(Convert.FromBase64String(rest[fields.Base64Data].ToString())));
                }
                catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or IOException or SecurityUtilityException)
                {
                    throw new InvalidSignatureException($"parsing public key in {what}: {e.Message}");
                }
            }

            rest = rest[fields.Location.End..];
        }

        return keys.Count > 0 ? keys : throw new InvalidSignatureException($"parsing public key in {what}: no PEM \"PUBLIC KEY\" block");
    }

    /// <summary>Verifies a <c>.sig</c> attachment with any of <paramref name="keys"/> and returns what it claims.</summary>
    /// <exception cref="InvalidSignatureException">Not signed by any of the keys, or not a well-formed payload.</exception>
    public static SigstorePayload VerifyAttachment(SigstoreAttachment attachment, IReadOnlyList<AsymmetricKeyParameter> keys)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        if (!attachment.Annotations.TryGetValue(SigstoreAttachment.SignatureAnnotation, out var b64))
        {
            throw new InvalidSignatureException($"missing {SigstoreAttachment.SignatureAnnotation} annotation");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(b64);
        }
        catch (FormatException e)
        {
            throw new InvalidSignatureException($"base64 decoding: {e.Message}");
        }

        VerifyAny(keys, attachment.Payload, signature);
        return ParsePayload(attachment.Payload);
    }

    /// <summary>
    /// Verifies a cosign 3 bundle with any of <paramref name="keys"/> and returns the manifest digests it is about (a
    /// bundle names no repository or tag).
    /// </summary>
    /// <exception cref="InvalidSignatureException">Not signed by any of the keys, or malformed.</exception>
    public static IReadOnlyList<Digest> VerifyBundle(SigstoreBundle bundle, ReadOnlySpan<byte> manifestBytes, IReadOnlyList<AsymmetricKeyParameter> keys)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var parsed = ParseBundle(bundle);
        var failures = new List<string>();
        foreach (var signature in parsed.Signatures)
        {
            try
            {
                VerifyAny(keys, parsed.SignedBytes ?? manifestBytes.ToArray(), signature);
                return parsed.Subjects;
            }
            catch (InvalidSignatureException e)
            {
                failures.Add(e.Message);
            }
        }

        throw new InvalidSignatureException(failures.Count == 0 ? "bundle without signatures" : string.Join(", ", failures));
    }

    /// <summary>
    /// What a bundle holds: the bytes its signatures cover (the DSSE pre-authentication encoding of the statement;
    /// null for a message signature, which covers the manifest), the signatures, and the digests it is about.
    /// </summary>
    /// <exception cref="InvalidSignatureException">Malformed.</exception>
    internal static (byte[]? SignedBytes, IReadOnlyList<byte[]> Signatures, IReadOnlyList<Digest> Subjects) ParseBundle(SigstoreBundle bundle)
    {
        try
        {
            using var doc = JsonDocument.Parse(bundle.Json, new JsonDocumentOptions { MaxDepth = 32 });
            var root = doc.RootElement;
            var mediaType = root.GetProperty("mediaType").GetString();
            if (mediaType is not (SignatureFinder.BundleType or "application/vnd.dev.sigstore.bundle+json;version=0.3"))
            {
                throw new InvalidSignatureException($"bundle of unsupported media type {mediaType}");
            }

            if (root.TryGetProperty("dsseEnvelope", out var env))
            {
                var payloadType = env.GetProperty("payloadType").GetString() ?? string.Empty;
                var payload = Convert.FromBase64String(env.GetProperty("payload").GetString() ?? string.Empty);
                if (payloadType != InTotoType)
                {
                    throw new InvalidSignatureException($"DSSE payload of type {payloadType}, not {InTotoType}");
                }

                var signatures = new List<byte[]>();
                foreach (var s in env.GetProperty("signatures").EnumerateArray())
                {
                    signatures.Add(Convert.FromBase64String(s.GetProperty("sig").GetString() ?? string.Empty));
                }

                using var statement = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 32 });
                var type = statement.RootElement.GetProperty("_type").GetString();
                if (type is not ("https://in-toto.io/Statement/v1" or "https://in-toto.io/Statement/v0.1"))
                {
                    throw new InvalidSignatureException($"in-toto statement of unknown type {type}");
                }

                var digests = new List<Digest>();
                foreach (var subject in statement.RootElement.GetProperty("subject").EnumerateArray())
                {
                    foreach (var d in subject.GetProperty("digest").EnumerateObject())
                    {
                        if (d.Value.GetString() is { } hex && Digest.TryParse(d.Name + ":" + hex, out var digest))
                        {
                            digests.Add(digest);
                        }
                    }
                }

                return (Pae(payloadType, payload), signatures, digests);
            }

            if (root.TryGetProperty("messageSignature", out var ms))
            {
                var md = ms.GetProperty("messageDigest");
                if (md.GetProperty("algorithm").GetString() != "SHA2_256")
                {
                    throw new InvalidSignatureException($"message digest algorithm {md.GetProperty("algorithm").GetString()} is not SHA2_256");
                }

                var hash = Convert.FromBase64String(md.GetProperty("digest").GetString() ?? string.Empty);
                return (null, [Convert.FromBase64String(ms.GetProperty("signature").GetString() ?? string.Empty)], [Digest.FromHash("sha256", hash)]);
            }

            throw new InvalidSignatureException("bundle holds neither a DSSE envelope nor a message signature");
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidSignatureException($"malformed bundle {bundle.Manifest}: {e.Message}");
        }
    }

    /// <summary>DSSE's pre-authentication encoding of a payload.</summary>
    internal static byte[] Pae(string payloadType, byte[] payload)
    {
        var head = Encoding.UTF8.GetBytes($"DSSEv1 {Encoding.UTF8.GetByteCount(payloadType)} {payloadType} {payload.Length} ");
        return [.. head, .. payload];
    }

    /// <summary>Parses a simple-signing payload strictly, as containers/image does (sigstore's type, or GPG's).</summary>
    internal static SigstorePayload ParsePayload(byte[] payload, string expectedType = PayloadType)
    {
        try
        {
            using var doc = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 16 });
            var root = doc.RootElement;
            Exact(root, "critical", "optional");
            var critical = root.GetProperty("critical");
            Exact(critical, "type", "image", "identity");
            var type = critical.GetProperty("type").GetString();
            if (type != expectedType)
            {
                throw new InvalidSignatureException($"Unrecognized signature type {type}");
            }

            var image = critical.GetProperty("image");
            Exact(image, "docker-manifest-digest");
            var digestText = image.GetProperty("docker-manifest-digest").GetString();
            if (!Digest.TryParse(digestText, out var digest))
            {
                throw new InvalidSignatureException($"invalid docker-manifest-digest value \"{digestText}\"");
            }

            var identity = critical.GetProperty("identity");
            Exact(identity, "docker-reference");
            return new SigstorePayload(digest, identity.GetProperty("docker-reference").GetString() ?? throw new InvalidSignatureException("docker-reference is not a string"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidSignatureException($"malformed signature payload: {e.Message}");
        }
    }

    private static void Exact(JsonElement o, params string[] names)
    {
        if (o.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidSignatureException("expected a JSON object in the signature payload");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in o.EnumerateObject())
        {
            if (Array.IndexOf(names, p.Name) < 0 || !seen.Add(p.Name))
            {
                throw new InvalidSignatureException($"unexpected field \"{p.Name}\" in the signature payload");
            }
        }

        if (seen.Count != names.Length)
        {
            throw new InvalidSignatureException($"missing field \"{names.First(n => !seen.Contains(n))}\" in the signature payload");
        }
    }

    private static void VerifyAny(IReadOnlyList<AsymmetricKeyParameter> keys, byte[] data, byte[] signature)
    {
        var failures = new List<string>();
        foreach (var key in keys)
        {
            var signer = SignerUtilities.GetSigner(key switch
            {
                ECPublicKeyParameters => "SHA-256withECDSA",
                RsaKeyParameters => "SHA-256withRSA",
                Ed25519PublicKeyParameters => "Ed25519",
                _ => throw new InvalidSignatureException($"unsupported public key type {key.GetType().Name}"),
            });
            signer.Init(false, key);
            signer.BlockUpdate(data, 0, data.Length);
            bool valid;
            try
            {
                valid = signer.VerifySignature(signature);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or CryptoException)
            {
                valid = false;
            }

            if (valid)
            {
                return;
            }

            failures.Add("invalid signature when validating ASN.1 encoded signature");
        }

        throw new InvalidSignatureException("cryptographic signature verification failed: " + string.Join(", ", failures));
    }
}
