using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Macs;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.X509;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Containers.Signatures;

/// <summary>
/// A cosign private key (<c>cosign generate-key-pair</c>: PEM <c>ENCRYPTED SIGSTORE PRIVATE KEY</c> or the older
/// <c>ENCRYPTED COSIGN PRIVATE KEY</c>, a PKCS#8 key sealed with scrypt and NaCl secretbox), as skopeo's
/// <c>--sign-by-sigstore-private-key</c> reads it.
/// </summary>
public sealed class SigstoreSigningKey
{
    private const int MaxScryptN = 1 << 20;

    private SigstoreSigningKey(AsymmetricKeyParameter privateKey, AsymmetricKeyParameter publicKey)
    {
        PrivateKey = privateKey;
        PublicKey = publicKey;
    }

    /// <summary>The private key.</summary>
    public AsymmetricKeyParameter PrivateKey { get; }

    /// <summary>The public key.</summary>
    public AsymmetricKeyParameter PublicKey { get; }

    /// <summary>The key's hint in a sigstore bundle: base64 of the SHA-256 of its DER SubjectPublicKeyInfo.</summary>
    public string Hint => Convert.ToBase64String(SHA256.HashData(SubjectPublicKeyInfoFactory.CreateSubjectPublicKeyInfo(PublicKey).GetDerEncoded()));

    /// <summary>Reads and decrypts a key file with <paramref name="passphrase"/>.</summary>
    /// <exception cref="InvalidSignatureException">Unreadable, not a cosign key, or a wrong passphrase.</exception>
    public static SigstoreSigningKey Load(string path, string passphrase)
    {
        ArgumentNullException.ThrowIfNull(passphrase);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidSignatureException($"reading private key {path}: {e.Message}");
        }

        if (!PemEncoding.TryFind(text, out var fields) || text[fields.Label] is not ("ENCRYPTED SIGSTORE PRIVATE KEY" or "ENCRYPTED COSIGN PRIVATE KEY"))
        {
            throw new InvalidSignatureException($"{path}: not a cosign private key (PEM \"ENCRYPTED SIGSTORE PRIVATE KEY\")");
        }

        try
        {
            using var doc = JsonDocument.Parse(Convert.FromBase64String(text[fields.Base64Data]), new JsonDocumentOptions { MaxDepth = 8 });
            var root = doc.RootElement;
            var kdf = root.GetProperty("kdf");
            var cipher = root.GetProperty("cipher");
            if (kdf.GetProperty("name").GetString() != "scrypt" || cipher.GetProperty("name").GetString() != "nacl/secretbox")
            {
                throw new InvalidSignatureException($"{path}: unsupported key encryption {kdf.GetProperty("name").GetString()}/{cipher.GetProperty("name").GetString()}");
            }

            var p = kdf.GetProperty("params");
            int n = p.GetProperty("N").GetInt32(), r = p.GetProperty("r").GetInt32(), par = p.GetProperty("p").GetInt32();
            if (n is < 2 or > MaxScryptN || (n & (n - 1)) != 0 || r is < 1 or > 32 || par is < 1 or > 16)
            {
                throw new InvalidSignatureException($"{path}: scrypt parameters N={n} r={r} p={par} out of range");
            }

            var key = SCrypt.Generate(Encoding.UTF8.GetBytes(passphrase), Convert.FromBase64String(kdf.GetProperty("salt").GetString()!), n, r, par, 32);
            var der = SecretBoxOpen(Convert.FromBase64String(root.GetProperty("ciphertext").GetString()!), Convert.FromBase64String(cipher.GetProperty("nonce").GetString()!), key)
                ?? throw new InvalidSignatureException($"{path}: decrypting the private key failed: wrong passphrase?");
            var priv = PrivateKeyFactory.CreateKey(der);
            AsymmetricKeyParameter pub = priv switch
            {
                ECPrivateKeyParameters ec => new ECPublicKeyParameters(ec.AlgorithmName, ec.Parameters.G.Multiply(ec.D).Normalize(), ec.PublicKeyParamSet ?? throw new InvalidSignatureException($"{path}: an EC key without a named curve")),
                Ed25519PrivateKeyParameters ed => ed.GeneratePublicKey(),
                RsaPrivateCrtKeyParameters rsa => new RsaKeyParameters(false, rsa.Modulus, rsa.PublicExponent),
                _ => throw new InvalidSignatureException($"{path}: unsupported private key type {priv.GetType().Name}"),
            };
            return new SigstoreSigningKey(priv, pub);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException or IOException)
        {
            throw new InvalidSignatureException($"{path}: malformed cosign private key: {e.Message}");
        }
    }

    /// <summary>Signs <paramref name="data"/> (SHA-256; ECDSA signatures DER-encoded, as cosign writes them).</summary>
    public byte[] Sign(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var signer = SignerUtilities.GetSigner(PrivateKey switch
        {
            ECPrivateKeyParameters => "SHA-256withECDSA",
            RsaKeyParameters => "SHA-256withRSA",
            _ => "Ed25519",
        });
        signer.Init(true, PrivateKey);
        signer.BlockUpdate(data, 0, data.Length);
        return signer.GenerateSignature();
    }

    // NaCl secretbox (XSalsa20-Poly1305): the first 32 bytes of the key stream key Poly1305, the tag leads the box.
    private static byte[]? SecretBoxOpen(byte[] box, byte[] nonce, byte[] key)
    {
        if (box.Length < 16 || nonce.Length != 24)
        {
            return null;
        }

        var salsa = new XSalsa20Engine();
        salsa.Init(false, new ParametersWithIV(new KeyParameter(key), nonce));
        var polyKey = new byte[32];
        salsa.ProcessBytes(new byte[32], 0, 32, polyKey, 0);
        var mac = new Poly1305();
        mac.Init(new KeyParameter(polyKey));
        mac.BlockUpdate(box, 16, box.Length - 16);
        var tag = new byte[16];
        mac.DoFinal(tag, 0);
        if (!CryptographicOperations.FixedTimeEquals(tag, box.AsSpan(0, 16)))
        {
            return null;
        }

        var plain = new byte[box.Length - 16];
        salsa.ProcessBytes(box, 16, plain.Length, plain, 0);
        return plain;
    }
}

