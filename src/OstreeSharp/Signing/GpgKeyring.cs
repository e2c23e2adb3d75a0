// OpenPGP public keys for commit verification (spec: ostree-repo-format.md, section 5.1):
// armored or binary keyrings, GnuPG home folders (trustedkeys.gpg, pubring.gpg, pubring.kbx),
// and the per-remote REMOTE.trustedkeys.gpg that `remote gpg-import` writes.
using Org.BouncyCastle.Bcpg.OpenPgp;

namespace OstreeSharp.Signing;

/// <summary>A set of OpenPGP public keys, looked up by key id.</summary>
public sealed class GpgKeyring
{
    private readonly List<PgpPublicKeyRing> _rings = [];

    /// <summary>The key rings.</summary>
    public IReadOnlyList<PgpPublicKeyRing> Rings => _rings;

    /// <summary>
    /// Adds a key, or (as gpg --import does) merges the new signatures, user ids and subkeys of one already there:
    /// a later expiry, a revocation. True when the key was new.
    /// </summary>
    public bool Merge(PgpPublicKeyRing ring)
    {
        ArgumentNullException.ThrowIfNull(ring);
        var fingerprint = ring.GetPublicKey().GetFingerprint();
        int i = _rings.FindIndex(r => r.GetPublicKey().GetFingerprint().AsSpan().SequenceEqual(fingerprint));
        if (i < 0)
        {
            _rings.Add(ring);
            return true;
        }

        _rings[i] = PgpPublicKeyRing.Join(_rings[i], ring, false, true) ?? _rings[i];
        return false;
    }

    /// <summary>Adds every key ring in an armored or binary stream.</summary>
    public void AddStream(Stream input, string source)
    {
        ArgumentNullException.ThrowIfNull(input);

        // Several armored blocks one after the other (`cat key1.asc key2.asc`): each is decoded on its own, as gpg
        // reads them (BouncyCastle's armor reader stops at the first END line).
        using var buffer = new MemoryStream();
        input.CopyTo(buffer);
        var bytes = buffer.ToArray();
        var begin = "-----BEGIN PGP "u8;
        int first = bytes.AsSpan().IndexOf(begin);
        if (first >= 0 && bytes.AsSpan(first + begin.Length).IndexOf(begin) >= 0)
        {
            for (int at = first; at >= 0;)
            {
                int next = bytes.AsSpan(at + begin.Length).IndexOf(begin);
                int end = next < 0 ? bytes.Length : at + begin.Length + next;
                AddOne(new MemoryStream(bytes, at, end - at, writable: false), source);
                at = next < 0 ? -1 : end;
            }

            return;
        }

        AddOne(new MemoryStream(bytes, writable: false), source);
    }

