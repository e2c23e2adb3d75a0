// Secret keys as GnuPG 2.2's gpg-agent keeps them: one file per key in private-keys-v1.d, either the
// extended key format ("Key: (private-key ...)") or a bare canonical S-expression. Protected keys
// (openpgp-s2k3-ocb-aes, openpgp-s2k3-sha1-aes-cbc, openpgp-s2k3-sha1-aes256-cbc) are unlocked with
// the OpenPGP iterated+salted SHA-1 S2K over the passphrase.
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Engines;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math;

namespace OstreeSharp.Signing;

/// <summary>Reads signing keys from a GnuPG home folder's <c>private-keys-v1.d</c>.</summary>
public static class GnupgAgentKeys
{
    /// <summary>
    /// The private key for <paramref name="publicKey"/> from <paramref name="homeDir"/>; a protected key needs
    /// <paramref name="passphrase"/>.
    /// </summary>
    /// <exception cref="SignatureException">No such key, a protected key without (or with a wrong) passphrase, or an unsupported format.</exception>
    public static PgpPrivateKey Load(string homeDir, PgpPublicKey publicKey, string? passphrase)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        var dir = Path.Combine(homeDir, "private-keys-v1.d");
        if (!Directory.Exists(dir))
        {
            throw new SignatureException($"No secret keys in {homeDir}: {dir} does not exist");
        }

        foreach (var file in Directory.EnumerateFiles(dir, "*.key").Order(StringComparer.Ordinal))
        {
            SExpression key;
            try
            {
                key = ReadKeyFile(file);
            }
            catch (Exception e) when (e is FormatException or OstreeFormatException)
            {
                throw new SignatureException($"Malformed secret key file {file}: {e.Message}");
            }

            var algo = key.List is { Count: >= 2 } l && l[1].IsList ? l[1] : null;
            if (algo is null || !Matches(algo, publicKey))
            {
                continue;
            }

            var parameters = key.Name switch
            {
                "private-key" => algo,
                "protected-private-key" => Unprotect(algo, passphrase, file, publicKey.KeyId),
                _ => throw new SignatureException($"Unsupported secret key type {key.Name} in {file}"),
            };
            return new PgpPrivateKey(publicKey.KeyId, publicKey.PublicKeyPacket, ToBouncyCastle(algo.Name!, parameters, publicKey, file));
        }