/// <summary>
/// Signs an image in a registry the two ways verifiers look for: a "simple signing" payload in the
/// <c>sha256-HEX.sig</c> attachment (what skopeo's <c>--sign-by-sigstore-private-key</c> writes and containers/image
/// and cosign <c>--new-bundle-format=false</c> read; earlier signatures there are kept), and a cosign 3 bundle (a
/// DSSE envelope of an in-toto statement) attached as an OCI 1.1 referrer, through the referrers tag when the
/// registry has no referrers API. No transparency log entry is made, as with cosign's offline signing config.
/// </summary>
public static class SigstoreSigner
{
    private const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    private const string OciIndex = "application/vnd.oci.image.index.v1+json";
    private const string OciConfig = "application/vnd.oci.image.config.v1+json";
    private const string EmptyType = "application/vnd.oci.empty.v1+json";
    private const string PredicateType = "https://sigstore.dev/cosign/sign/v1";

    /// <summary>
    /// Signs <paramref name="manifest"/> of <paramref name="repository"/> on <paramref name="client"/>'s registry
    /// as <paramref name="dockerReference"/> (the identity the signature claims).
    /// </summary>
    public static async Task SignAsync(RegistryClient client, string repository, ManifestBlob manifest, string dockerReference, SigstoreSigningKey key, string creator, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(key);
        var digest = manifest.Digest;
        var what = $"signatures of {repository}@{digest}";

        // The simple-signing attachment, appended to what the .sig tag already holds.
        var payload = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["critical"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["docker-reference"] = dockerReference },
                ["image"] = new JsonObject { ["docker-manifest-digest"] = digest.ToString() },
                ["type"] = "cosign container image signature",
            },
            ["optional"] = new JsonObject { ["creator"] = creator, ["timestamp"] = now.ToUnixTimeSeconds() },
        }.ToJsonString());
        var sigTag = $"{digest.Algorithm}-{digest.Hex}.sig";
        var layers = new JsonArray();
        if (await client.TryGetManifestAsync(repository, sigTag, what, cancellationToken).ConfigureAwait(false) is { IsIndex: false } existing)
        {
            using var doc = JsonDocument.Parse(existing.Bytes);
            foreach (var l in doc.RootElement.GetProperty("layers").EnumerateArray())
            {
                layers.Add(JsonNode.Parse(l.GetRawText()));
            }
        }

        var payloadDigest = await PushAsync(client, repository, payload, SigstoreAttachment.SimpleSigningType, cancellationToken).ConfigureAwait(false);
        layers.Add((JsonNode)new JsonObject
        {
            ["mediaType"] = SigstoreAttachment.SimpleSigningType,
            ["digest"] = payloadDigest.ToString(),
            ["size"] = payload.Length,
            ["annotations"] = new JsonObject { [SigstoreAttachment.SignatureAnnotation] = Convert.ToBase64String(key.Sign(payload)) },
        });
        var diffIds = new JsonArray([.. layers.Select(l => (JsonNode?)JsonValue.Create(l!["digest"]!.GetValue<string>()))]);
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = string.Empty,
            ["os"] = string.Empty,
            ["config"] = new JsonObject(),
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
        }.ToJsonString());
        var configDigest = await PushAsync(client, repository, config, OciConfig, cancellationToken).ConfigureAwait(false);
        var sigManifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciManifest,
            ["config"] = new JsonObject { ["mediaType"] = OciConfig, ["digest"] = configDigest.ToString(), ["size"] = config.Length },
            ["layers"] = layers,
        };
        await client.PutManifestAsync(repository, sigTag, new ManifestBlob(Encoding.UTF8.GetBytes(sigManifest.ToJsonString()), OciManifest, what), cancellationToken).ConfigureAwait(false);

        // The cosign 3 bundle.
        var statement = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["_type"] = "https://in-toto.io/Statement/v1",
            ["subject"] = new JsonArray(new JsonObject { ["digest"] = new JsonObject { [digest.Algorithm] = digest.Hex }, ["annotations"] = new JsonObject() }),
            ["predicateType"] = PredicateType,
            ["predicate"] = new JsonObject(),
        }.ToJsonString());
        var bundle = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["mediaType"] = SignatureFinder.BundleType,
            ["verificationMaterial"] = new JsonObject { ["publicKey"] = new JsonObject { ["hint"] = key.Hint } },
            ["dsseEnvelope"] = new JsonObject
            {
                ["payload"] = Convert.ToBase64String(statement),
                ["payloadType"] = "application/vnd.in-toto+json",
                ["signatures"] = new JsonArray(new JsonObject { ["sig"] = Convert.ToBase64String(key.Sign(SigstoreVerifier.Pae("application/vnd.in-toto+json", statement))) }),
            },
        }.ToJsonString());
        var bundleDigest = await PushAsync(client, repository, bundle, SignatureFinder.BundleType, cancellationToken).ConfigureAwait(false);
        var empty = "{}"u8.ToArray();
        var emptyDigest = await PushAsync(client, repository, empty, EmptyType, cancellationToken).ConfigureAwait(false);
        var annotations = new JsonObject
        {
            ["dev.sigstore.bundle.content"] = "dsse-envelope",
            ["dev.sigstore.bundle.predicateType"] = PredicateType,
            ["org.opencontainers.image.created"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        };
        var referrer = new ManifestBlob(Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = OciManifest,
            ["artifactType"] = SignatureFinder.BundleType,
            ["config"] = new JsonObject { ["mediaType"] = EmptyType, ["digest"] = emptyDigest.ToString(), ["size"] = empty.Length },
            ["layers"] = new JsonArray(new JsonObject { ["mediaType"] = SignatureFinder.BundleType, ["digest"] = bundleDigest.ToString(), ["size"] = bundle.Length }),
            ["annotations"] = annotations.DeepClone(),
            ["subject"] = new JsonObject { ["mediaType"] = manifest.MediaType, ["digest"] = digest.ToString(), ["size"] = manifest.Bytes.Length },
        }.ToJsonString()), OciManifest, what);
        await client.PutManifestAsync(repository, referrer.Digest.ToString(), referrer, cancellationToken).ConfigureAwait(false);
        if (await client.GetReferrersAsync(repository, digest, what, cancellationToken).ConfigureAwait(false) is null)
        {
            // No referrers API: the referrers tag schema, an index under sha256-HEX listing every referrer.
            var tag = $"{digest.Algorithm}-{digest.Hex}";
            var manifests = new JsonArray();
            if (await client.TryGetManifestAsync(repository, tag, what, cancellationToken).ConfigureAwait(false) is { IsIndex: true } index)
            {
                using var doc = JsonDocument.Parse(index.Bytes);
                foreach (var m in doc.RootElement.GetProperty("manifests").EnumerateArray())
                {
                    manifests.Add(JsonNode.Parse(m.GetRawText()));
                }
            }

            manifests.Add((JsonNode)new JsonObject
            {
                ["mediaType"] = OciManifest,
                ["digest"] = referrer.Digest.ToString(),
                ["size"] = referrer.Bytes.Length,
                ["artifactType"] = SignatureFinder.BundleType,
                ["annotations"] = annotations,
            });
            var indexBytes = Encoding.UTF8.GetBytes(new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = OciIndex, ["manifests"] = manifests }.ToJsonString());
            await client.PutManifestAsync(repository, tag, new ManifestBlob(indexBytes, OciIndex, what), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<Digest> PushAsync(RegistryClient client, string repository, byte[] bytes, string mediaType, CancellationToken ct)
    {
        var d = Digest.Sha256(bytes);
        var desc = Descriptor.Create(mediaType, d, bytes.Length);
        if (!await client.BlobExistsAsync(repository, desc, ct).ConfigureAwait(false))
        {
            await client.PushBlobAsync(repository, desc, (offset, _) => Task.FromResult<Stream>(new MemoryStream(bytes, (int)offset, bytes.Length - (int)offset, writable: false)), null, ct).ConfigureAwait(false);
        }

        return d;
    }
}
