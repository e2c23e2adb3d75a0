// OpenPGP signatures on commits: binary detached signatures over the exact commit bytes,
// stored as ostree.gpgsigs (aay) in detached metadata (spec: ostree-repo-format.md, section 5.1).
using System.Globalization;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Signing;

/// <summary>The outcome for one OpenPGP signature.</summary>
public sealed record GpgSignatureStatus(long KeyId, DateTime Created, PublicKeyAlgorithmTag Algorithm, SignatureFailure? Failure, string? UserId, long? PrimaryKeyId, DateTime? KeyExpired, DateTime? KeyExpires = null, DateTime? PrimaryKeyExpiry = null)
{
    /// <summary>True when the signature is good and its key neither expired nor revoked.</summary>
    public bool IsValid => Failure is null;

    /// <summary>The text <c>ostree show</c> prints for this signature.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        var algo = Algorithm switch
        {
            PublicKeyAlgorithmTag.RsaGeneral or PublicKeyAlgorithmTag.RsaSign => "RSA",
            PublicKeyAlgorithmTag.Dsa => "DSA",
            PublicKeyAlgorithmTag.ECDsa => "ECDSA",
            PublicKeyAlgorithmTag.EdDsa_Legacy or PublicKeyAlgorithmTag.Ed25519 => "EdDSA",
            _ => Algorithm.ToString(),
        };
        sb.Append("  Signature made ").Append(CTime(Created))
          .Append(" using ").Append(algo).Append(" key ID ").Append(KeyId.ToString("X16", CultureInfo.InvariantCulture)).Append('\n');
        // libostree's order: the verdict (good only when fully valid; an expired key's signature is BAD), the
        // primary key of a subkey, then the key's expiry.
        if (Failure == SignatureFailure.UnknownKey)
        {
            sb.Append("  Can't check signature: public key not found\n");
        }
        else if (Failure is null)
        {
            sb.Append("  Good signature from \"").Append(NameAndEmail(UserId)).Append("\"\n");
        }
        else if (Failure == SignatureFailure.RevokedKey)
        {
            sb.Append("  Key revoked\n");
        }
        else
        {
            sb.Append("  BAD signature from \"").Append(NameAndEmail(UserId)).Append("\"\n");
        }

        if (Failure != SignatureFailure.UnknownKey && PrimaryKeyId is { } p && p != KeyId)
        {
            sb.Append("  Primary key ID ").Append(p.ToString("X16", CultureInfo.InvariantCulture)).Append('\n');
        }

        // The signing key's own expiry, then its primary key's; "expired" when either has (as gpgme flags it).
        if (KeyExpired is { } ex)
        {
            sb.Append("  Key expired ").Append(CTime(ex)).Append('\n');
        }
        else if (KeyExpires is { } expires)
        {
            sb.Append("  Key expires ").Append(CTime(expires)).Append('\n');
        }

        if (PrimaryKeyExpiry is { } pe && PrimaryKeyId is { } pk && pk != KeyId)
        {
            sb.Append(Failure == SignatureFailure.ExpiredKey ? "  Primary key expired " : "  Primary key expires ").Append(CTime(pe)).Append('\n');
        }

        return sb.ToString();
    }

    // "NAME <EMAIL>" as libostree prints a signer from gpgme's parse of the user id "Name (comment) <email>": the
    // comment left out, "<>" for a user id without an address; a user id that is only an address is the email.
    internal static string NameAndEmail(string? uid)
    {
        uid ??= string.Empty;
        string name, email;
        int lt = uid.IndexOf('<', StringComparison.Ordinal), gt = uid.LastIndexOf('>');
        if (lt >= 0 && gt > lt)
        {
            (name, email) = (uid[..lt], uid[(lt + 1)..gt]);
        }
        else if (uid.Contains('@', StringComparison.Ordinal) && !uid.Contains(' ', StringComparison.Ordinal))
        {
            (name, email) = (string.Empty, uid);
        }
        else
        {
            (name, email) = (uid, string.Empty);
        }

        int paren = name.IndexOf('(', StringComparison.Ordinal);
        name = (paren >= 0 ? name[..paren] : name).Trim();
        return $"{name} <{email}>";
    }

    // What ostree prints for a time: GLib's g_date_time_format "%c", which in the C locale is
    // "%a %b %e %H:%M:%S %Y" in local time. GLib pads a one-digit day (%e) with a figure space
    // (U+2007), not a space; g_print turns that into '?' when the locale's charset is not UTF-8.
    // So on 2 December: "Wed Dec \u20072 15:49:34 2026" (UTF-8) or "Wed Dec ?2 15:49:34 2026".
    internal static string CTime(DateTime utc) => FormatCTime(DateTime.SpecifyKind(utc, DateTimeKind.Utc).ToLocalTime(), LocaleIsUtf8());

    internal static string FormatCTime(DateTime local, bool utf8)
    {
        var day = local.Day.ToString(CultureInfo.InvariantCulture);
        if (day.Length == 1)
        {
            day = (utf8 ? "\u2007" : "?") + day;
        }

        return local.ToString("ddd MMM ", CultureInfo.InvariantCulture) + day + local.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture);
    }

    // The charset of LC_CTYPE as setlocale(LC_ALL, "") picks it: LC_ALL, else LC_CTYPE, else LANG.
    internal static bool LocaleIsUtf8(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        foreach (var name in new[] { "LC_ALL", "LC_CTYPE", "LANG" })
        {
            if (env(name) is { Length: > 0 } value)
            {
                var codeset = value.Split('@')[0];
                var dot = codeset.IndexOf('.', StringComparison.Ordinal);
                return dot >= 0 && codeset[(dot + 1)..].Replace("-", "", StringComparison.Ordinal).Equals("utf8", StringComparison.OrdinalIgnoreCase);
            }
        }

        return false;
    }
}