    private void AddOne(Stream input, string source)
    {
        try
        {
            using var decoder = PgpUtilities.GetDecoderStream(input);
            var factory = new PgpObjectFactory(decoder);
            object? o;
            while ((o = factory.NextPgpObject()) is not null)
            {
                switch (o)
                {
                    case PgpPublicKeyRing r:
                        _rings.Add(r);
                        break;
                    case PgpSecretKeyRing s:
                        _rings.Add(new PgpPublicKeyRing(s.GetPublicKeys().Cast<PgpPublicKey>().SelectMany(k => k.GetEncoded()).ToArray()));
                        break;
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // BouncyCastle's parser throws more than IOException and PgpException on bad packets (fuzzing found
            // UnsupportedPacketVersionException): whatever it throws, the keyring is refused with a typed error.
            throw new SignatureException($"{source}: not an OpenPGP keyring ({e.Message})");
        }
    }

    /// <summary>Adds a keyring file (armored or binary) or a GnuPG keybox (<c>.kbx</c>).</summary>
    public void AddFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (Keybox.IsKeybox(bytes))
        {
            foreach (var block in Keybox.OpenPgpBlocks(bytes, path))
            {
                AddStream(new MemoryStream(block), path);
            }

            return;
        }

        if (bytes.Length > 0)
        {
            AddStream(new MemoryStream(bytes), path);
        }
    }

    /// <summary>Adds the keys of a GnuPG home folder: trustedkeys.gpg, pubring.gpg and pubring.kbx.</summary>
    public void AddHomeDir(string dir)
    {
        bool any = false;
        foreach (var name in new[] { "trustedkeys.gpg", "trustedkeys.kbx", "pubring.gpg", "pubring.kbx" })
        {
            var p = Path.Combine(dir, name);
            if (File.Exists(p))
            {
                AddFile(p);
                any = true;
            }
        }

        if (!any && !Directory.Exists(dir))
        {
            throw new SignatureException($"GnuPG home folder {dir} does not exist");
        }
    }

    /// <summary>
    /// Adds the global keyring folder, as libostree trusts it: every <c>*.gpg</c> of <c>$OSTREE_GPG_HOME</c>, else of
    /// <c>/usr/share/ostree/trusted.gpg.d</c> (none when it does not exist).
    /// </summary>
    public void AddGlobalKeys()
    {
        var global = Environment.GetEnvironmentVariable("OSTREE_GPG_HOME") is { Length: > 0 } home ? home : "/usr/share/ostree/trusted.gpg.d";
        if (Directory.Exists(global))
        {
            foreach (var f in Directory.EnumerateFiles(global, "*.gpg").Order(StringComparer.Ordinal))
            {
                AddFile(f);
            }
        }
    }

    /// <summary>Adds a file or every file of a folder (as <c>gpgkeypath</c> entries are read).</summary>
    public void AddPath(string path)
    {
        if (Directory.Exists(path))
        {
            foreach (var f in Directory.EnumerateFiles(path).Order(StringComparer.Ordinal))
            {
                AddFile(f);
            }
        }
        else if (File.Exists(path))
        {
            AddFile(path);
        }
        else
        {
            // libostree's words (it opens every gpgkeypath entry as a folder first).
            throw new SignatureException($"opendir({path}): No such file or directory");
        }
    }

    /// <summary>The (sub)key with <paramref name="keyId"/> and the primary key of its ring, or null.</summary>
    public (PgpPublicKey Key, PgpPublicKey Primary)? Find(long keyId)
    {
        foreach (var r in _rings)
        {
            var k = r.GetPublicKey(keyId);
            if (k is not null)
            {
                return (k, r.GetPublicKey());
            }
        }

        return null;
    }

    /// <summary>The key named by <paramref name="id"/> (key id or fingerprint, or a suffix of one), or null.</summary>
    public PgpPublicKey? FindById(string id)
    {
        foreach (var r in _rings)
        {
            foreach (PgpPublicKey k in r.GetPublicKeys())
            {
                if (GpgCommitSigner.MatchesId(k, id))
                {
                    return k;
                }
            }
        }

        return null;
    }

    /// <summary>Keeps only the rings with a key matching one of <paramref name="ids"/> (key ids or fingerprints); returns an id that matched nothing, or null.</summary>
    public string? KeepOnly(IReadOnlyCollection<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = _rings.Where(r => ids.Any(id => r.GetPublicKeys().Cast<PgpPublicKey>().Any(k => GpgCommitSigner.MatchesId(k, id)))).ToList();
        var missing = ids.FirstOrDefault(id => !kept.Any(r => r.GetPublicKeys().Cast<PgpPublicKey>().Any(k => GpgCommitSigner.MatchesId(k, id))));
        _rings.Clear();
        _rings.AddRange(kept);
        return missing;
    }

    /// <summary>Writes every ring as one binary keyring (the format of REMOTE.trustedkeys.gpg).</summary>
    public byte[] ToBinary() => _rings.SelectMany(r => r.GetEncoded()).ToArray();
}

/// <summary>Reads the OpenPGP key blocks out of a GnuPG 2.2 keybox file (pubring.kbx).</summary>
internal static class Keybox
{
    public static bool IsKeybox(byte[] b) => b.Length >= 32 && b[4] == 1 && b.AsSpan(8, 4).SequenceEqual("KBXf"u8);

    public static IEnumerable<byte[]> OpenPgpBlocks(byte[] b, string path)
    {
        int pos = 0;
        while (pos + 5 <= b.Length)
        {
            int len = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos));
            if (len < 5 || pos + len > b.Length)
            {
                throw new SignatureException($"{path}: malformed keybox blob at offset {pos}");
            }

            byte type = b[pos + 4];
            if (type == 2 && len >= 16)
            {
                // OpenPGP blob: version(1) flags(2) keyblock offset(4) keyblock length(4).
                int off = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos + 8));
                int klen = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos + 12));
                if (off < 0 || klen < 0 || off + klen > len)
                {
                    throw new SignatureException($"{path}: keyblock out of range in blob at offset {pos}");
                }

                yield return b.AsSpan(pos + off, klen).ToArray();
            }

            pos += len;
        }
    }
}
