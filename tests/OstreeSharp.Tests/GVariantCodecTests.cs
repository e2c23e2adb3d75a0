using OstreeSharp.GVariant;

namespace OstreeSharp.Tests;

public class GVariantCodecTests
{
    [Theory]
    [InlineData("(yt)", 8, 16)]
    [InlineData("(ty)", 8, 16)]
    [InlineData("()", 1, 1)]
    [InlineData("(uuu)", 4, 12)]
    [InlineData("a{sv}", 8, 0)]
    [InlineData("(a(say)a(sayay))", 1, 0)]
    [InlineData("(tuuuusa(ayay))", 8, 0)]
    public void Type_layout(string type, int align, int fixedSize)
    {
        var t = GVariantType.Parse(type);
        Assert.Equal(align, t.Alignment);
        Assert.Equal(fixedSize, t.FixedSize);
    }

    [Theory]
    [InlineData("")]
    [InlineData("(")]
    [InlineData("a")]
    [InlineData("{vs}")]
    [InlineData("(u")]
    [InlineData("z")]
    [InlineData("uu")]
    public void Invalid_type_strings_are_refused(string type) =>
        Assert.Throws<GVariantFormatException>(() => GVariantType.Parse(type));

    [Fact]
    public void Framing_offset_width_grows_at_the_boundary()
    {
        // body 255 with one offset -> 256 > 255 -> 2-byte offsets, total 257.
        var v = GVariantValue.FromArray(GVariantType.String, [GVariantValue.FromString(new string('x', 253))]);
        Assert.Equal(254 + 1, v.ToBytes().Length);
        var w = GVariantValue.FromArray(GVariantType.String, [GVariantValue.FromString(new string('x', 254))]);
        Assert.Equal(255 + 2, w.ToBytes().Length);
        Assert.Equal(w.ToBytes(), GVariantValue.Parse("as", w.ToBytes()).ToBytes());
    }

    public static TheoryData<string, string> MalformedInputs => new()
    {
        { "s", "616263" },              // no NUL terminator
        { "s", "610062" + "00" },       // interior NUL
        { "s", "ff00" },                // not UTF-8
        { "b", "02" },                  // boolean out of range
        { "u", "010203" },              // wrong fixed size
        { "au", "0102030405" },         // not a multiple of 4
        { "as", "6100ff" },             // framing offset out of range
        { "as", "610063000105" },       // element end before its start
        { "(ss)", "610062000a" },       // tuple framing offset past the end
        { "v", "0102" },                // variant without separator
        { "v", "01007a7a" },              // variant with a bad type
        { "a{sv}", "6b000000000000007300730008ff" }, // non-normal offsets
        { "(uu)", "000000000000000000" }, // trailing garbage
        { "as", "6100000202" },          // non-minimal: padding inside a string array
    };

    [Theory]
    [MemberData(nameof(MalformedInputs))]
    public void Malformed_bytes_raise_a_typed_error_with_an_offset(string type, string hex)
    {
        var e = Assert.Throws<GVariantFormatException>(() => GVariantValue.Parse(type, Convert.FromHexString(hex)));
        Assert.Contains("offset", e.Message);
        Assert.True(e.Offset >= 0);
    }

    [Fact]
    public void Random_values_round_trip_in_normal_form()
    {
        var rng = new Random(1234);
        string[] types = ["a{sv}", "(a(say)a(sayay))", "(uuua(ayay))", "(tuuuusa(ayay))", "aay", "a(sa{sv})", "(bynqiuxtd)", "mas", "ma{sv}", "(sv)", "a(yyy)", "(a{sv}aya(say)sstayay)"];
        for (int round = 0; round < 400; round++)
        {
            var t = GVariantType.Parse(types[round % types.Length]);
            var v = RandomValue(rng, t, 0);
            var bytes = v.ToBytes();
            var parsed = GVariantValue.Parse(t, bytes);
            Assert.Equal(bytes, parsed.ToBytes());
            Assert.Equal(v.Print(), parsed.Print());
        }
    }

