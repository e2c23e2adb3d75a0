using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using OstreeSharp.Signing;

namespace OstreeSharp.Tests;

public class SExpressionTests
{
    [Fact]
    public void Canonical_and_advanced_forms_parse_to_the_same_canonical_bytes()
    {
        var canonical = "(21:protected-private-key(3:ecc(5:curve7:Ed25519)(1:q3:\x01\x02\x03)(12:protected-at15:20261126T080747)))"u8.ToArray();
        var advanced = Encoding.Latin1.GetBytes("(protected-private-key (ecc (curve Ed25519)(q\n  #01 02\n 03#)\n (protected-at \"20261126T080747\")))");
        Assert.Equal(canonical, SExpression.Parse(canonical).ToCanonical());
        Assert.Equal(canonical, SExpression.Parse(advanced).ToCanonical());
    }

    [Fact]
    public void Quoted_strings_keep_raw_octets_and_decode_escapes()
    {
        var raw = new byte[] { (byte)'(', (byte)'"', 0xC3, 0x28, 0xFF, (byte)'[', (byte)'"', (byte)' ', (byte)'"', (byte)'\\', (byte)'x', (byte)'4', (byte)'1', (byte)'\\', (byte)'1', (byte)'0', (byte)'1', (byte)'\\', (byte)'n', (byte)'"', (byte)' ', (byte)'|', (byte)'Q', (byte)'k', (byte)'I', (byte)'=', (byte)'|', (byte)')' };
        var e = SExpression.Parse(raw);
        Assert.Equal(new byte[] { 0xC3, 0x28, 0xFF, (byte)'[' }, e.List![0].Atom);
        Assert.Equal("AA\n"u8.ToArray(), e.List[1].Atom);
        Assert.Equal("BB"u8.ToArray(), e.List[2].Atom);
    }

    [Fact]
    public void A_hole_is_left_out_of_the_canonical_bytes()
    {
        var e = SExpression.Parse("(ecc (q #01#)(protected x y)(protected-at \"t\"))"u8);
        Assert.Equal("(3:ecc(1:q1:\x01)(12:protected-at1:t))"u8.ToArray(), e.ToCanonicalWithout(e.Find("protected")!));
    }

    [Theory]
    [InlineData("(a")]
    [InlineData("(a \"b)")]
    [InlineData("(#0g#)")]
    [InlineData("(5:ab)")]
    public void Malformed_expressions_are_format_errors(string text)
    {
        Assert.Throws<OstreeFormatException>(() => SExpression.Parse(Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void The_s2k_matches_bouncycastle()
    {
        var salt = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 };
        const int encodedCount = 0x60; // (16 + 0) << (6 + 6) = 65536 octets
        var expected = PgpUtilities.MakeKeyFromPassPhrase(SymmetricKeyAlgorithmTag.Aes128, new S2k(HashAlgorithmTag.Sha1, salt, encodedCount), "pass phrase".ToCharArray()).GetKey();
        Assert.Equal(expected, GnupgAgentKeys.S2K("pass phrase"u8.ToArray(), salt, 65536, 16));
        var expected256 = PgpUtilities.MakeKeyFromPassPhrase(SymmetricKeyAlgorithmTag.Aes256, new S2k(HashAlgorithmTag.Sha1, salt, encodedCount), "pass phrase".ToCharArray()).GetKey();
        Assert.Equal(expected256, GnupgAgentKeys.S2K("pass phrase"u8.ToArray(), salt, 65536, 32));
    }
}