/// <summary>Signs and verifies commits with OpenPGP keys.</summary>
public static class GpgCommitSigner
{
    /// <summary>The detached metadata key.</summary>
    public const string MetadataKey = "ostree.gpgsigs";

    /// <summary>Loads a secret key from an exported (armored or binary) secret key file.</summary>
    public static PgpPrivateKey LoadSecretKey(string file, string? keyId, string? passphrase, out PgpSecretKey secret)
    {
        using var input = PgpUtilities.GetDecoderStream(File.OpenRead(file));
        var bundle = new PgpSecretKeyRingBundle(input);
        foreach (PgpSecretKeyRing ring in bundle.GetKeyRings())
        {
            foreach (PgpSecretKey k in ring.GetSecretKeys())
            {
                if (!k.IsSigningKey || (keyId is not null && !MatchesId(k.PublicKey, keyId)))
                {
                    continue;
                }

                secret = k;
                try
                {
                    return k.ExtractPrivateKey(passphrase?.ToCharArray() ?? []);
                }
                catch (PgpException)
                {
                    throw new SignatureException(passphrase is null
                        ? $"Secret key {k.KeyId:X16} in {file} is protected by a passphrase: give --gpg-passphrase-file"
                        : $"Wrong passphrase for secret key {k.KeyId:X16} in {file}");
                }
            }
        }

        throw new SignatureException($"No signing key{(keyId is null ? string.Empty : " " + keyId)} in {file}");
    }

    /// <summary>Whether <paramref name="id"/> (a key id or fingerprint, or a suffix of one) names <paramref name="k"/>.</summary>
    public static bool MatchesId(PgpPublicKey k, string id)
    {
        var fpr = Convert.ToHexString(k.GetFingerprint());
        var up = id.ToUpperInvariant().Replace("0X", string.Empty, StringComparison.Ordinal);
        return fpr.EndsWith(up, StringComparison.Ordinal) || k.KeyId.ToString("X16", CultureInfo.InvariantCulture).EndsWith(up, StringComparison.Ordinal);
    }

    /// <summary>A binary detached signature over <paramref name="data"/>.</summary>
    public static byte[] SignBytes(PgpPrivateKey key, PgpPublicKey publicKey, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var gen = new PgpSignatureGenerator(publicKey.Algorithm, HashAlgorithmTag.Sha256);
        gen.InitSign(PgpSignature.BinaryDocument, key);
        var sub = new PgpSignatureSubpacketGenerator();
        sub.SetSignatureCreationTime(false, DateTime.UtcNow);
        sub.SetIssuerFingerprint(false, publicKey);
        gen.SetHashedSubpackets(sub.Generate());
        gen.Update(data.ToArray());
        using var ms = new MemoryStream();
        using (var bcpg = new BcpgOutputStream(ms))
        {
            gen.Generate().Encode(bcpg);
        }

        return ms.ToArray();
    }

    /// <summary>Appends a signature to the commit's detached metadata.</summary>
    /// <exception cref="OstreeException">The key has signed the commit already (libostree refuses a duplicate).</exception>
    public static void Sign(OstreeRepo repo, Checksum commit, PgpPrivateKey key, PgpPublicKey publicKey)
    {
        var bytes = repo.ReadMetadataBytes(ObjectType.Commit, commit);
        var detached = repo.LoadDetachedMetadata(commit);
        var sigs = ReadSignatures(detached).ToList();
        if (sigs.Any(s => Parse(s)?.KeyId == key.KeyId))
        {
            throw new OstreeException(OstreeErrorCode.AlreadyExists, $"Commit is already signed with GPG key {key.KeyId.ToString("X16", CultureInfo.InvariantCulture)}");
        }

        sigs.Add(SignBytes(key, publicKey, bytes));
        Write(repo, commit, detached, sigs);
    }

    /// <summary>Removes signatures made by <paramref name="keyIds"/> (hex ids or fingerprints); returns how many.</summary>
    public static int Delete(OstreeRepo repo, Checksum commit, IReadOnlyCollection<string> keyIds)
    {
        var detached = repo.LoadDetachedMetadata(commit);
        var sigs = ReadSignatures(detached).ToList();
        int removed = sigs.RemoveAll(s => Parse(s) is { } sig && keyIds.Any(id => sig.KeyId.ToString("X16", CultureInfo.InvariantCulture).EndsWith(id.ToUpperInvariant(), StringComparison.Ordinal)));
        if (removed > 0)
        {
            Write(repo, commit, detached, sigs);
        }

        return removed;
    }