        throw new SignatureException($"No secret key for {publicKey.KeyId:X16} in {dir}");
    }

    private static SExpression ReadKeyFile(string file)
    {
        var bytes = File.ReadAllBytes(file);
        if (bytes.Length > 0 && bytes[0] == (byte)'(')
        {
            return SExpression.Parse(bytes);
        }

        // Extended key format: "Name: value" lines, continuation lines start with white space. Kept as
        // bytes: quoted strings in the key may hold raw binary octets.
        var key = new List<byte>();
        bool inKey = false;
        int start = 0;
        while (start <= bytes.Length)
        {
            int nl = Array.IndexOf(bytes, (byte)'\n', start);
            int end = nl < 0 ? bytes.Length : nl;
            var line = bytes.AsSpan(start, end - start);
            if (line.Length >= 4 && Encoding.ASCII.GetString(line[..4]).Equals("Key:", StringComparison.OrdinalIgnoreCase))
            {
                inKey = true;
                key.AddRange(line[4..].ToArray());
                key.Add((byte)'\n');
            }
            else if (inKey && line.Length > 0 && line[0] is (byte)' ' or (byte)'\t')
            {
                key.AddRange(line.ToArray());
                key.Add((byte)'\n');
            }
            else
            {
                inKey = false;
            }

            if (nl < 0)
            {
                break;
            }

            start = nl + 1;
        }

        if (key.Count == 0)
        {
            throw new FormatException("no Key: item");
        }

        return SExpression.Parse(key.ToArray());
    }

    private static bool Matches(SExpression algo, PgpPublicKey pub)
    {
        switch (pub.PublicKeyPacket.Key)
        {
            case RsaPublicBcpgKey rsa when algo.Name == "rsa":
                return algo.Value("n") is { } n && new BigInteger(1, n).Equals(rsa.Modulus);
            case EdDsaPublicBcpgKey ed when algo.Name == "ecc":
                return algo.Value("q") is { } q && new BigInteger(1, q).Equals(ed.EncodedPoint);
            case ECPublicBcpgKey ec when algo.Name == "ecc":
                return algo.Value("q") is { } q2 && new BigInteger(1, q2).Equals(ec.EncodedPoint);
            default:
                return false;
        }
    }

    private static SExpression Unprotect(SExpression algo, string? passphrase, string file, long keyId)
    {
        var prot = algo.Find("protected") ?? throw new SignatureException($"Protected key {file} has no protected list");
        var l = prot.List!;
        var scheme = l.Count > 1 ? l[1].Text : null;
        if (passphrase is null)
        {
            throw new SignatureException($"Secret key {keyId:X16} ({Path.GetFileName(file)}) is protected by a passphrase: give --gpg-passphrase-file");
        }

        if (l.Count < 4 || l[2].List is not { Count: 2 } parms || parms[0].List is not { Count: 3 } s2k || s2k[0].Text != "sha1")
        {
            throw new SignatureException($"Unsupported protection parameters in {file}");
        }

        var salt = s2k[1].Atom!;
        var count = long.Parse(s2k[2].Text!, System.Globalization.CultureInfo.InvariantCulture);
        var iv = parms[1].Atom!;
        var data = l[3].Atom!;
        int keyLen = scheme == "openpgp-s2k3-sha1-aes256-cbc" ? 32 : 16;
        var key = S2K(Encoding.UTF8.GetBytes(passphrase), salt, count, keyLen);
        byte[] clear;
        try
        {
            switch (scheme)
            {
                case "openpgp-s2k3-ocb-aes":
                {
                    var ocb = new OcbBlockCipher(new AesEngine(), new AesEngine());
                    ocb.Init(false, new AeadParameters(new KeyParameter(key), 128, iv));
                    var aad = algo.ToCanonicalWithout(prot);
                    ocb.ProcessAadBytes(aad, 0, aad.Length);
                    clear = new byte[ocb.GetOutputSize(data.Length)];
                    int n = ocb.ProcessBytes(data, 0, data.Length, clear, 0);
                    ocb.DoFinal(clear, n);
                    break;
                }

                case "openpgp-s2k3-sha1-aes-cbc" or "openpgp-s2k3-sha1-aes256-cbc":
                {
                    using var aes = Aes.Create();
                    aes.Key = key;
                    clear = aes.DecryptCbc(data, iv, PaddingMode.None);
                    break;
                }

                default:
                    throw new SignatureException($"Unsupported key protection {scheme} in {file}");
            }
        }
        catch (InvalidCipherTextException)
        {
            throw new SignatureException($"Wrong passphrase for secret key {keyId:X16} ({Path.GetFileName(file)})");
        }

        SExpression parsed;
        try
        {
            parsed = SExpression.Parse(clear);
        }
        catch (OstreeFormatException)
        {
            throw new SignatureException($"Wrong passphrase for secret key {keyId:X16} ({Path.GetFileName(file)})");
        }

        // ((d ...)(p ...)...(hash sha1 ...)): the first element holds the secret parameters.
        if (parsed.List is not { Count: > 0 } outer || outer[0].List is not { } secrets)
        {
            throw new SignatureException($"Wrong passphrase for secret key {keyId:X16} ({Path.GetFileName(file)})");
        }

        var merged = new List<SExpression>(algo.List!.Where(e => e.Name is not ("protected" or "protected-at")));
        merged.AddRange(secrets.Where(e => e.IsList));
        return Rebuild(merged);
    }

    private static SExpression Rebuild(List<SExpression> items)
    {
        using var ms = new MemoryStream();
        ms.WriteByte((byte)'(');
        foreach (var i in items)
        {
            ms.Write(i.ToCanonical());
        }

        ms.WriteByte((byte)')');
        return SExpression.Parse(ms.ToArray());
    }

    /// <summary>OpenPGP iterated and salted S2K with SHA-1 (RFC 4880 3.7.1.3); <paramref name="count"/> is in octets.</summary>
    internal static byte[] S2K(byte[] passphrase, byte[] salt, long count, int keyLen)
    {
        var seed = salt.Concat(passphrase).ToArray();
        count = Math.Max(count, seed.Length);
        var key = new byte[keyLen];
        int produced = 0;
        for (int round = 0; produced < keyLen; round++)
        {
            using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            h.AppendData(new byte[round]); // preload with 'round' zero octets
            long left = count;
            var block = new byte[Math.Max(seed.Length, 65536 / seed.Length * seed.Length)];
            for (int i = 0; i < block.Length; i += seed.Length)
            {
                seed.CopyTo(block, i);
            }

            while (left > 0)
            {
                int n = (int)Math.Min(block.Length, left);
                h.AppendData(block, 0, n);
                left -= n;
            }

            var digest = h.GetHashAndReset();
            int take = Math.Min(digest.Length, keyLen - produced);
            Array.Copy(digest, 0, key, produced, take);
            produced += take;
        }

        return key;
    }

    private static AsymmetricKeyParameter ToBouncyCastle(string algo, SExpression p, PgpPublicKey pub, string file)
    {
        BigInteger Get(string name) => p.Value(name) is { } v ? new BigInteger(1, v) : throw new SignatureException($"Secret key {file} lacks its '{name}' parameter");
        switch (algo)
        {
            case "rsa":
            {
                var n = Get("n");
                var e = Get("e");
                var d = Get("d");
                var prime1 = Get("p");
                var prime2 = Get("q");
                return new RsaPrivateCrtKeyParameters(n, e, d, prime1, prime2, d.Mod(prime1.Subtract(BigInteger.One)), d.Mod(prime2.Subtract(BigInteger.One)), prime2.ModInverse(prime1));
            }

            case "ecc" when pub.PublicKeyPacket.Key is EdDsaPublicBcpgKey:
            {
                var d = p.Value("d") ?? throw new SignatureException($"Secret key {file} lacks its 'd' parameter");
                var seed = new byte[32];
                d.AsSpan(Math.Max(0, d.Length - 32)).CopyTo(seed.AsSpan(Math.Max(0, 32 - d.Length)));
                return new Ed25519PrivateKeyParameters(seed);
            }

            default:
                throw new SignatureException($"Signing with {algo} keys from {file} is not supported (RSA and Ed25519 are)");
        }
    }
}
