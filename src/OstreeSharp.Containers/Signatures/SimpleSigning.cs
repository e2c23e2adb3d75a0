using System.Text;
using System.Text.Json.Nodes;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Signing;

namespace OstreeSharp.Containers.Signatures;

/// <summary>What a verified GPG "simple signing" signature claims, and the key that made it.</summary>
public sealed record SimpleSigningClaim(Digest ManifestDigest, string DockerReference, string KeyFingerprint) : ISignatureClaim;

/// <summary>
/// containers/image's GPG "simple signing" (containers-signature(5)): an OpenPGP signed message whose literal data is
/// the JSON payload <c>{"critical":{"identity":{"docker-reference":…},"image":{"docker-manifest-digest":…},"type":"atomic
/// container signature"},"optional":{…}}</c>, kept in a lookaside store or a <c>dir:</c> image as <c>signature-N</c>.
/// </summary>
public static class SimpleSigning
{
    private const string Type = "atomic container signature";
    private const int MaxPayload = 1 << 20;

    /// <summary>Signs a payload for <paramref name="digest"/> claiming <paramref name="dockerReference"/>.</summary>
    public static byte[] Sign(Digest digest, string dockerReference, PgpPrivateKey key, PgpPublicKey publicKey, string creator, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var payload = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["critical"] = new JsonObject
            {
                ["identity"] = new JsonObject { ["docker-reference"] = dockerReference },
                ["image"] = new JsonObject { ["docker-manifest-digest"] = digest.ToString() },
                ["type"] = Type,
            },
            ["optional"] = new JsonObject { ["creator"] = creator, ["timestamp"] = now.ToUnixTimeSeconds() },
        }.ToJsonString());
        var gen = new PgpSignatureGenerator(publicKey.Algorithm, HashAlgorithmTag.Sha256);
        gen.InitSign(PgpSignature.BinaryDocument, key);
        var sub = new PgpSignatureSubpacketGenerator();
        sub.SetSignatureCreationTime(false, now.UtcDateTime);
        sub.SetIssuerFingerprint(false, publicKey);
        gen.SetHashedSubpackets(sub.Generate());
        using var ms = new MemoryStream();
        using (var bcpg = new BcpgOutputStream(ms))
        {
            gen.GenerateOnePassVersion(false).Encode(bcpg);
            var literal = new PgpLiteralDataGenerator();
            using (var body = literal.Open(bcpg, PgpLiteralData.Binary, string.Empty, payload.Length, now.UtcDateTime))
            {
                body.Write(payload);
            }

            gen.Update(payload);
            gen.Generate().Encode(bcpg);
        }

        return ms.ToArray();
    }

    /// <summary>Verifies a signature with the keys of <paramref name="keyring"/> and returns what it claims.</summary>
    /// <exception cref="InvalidSignatureException">Not a signed message, by an unknown key, not verifying, or a malformed payload.</exception>
    public static SimpleSigningClaim Verify(byte[] signature, GpgKeyring keyring)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        var (onePass, payload, sig) = Parse(signature);
        var found = keyring.Find(onePass.KeyId) ?? throw new InvalidSignatureException($"signature by key {onePass.KeyId:X16} is not accepted");
        try
        {
            onePass.InitVerify(found.Key);
            onePass.Update(payload);
            if (!onePass.Verify(sig))
            {
                throw new InvalidSignatureException($"signature by key {onePass.KeyId:X16} does not verify");
            }
        }
        catch (Exception e) when (e is not (OperationCanceledException or InvalidSignatureException))
        {
            throw new InvalidSignatureException($"signature by key {onePass.KeyId:X16}: {e.Message}");
        }

        var claim = SigstoreVerifier.ParsePayload(payload, Type);
        return new SimpleSigningClaim(claim.ManifestDigest, claim.DockerReference, Convert.ToHexString(found.Primary.GetFingerprint()));
    }

    /// <summary>Splits a signed OpenPGP message (compressed or not) into its one-pass header, literal data and signature.</summary>
    /// <exception cref="InvalidSignatureException">Not one signed message.</exception>
    internal static (PgpOnePassSignature OnePass, byte[] Payload, PgpSignature Signature) Parse(byte[] signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        try
        {
            var factory = new PgpObjectFactory(PgpUtilities.GetDecoderStream(new MemoryStream(signature, writable: false)));
            var o = factory.NextPgpObject();
            if (o is PgpCompressedData compressed)
            {
                factory = new PgpObjectFactory(compressed.GetDataStream());
                o = factory.NextPgpObject();
            }

            if (o is not PgpOnePassSignatureList { Count: 1 } ops)
            {
                throw new InvalidSignatureException("not a signed OpenPGP message");
            }

            if (factory.NextPgpObject() is not PgpLiteralData literal)
            {
                throw new InvalidSignatureException("a signed OpenPGP message without literal data");
            }

            using var content = new MemoryStream();
            var input = literal.GetInputStream();
            var buffer = new byte[8192];
            for (int n; (n = input.Read(buffer, 0, buffer.Length)) > 0;)
            {
                if (content.Length + n > MaxPayload)
                {
                    throw new InvalidSignatureException($"signature payload over {MaxPayload} bytes");
                }

                content.Write(buffer, 0, n);
            }

            if (factory.NextPgpObject() is not PgpSignatureList { Count: 1 } sigs)
            {
                throw new InvalidSignatureException("a signed OpenPGP message without its signature");
            }

            return (ops[0], content.ToArray(), sigs[0]);
        }
        catch (Exception e) when (e is not (OperationCanceledException or InvalidSignatureException))
        {
            // BouncyCastle's parser throws more than PgpException on bad packets (fuzzing found
            // UnsupportedPacketVersionException and the decompressor's InvalidDataException): all of it is a bad signature.
            throw new InvalidSignatureException($"malformed OpenPGP signature: {e.Message}");
        }
    }
}
