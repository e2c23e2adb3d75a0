using System.Text.Json;
using NSec.Cryptography;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Tests;

public sealed class Ed25519Tests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-sig-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    [Theory]
    [InlineData("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "", "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")]
    [InlineData("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72", "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")]
    [InlineData("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7", "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82", "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a")]
    public void Rfc8032_vectors(string seed, string pub, string msg, string sig)
    {
        var key = Ed25519SecretKey.FromSeed(Convert.FromHexString(seed));
        Assert.Equal(pub, Convert.ToHexStringLower(key.PublicKey.Bytes));
        var s = key.Sign(Convert.FromHexString(msg));
        Assert.Equal(sig, Convert.ToHexStringLower(s));
        Assert.True(Ed25519Keys.Verify(key.PublicKey, Convert.FromHexString(msg), s));
        Assert.False(Ed25519Keys.Verify(key.PublicKey, [.. Convert.FromHexString(msg), 0], s));
    }

    [Fact]
    public void The_spec_example_signature_and_detached_metadata_are_reproduced()
    {
        var ex = JsonDocument.Parse(File.ReadAllText(Path.Combine(Vectors.Dir, "ed25519-example.json"))).RootElement;
        var key = Ed25519SecretKey.Parse(ex.Str("secret_key_libsodium_base64"));
        Assert.Equal(ex.Str("public_key_base64"), key.PublicKey.Base64);
        var commit = File.ReadAllBytes(Path.Combine(Vectors.Dir, ex.Str("signed_object")));
        var sig = key.Sign(commit);
        Assert.Equal(ex.Str("signature_hex"), Convert.ToHexStringLower(sig));
        Assert.Equal(ex.Str("detached_metadata_with_only_this_signature_hex"), Convert.ToHexStringLower(Ed25519CommitSigner.WithSignatures(null, [sig]).ToBytes()));
    }

    [Fact]
    public void Libsodium_through_nsec_agrees_in_both_directions()
    {
        var algorithm = SignatureAlgorithm.Ed25519;
        var data = "the exact commit bytes"u8.ToArray();
        for (int i = 0; i < 20; i++)
        {
            var seed = new byte[32];
            new Random(i).NextBytes(seed);
            using var nsecKey = Key.Import(algorithm, seed, KeyBlobFormat.RawPrivateKey);
            var ours = Ed25519SecretKey.FromSeed(seed);
            Assert.Equal(nsecKey.PublicKey.Export(KeyBlobFormat.RawPublicKey), ours.PublicKey.Bytes);
            var theirSig = algorithm.Sign(nsecKey, data);
            Assert.Equal(theirSig, ours.Sign(data));
            Assert.True(Ed25519Keys.Verify(ours.PublicKey, data, theirSig));
            Assert.True(algorithm.Verify(nsecKey.PublicKey, data, ours.Sign(data)));
        }
    }

    [Fact]
    public void Verification_refuses_with_the_reason()
    {
        var repo = OstreeRepo.Open(CopyVectors());
        var c2 = repo.Resolve("test/main");
        var good = Ed25519SecretKey.FromSeed(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());
        var other = Ed25519SecretKey.FromSeed(new byte[32]);
        var bytes = repo.ReadMetadataBytes(ObjectType.Commit, c2);

        var none = Assert.Throws<SignatureException>(() => Ed25519CommitSigner.Verify(bytes, repo.LoadDetachedMetadata(c2), [good.PublicKey]));
        Assert.Equal(SignatureFailure.NoSignature, none.Reason);

        Ed25519CommitSigner.Sign(repo, c2, [good]);
        var meta = repo.LoadDetachedMetadata(c2);
        Assert.Equal("detached", meta!.Lookup("note")!.GetString());
        Assert.Equal(good.PublicKey, Ed25519CommitSigner.Verify(bytes, meta, [other.PublicKey, good.PublicKey]).Key);

        var wrongKey = Assert.Throws<SignatureException>(() => Ed25519CommitSigner.Verify(bytes, meta, [other.PublicKey]));
        Assert.Equal(SignatureFailure.UnknownKey, wrongKey.Reason);

        var tampered = (byte[])bytes.Clone();
        tampered[^1] ^= 1;
        Assert.Throws<SignatureException>(() => Ed25519CommitSigner.Verify(tampered, meta, [good.PublicKey]));

        var sig = Ed25519CommitSigner.ReadSignatures(meta)[0].ToArray();
        sig[10] ^= 1;
        Assert.Throws<SignatureException>(() => Ed25519CommitSigner.Verify(bytes, Ed25519CommitSigner.WithSignatures(meta, [sig]), [good.PublicKey]));

        var revoked = Assert.Throws<SignatureException>(() => Ed25519CommitSigner.Verify(bytes, meta, [good.PublicKey], [good.PublicKey]));
        Assert.Equal(SignatureFailure.RevokedKey, revoked.Reason);

        Assert.Equal(1, Ed25519CommitSigner.Delete(repo, c2, [good.PublicKey]));
        Assert.Empty(Ed25519CommitSigner.ReadSignatures(repo.LoadDetachedMetadata(c2)));
    }

    [Fact]
    public void Key_files_skip_invalid_lines_but_need_one_valid_key()
    {
        Directory.CreateDirectory(_dir);
        var good = Ed25519SecretKey.FromSeed(new byte[32]);
        var f = Path.Combine(_dir, "keys");
        File.WriteAllText(f, "not-base64!\n" + Convert.ToBase64String(new byte[7]) + "\n" + good.PublicKey.Base64 + "\n");
        Assert.Single(Ed25519Keys.ReadPublicKeys(f));
        File.WriteAllText(f, "junk\n");
        Assert.Throws<SignatureException>(() => Ed25519Keys.ReadPublicKeys(f));
        Assert.Throws<SignatureException>(() => Ed25519SecretKey.Parse(Convert.ToBase64String([.. new byte[32], .. new byte[32]])));
    }

    private string CopyVectors() => Vectors.CopyArchiveRepo(Path.Combine(_dir, "vectors"));
}
