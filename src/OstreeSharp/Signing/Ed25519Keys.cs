// ed25519 keys in ostree's formats (spec: ostree-repo-format.md, section 5.2): base64 of the
// 32-byte public key, base64 of libsodium's 64-byte secret key (seed ‖ public key).
namespace OstreeSharp.Signing;

/// <summary>An ed25519 public key.</summary>
public sealed record Ed25519PublicKey(byte[] Bytes)
{
    /// <summary>The base64 form ostree prints and reads.</summary>
    public string Base64 => Convert.ToBase64String(Bytes);

    /// <summary>Parses base64 of 32 bytes.</summary>
    public static Ed25519PublicKey Parse(string base64)
    {
        var b = Ed25519Keys.FromBase64(base64, "public key");
        return b.Length == 32 ? new Ed25519PublicKey(b) : throw new SignatureException($"Invalid ed25519 public key '{base64}': {b.Length} bytes, expected 32");
    }

    /// <inheritdoc />
    public bool Equals(Ed25519PublicKey? other) => other is not null && Bytes.AsSpan().SequenceEqual(other.Bytes);

    /// <inheritdoc />
    public override int GetHashCode() => BitConverter.ToInt32(Bytes, 0);
}

/// <summary>An ed25519 secret key as libsodium stores it.</summary>
public sealed class Ed25519SecretKey
{
    private Ed25519SecretKey(byte[] seed, Ed25519PublicKey pub)
    {
        Seed = seed;
        PublicKey = pub;
    }

    /// <summary>The 32-byte seed.</summary>
    public byte[] Seed { get; }

    /// <summary>The matching public key.</summary>
    public Ed25519PublicKey PublicKey { get; }

    /// <summary>Parses base64 of the 64-byte libsodium secret key; the public half must match the seed.</summary>
    public static Ed25519SecretKey Parse(string base64)
    {
        var b = Ed25519Keys.FromBase64(base64, "secret key");
        if (b.Length != 64)
        {
            throw new SignatureException($"Invalid ed25519 secret key: {b.Length} bytes, expected 64");
        }

        var key = FromSeed(b[..32]);
        if (!key.PublicKey.Bytes.AsSpan().SequenceEqual(b.AsSpan(32)))
        {
            throw new SignatureException("Invalid ed25519 secret key: its public half does not match its seed");
        }

        return key;
    }

    /// <summary>Creates a key from a 32-byte seed.</summary>
    public static Ed25519SecretKey FromSeed(byte[] seed)
    {
        var priv = new Org.BouncyCastle.Crypto.Parameters.Ed25519PrivateKeyParameters(seed, 0);
        return new Ed25519SecretKey(seed, new Ed25519PublicKey(priv.GeneratePublicKey().GetEncoded()));
    }

    /// <summary>The libsodium 64-byte form, base64.</summary>
    public string Base64 => Convert.ToBase64String([.. Seed, .. PublicKey.Bytes]);

    /// <summary>Signs <paramref name="data"/> (RFC 8032, deterministic).</summary>
    public byte[] Sign(ReadOnlySpan<byte> data)
    {
        var signer = new Org.BouncyCastle.Crypto.Signers.Ed25519Signer();
        signer.Init(true, new Org.BouncyCastle.Crypto.Parameters.Ed25519PrivateKeyParameters(Seed, 0));
        signer.BlockUpdate(data);
        return signer.GenerateSignature();
    }
}

/// <summary>Key parsing and key files.</summary>
public static class Ed25519Keys
{
    /// <summary>Verifies a 64-byte signature.</summary>
    public static bool Verify(Ed25519PublicKey key, ReadOnlySpan<byte> data, byte[] signature)
    {
        if (signature.Length != 64)
        {
            return false;
        }

        Org.BouncyCastle.Crypto.Parameters.Ed25519PublicKeyParameters p;
        try
        {
            p = new Org.BouncyCastle.Crypto.Parameters.Ed25519PublicKeyParameters(key.Bytes, 0);
        }
        catch (ArgumentException)
        {
            return false; // 32 bytes that are not a point of the curve: nothing verifies with them (as libsodium)
        }

        var v = new Org.BouncyCastle.Crypto.Signers.Ed25519Signer();
        v.Init(false, p);
        v.BlockUpdate(data);
        return v.VerifySignature(signature);
    }

    /// <summary>Reads a key file: one base64 key per line. Invalid lines are skipped (as ostree does) but at least one must be valid.</summary>
    public static List<T> ReadKeyFile<T>(string path, Func<string, T> parse)
    {
        var keys = new List<T>();
        var errors = new List<string>();
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            try
            {
                keys.Add(parse(line));
            }
            catch (SignatureException e)
            {
                errors.Add(e.Message);
            }
        }

        if (keys.Count == 0)
        {
            throw new SignatureException($"{path}: no valid ed25519 key{(errors.Count > 0 ? " (" + errors[0] + ")" : string.Empty)}");
        }

        return keys;
    }

    /// <summary>Public keys from a file or a <c>.d</c> directory of files.</summary>
    public static List<Ed25519PublicKey> ReadPublicKeys(string path) =>
        Directory.Exists(path)
            ? Directory.EnumerateFiles(path).Order(StringComparer.Ordinal).SelectMany(f => ReadKeyFile(f, Ed25519PublicKey.Parse)).ToList()
            : ReadKeyFile(path, Ed25519PublicKey.Parse);

    internal static byte[] FromBase64(string s, string what)
    {
        try
        {
            return Convert.FromBase64String(s.Trim());
        }
        catch (FormatException)
        {
            throw new SignatureException($"Invalid ed25519 {what}: not base64");
        }
    }
}