    private static void Write(OstreeRepo repo, Checksum commit, GVariantValue? detached, List<byte[]> sigs)
    {
        using var tx = repo.BeginTransaction();
        tx.WriteCommitDetachedMetadata(commit, SignatureMetadata.WithArray(detached, MetadataKey, sigs));
        tx.Commit();
    }

    /// <summary>The raw signatures (empty when none).</summary>
    public static IReadOnlyList<byte[]> ReadSignatures(GVariantValue? detached)
    {
        var v = detached?.Lookup(MetadataKey);
        return v is null || v.Type.Text != "aay" ? [] : v.GetChildren().Select(c => c.GetBytes()).ToList();
    }

    private static PgpSignature? Parse(byte[] raw)
    {
        try
        {
            var f = new PgpObjectFactory(raw);
            return f.NextPgpObject() is PgpSignatureList l && l.Count > 0 ? l[0] : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Any exception of BouncyCastle's parser on bytes from a server (IOException, PgpException,
            // UnsupportedPacketVersionException...): not a signature.
            return null;
        }
    }

    /// <summary>Checks every signature of <paramref name="commitBytes"/> against <paramref name="keyring"/>.</summary>
    public static IReadOnlyList<GpgSignatureStatus> Check(ReadOnlySpan<byte> commitBytes, GVariantValue? detached, GpgKeyring keyring, DateTime? now = null)
    {
        var result = new List<GpgSignatureStatus>();
        var data = commitBytes.ToArray();
        foreach (var raw in ReadSignatures(detached))
        {
            var sig = Parse(raw) ?? throw new SignatureException("ostree.gpgsigs holds a value that is not an OpenPGP signature", SignatureFailure.Invalid);
            var found = keyring.Find(sig.KeyId);
            if (found is not { } f)
            {
                result.Add(new GpgSignatureStatus(sig.KeyId, sig.CreationTime, sig.KeyAlgorithm, SignatureFailure.UnknownKey, null, null, null));
                continue;
            }

            var uid = f.Primary.GetUserIds().Cast<string>().FirstOrDefault() ?? string.Empty;
            sig.InitVerify(f.Key);
            sig.Update(data);
            SignatureFailure? failure = null;
            DateTime? expired = null, expires = null;
            if (!sig.Verify())
            {
                failure = SignatureFailure.BadSignature;
            }
            else if (f.Key.HasRevocation() || f.Primary.HasRevocation())
            {
                failure = SignatureFailure.RevokedKey;
            }
            DateTime? primaryExpiry = f.Key.KeyId != f.Primary.KeyId ? Expiry(f.Primary, f.Primary.GetValidSeconds()) : null;
            if (failure is null)
            {
                // The signature is void when the signing key or, for a subkey, its primary key has expired.
                var keyExpiry = Expiry(f.Key, f.Key.GetValidSeconds());
                var at = now ?? DateTime.UtcNow;
                if (keyExpiry <= at || primaryExpiry <= at)
                {
                    failure = SignatureFailure.ExpiredKey;
                    expired = keyExpiry;
                }
                else
                {
                    expires = keyExpiry;
                }
            }

            result.Add(new GpgSignatureStatus(sig.KeyId, sig.CreationTime, sig.KeyAlgorithm, failure, uid, f.Primary.KeyId, expired, expires, primaryExpiry));
        }

        return result;
    }

    private static DateTime? Expiry(PgpPublicKey k, long validSeconds) => validSeconds > 0 ? k.CreationTime.AddSeconds(validSeconds) : null;

    /// <summary>Requires at least one valid signature; throws with the most telling reason otherwise.</summary>
    public static GpgSignatureStatus Verify(ReadOnlySpan<byte> commitBytes, GVariantValue? detached, GpgKeyring keyring)
    {
        var statuses = Check(commitBytes, detached, keyring);
        if (statuses.Count == 0)
        {
            throw new SignatureException("GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable)", SignatureFailure.NoSignature);
        }

        var good = statuses.FirstOrDefault(s => s.IsValid);
        if (good is not null)
        {
            return good;
        }

        var worst = statuses.Select(s => s.Failure!.Value).OrderByDescending(f => f switch
        {
            SignatureFailure.BadSignature => 4,
            SignatureFailure.RevokedKey => 3,
            SignatureFailure.ExpiredKey => 2,
            _ => 1,
        }).First();
        var s0 = statuses.First(s => s.Failure == worst);
        throw new SignatureException(worst switch
        {
            SignatureFailure.BadSignature => $"BAD signature from \"{s0.UserId}\" (key {s0.KeyId:X16})",
            SignatureFailure.RevokedKey => $"Signature by revoked key {s0.KeyId:X16}",
            SignatureFailure.ExpiredKey => $"Signature by expired key {s0.KeyId:X16}",
            _ => $"Can't check signature: public key not found (key {s0.KeyId:X16})",
        }, worst);
    }
}