    [Theory]
    [InlineData("'hello'", "s")]
    [InlineData("uint32 42", "u")]
    [InlineData("int64 -5", "x")]
    [InlineData("uint64 18446744073709551615", "t")]
    [InlineData("true", "b")]
    [InlineData("['a', 'b']", "as")]
    [InlineData("@as []", "as")]
    [InlineData("<'x'>", "v")]
    [InlineData("{'k': <1>}", "a{sv}")]
    [InlineData("(1, 'x')", "(is)")]
    [InlineData("b'bytes'", "ay")]
    [InlineData("byte 0x10", "y")]
    [InlineData("3.5", "d")]
    [InlineData("42", "i")]
    public void Text_format_parses_and_prints_back(string text, string type)
    {
        var v = GVariantTextParser.Parse(text);
        Assert.Equal(type, v.Type.Text);
        Assert.Equal(v.ToBytes(), GVariantTextParser.Parse(v.Print()).ToBytes());
    }

    [Fact]
    public void Byte_strings_print_octal_escapes_that_parse_back_to_the_same_bytes()
    {
        // Found by fuzzing: b'\001' parsed as the three characters "001".
        var v = GVariantValue.FromBytes([0x01, 0xe6, (byte)'a', (byte)'\'', 0x00]);
        Assert.Equal("b\"\\001\\346a'\"", v.Print(typeAnnotate: false));
        Assert.Equal(v.ToBytes(), GVariantTextParser.Parse(v.Print()).ToBytes());
        Assert.Equal(new byte[] { 0x07, (byte)'9', 0x00 }, GVariantTextParser.Parse("b'\\79'").GetBytes());
    }

    [Theory]
    [InlineData("'a\\u0000b'", "NUL")]
    [InlineData("'\\U0000d800'", "unicode escape")]
    [InlineData("{'a': 1, 'b': <3.5>}", "different types")]
    [InlineData("[1, <2>]", "array")]
    [InlineData("b'\\777'", "out of range")]
    public void Malformed_text_is_a_format_error(string text, string message)
    {
        var e = Assert.Throws<GVariantFormatException>(() => GVariantTextParser.Parse(text));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    private static GVariantValue RandomValue(Random rng, GVariantType t, int depth)
    {
        switch (t.Kind)
        {
            case 'b': return GVariantValue.FromBoolean(rng.Next(2) == 1);
            case 'y': return GVariantValue.FromByte((byte)rng.Next(256));
            case 'n' or 'q' or 'i' or 'u' or 'x' or 't' or 'h':
                return GVariantValue.FromNumberBits(t, t.FixedSize == 8 ? (ulong)rng.NextInt64() : (ulong)rng.Next() & (t.FixedSize == 2 ? 0xFFFFUL : 0xFFFFFFFFUL));
            case 'd': return GVariantValue.FromDouble(rng.NextDouble() * 1000);
            case 's': return GVariantValue.FromString(RandomString(rng));
            case 'v':
                {
                    string[] inner = ["s", "u", "as", "ay", "(ss)", "t", "b"];
                    return GVariantValue.FromVariant(RandomValue(rng, GVariantType.Parse(inner[rng.Next(inner.Length)]), depth + 1));
                }

            case 'm':
                return GVariantValue.FromMaybe(t.Element!, rng.Next(3) == 0 ? null : RandomValue(rng, t.Element!, depth + 1));
            case 'a':
                {
                    int n = depth > 2 ? 0 : rng.Next(rng.Next(10) == 0 ? 300 : 6);
                    if (t.Element!.Kind == 'y')
                    {
                        var b = new byte[n];
                        rng.NextBytes(b);
                        return GVariantValue.FromBytes(b);
                    }

                    return GVariantValue.FromArray(t.Element, Enumerable.Range(0, n).Select(_ => RandomValue(rng, t.Element, depth + 1)).ToList());
                }

            case '{':
                return GVariantValue.FromDictEntry(RandomValue(rng, t.Members[0], depth + 1), RandomValue(rng, t.Members[1], depth + 1));
            default:
                return GVariantValue.FromTuple(t.Members.Select(m => RandomValue(rng, m, depth + 1)).ToArray());
        }
    }

    private static string RandomString(Random rng)
    {
        const string chars = "abcXYZ012 ./-_éß✓名\n'\"";
        int n = rng.Next(rng.Next(8) == 0 ? 400 : 12);
        return string.Concat(Enumerable.Range(0, n).Select(_ => chars[rng.Next(chars.Length)]));
    }
}
