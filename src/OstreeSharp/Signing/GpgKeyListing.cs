// `ostree remote gpg-list-keys`: the keys of a keyring as libostree lists them (ot-dump.c's layout): each primary
// key, its user ids with their Web Key Directory update URLs, then its subkeys, with creation, expiry and revocation.
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;

namespace OstreeSharp.Signing;

/// <summary>Lists OpenPGP keys in ostree's words.</summary>
public static class GpgKeyListing
{
    /// <summary>The listing of every key of <paramref name="keyring"/>, in keyring order, at time <paramref name="nowUtc"/>.</summary>
    public static string Format(GpgKeyring keyring, DateTime nowUtc)
    {
        ArgumentNullException.ThrowIfNull(keyring);
        var sb = new StringBuilder();
        foreach (var ring in keyring.Rings)
        {
            var keys = ring.GetPublicKeys().ToList();
            var primary = keys[0];
            bool revoked = primary.HasRevocation();
            Key(sb, primary, primary: true, revoked, nowUtc);
            foreach (var uid in primary.GetUserIds().OfType<string>())
            {
                bool uidRevoked = revoked || primary.GetSignaturesForId(uid)?.Cast<PgpSignature>().Any(s => s.SignatureType == PgpSignature.CertificationRevocation) == true;
                sb.Append("  UID: ").Append(uid).Append(uidRevoked ? " (revoked)" : string.Empty).Append('\n');
                var (advanced, direct) = Address(uid) is { } email && WkdUrls(email) is { } urls ? urls : (string.Empty, string.Empty);
                sb.Append("  Advanced update URL: ").Append(advanced).Append('\n');
                sb.Append("  Direct update URL: ").Append(direct).Append('\n');
            }

            foreach (var sub in keys.Skip(1))
            {
                Key(sb, sub, primary: false, revoked || sub.HasRevocation(), nowUtc);
            }
        }

        return sb.ToString();
    }

    private static void Key(StringBuilder sb, PgpPublicKey key, bool primary, bool revoked, DateTime nowUtc)
    {
        sb.Append(primary ? "Key: " : "  Subkey: ").Append(Convert.ToHexString(key.GetFingerprint())).Append(revoked ? " (revoked)" : string.Empty).Append('\n');
        var indent = primary ? "  " : "    ";
        sb.Append(indent).Append("Created: ").Append(GpgSignatureStatus.CTime(key.CreationTime)).Append('\n');
        long valid = key.GetValidSeconds();
        if (valid > 0)
        {
            var expires = key.CreationTime.AddSeconds(valid);
            sb.Append(indent).Append(expires <= nowUtc ? "Expired: " : "Expires: ").Append(GpgSignatureStatus.CTime(expires)).Append('\n');
        }
    }

    // The address of "Name (comment) <address>", as gpgme parses a user id; a bare address is one too.
    private static string? Address(string uid)
    {
        int lt = uid.LastIndexOf('<'), gt = uid.LastIndexOf('>');
        if (lt >= 0 && gt > lt)
        {
            return uid[(lt + 1)..gt];
        }

        return uid.Contains('@', StringComparison.Ordinal) && !uid.Contains(' ', StringComparison.Ordinal) ? uid : null;
    }

    /// <summary>
    /// The Web Key Directory URLs of an address (draft-koch-openpgp-webkey-service): the z-base-32 of the SHA-1 of the
    /// lowered local part, in the advanced (openpgpkey.DOMAIN) and direct forms; null for an address without one '@'.
    /// </summary>
    public static (string Advanced, string Direct)? WkdUrls(string email)
    {
        ArgumentNullException.ThrowIfNull(email);
        var parts = email.Split('@');
        if (parts.Length != 2)
        {
            return null;
        }

        var local = ZBase32(SHA1.HashData(Encoding.UTF8.GetBytes(AsciiLower(parts[0]))));
        var escaped = Uri.EscapeDataString(parts[0]);
        return ($"https://openpgpkey.{parts[1]}/.well-known/openpgpkey/{AsciiLower(parts[1])}/hu/{local}?l={escaped}",
            $"https://{parts[1]}/.well-known/openpgpkey/hu/{local}?l={escaped}");
    }

    private static string AsciiLower(string s) => string.Concat(s.Select(c => c is >= 'A' and <= 'Z' ? (char)(c + 32) : c));

    private static string ZBase32(byte[] data)
    {
        const string alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769";
        var sb = new StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            sb.Append(alphabet[(buffer << (5 - bits)) & 31]);
        }

        return sb.ToString();
    }
}
