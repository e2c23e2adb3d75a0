using System.Security.Cryptography;

namespace OstreeSharp.Containers.Oci;

/// <summary>A content digest <c>ALGORITHM:HEX</c>: sha256 (required by the specs) and sha512.</summary>
public readonly record struct Digest
{
    private Digest(string algorithm, string hex)
    {
        Algorithm = algorithm;
        Hex = hex;
    }

    /// <summary>"sha256" or "sha512".</summary>
    public string Algorithm { get; }

    /// <summary>Lower-case hex of the hash.</summary>
    public string Hex { get; }

    /// <summary>Parses <c>sha256:64-hex</c> or <c>sha512:128-hex</c>.</summary>
    /// <exception cref="FormatException">Not a digest we know.</exception>
    public static Digest Parse(string text)
    {
        if (TryParse(text, out var d))
        {
            return d;
        }

        throw new FormatException($"Invalid digest '{text}': expected sha256:<64 hex> or sha512:<128 hex>");
    }

    /// <summary>Parses a digest; false when <paramref name="text"/> is not one.</summary>
    public static bool TryParse(string? text, out Digest digest)
    {
        digest = default;
        if (text is null)
        {
            return false;
        }

        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return false;
        }

        var alg = text[..colon];
        var hex = text[(colon + 1)..];
        int want = alg switch { "sha256" => 64, "sha512" => 128, _ => -1 };
        if (hex.Length != want || !hex.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            return false;
        }

        digest = new Digest(alg, hex);
        return true;
    }

    /// <summary>The sha256 digest of <paramref name="data"/>.</summary>
    public static Digest Sha256(ReadOnlySpan<byte> data) => new("sha256", Convert.ToHexStringLower(SHA256.HashData(data)));

    /// <summary>Makes a digest from an algorithm and the raw hash bytes.</summary>
    public static Digest FromHash(string algorithm, ReadOnlySpan<byte> hash) => new(algorithm, Convert.ToHexStringLower(hash));

    /// <summary>The digest of <paramref name="data"/> with this digest's algorithm.</summary>
    public Digest Recompute(ReadOnlySpan<byte> data) => Algorithm == "sha512"
        ? new("sha512", Convert.ToHexStringLower(SHA512.HashData(data)))
        : Sha256(data);

    /// <summary>An incremental hasher for this digest's algorithm.</summary>
    public IncrementalHash CreateHasher() => IncrementalHash.CreateHash(Algorithm == "sha512" ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256);

    /// <summary>Whether this is a parsed digest rather than the default value.</summary>
    public bool IsValid => Algorithm is not null;

    /// <inheritdoc/>
    public override string ToString() => Algorithm is null ? string.Empty : Algorithm + ":" + Hex;
}
