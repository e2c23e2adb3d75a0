using System.Text;
using OstreeSharp.GVariant;

namespace OstreeSharp.Tests;

/// <summary>Nesting limits: GLib's 128 levels, checked before anything recurses, so hostile bytes cannot overflow the stack.</summary>
public class GVariantDepthTests
{
    // A byte inside `levels` variants, as GLib serialises it: each variant is its child's bytes, a zero, its type.
    internal static byte[] NestedVariants(int levels)
    {
        var b = new List<byte>(3 + (2 * levels)) { 0x01, 0x00, (byte)'y' };
        for (int i = 1; i < levels; i++)
        {
            b.Add(0x00);
            b.Add((byte)'v');
        }

        return [.. b];
    }

    [Fact]
    public void Eighteen_thousand_nested_variants_are_refused_not_a_stack_overflow()
    {
        var e = Assert.Throws<GVariantFormatException>(() => GVariantParser.Parse(GVariantType.Variant, NestedVariants(18_000)));
        Assert.Contains("nested more than 128 levels", e.Message);
    }

    [Fact]
    public void The_limit_is_glibs_128_levels()
    {
        // 127 variants around a byte: 128 levels in all, accepted; one more is refused.
        var ok = GVariantParser.Parse(GVariantType.Variant, NestedVariants(127));
        Assert.Equal(NestedVariants(127), ok.ToBytes());
        Assert.Throws<GVariantFormatException>(() => GVariantParser.Parse(GVariantType.Variant, NestedVariants(128)));
    }

    [Fact]
    public void Deep_type_strings_are_refused_with_a_clipped_message()
    {
        var deep = new string('a', 40_000) + "y";
        var e = Assert.Throws<GVariantFormatException>(() => GVariantType.Parse(deep));
        Assert.Contains("nested more than 128 levels", e.Message);
        Assert.True(e.Message.Length < 200, e.Message);
        Assert.Throws<GVariantFormatException>(() => GVariantType.Parse(new string('(', 20_000) + "y" + new string(')', 20_000)));
        Assert.Equal(128, GVariantType.Parse(new string('a', 127) + "y").Depth);
        Assert.Throws<GVariantFormatException>(() => GVariantType.Parse(new string('a', 128) + "y"));
    }

    [Fact]
    public void A_variant_type_past_the_limit_is_refused_inside_a_value()
    {
        // One variant holding a value of type a^127 y (empty): 1 + 128 levels.
        var bytes = Encoding.ASCII.GetBytes("\0" + new string('a', 127) + "y");
        Assert.Throws<GVariantFormatException>(() => GVariantParser.Parse(GVariantType.Variant, bytes));
        var fits = Encoding.ASCII.GetBytes("\0" + new string('a', 126) + "y");
        Assert.Equal(fits, GVariantParser.Parse(GVariantType.Variant, fits).ToBytes());
    }

    [Fact]
    public void Deep_text_is_refused_and_long_text_clipped()
    {
        var text = new string('<', 50_000) + "1" + new string('>', 50_000);
        var e = Assert.Throws<GVariantFormatException>(() => GVariantTextParser.Parse(text));
        Assert.Contains("nested more than 128 levels", e.Message);
        Assert.True(e.Message.Length < 300, e.Message);
        var e2 = Assert.Throws<GVariantFormatException>(() => GVariantTextParser.Parse(new string('x', 1_000_000)));
        Assert.True(e2.Message.Length < 300, e2.Message);
        Assert.Equal("<<1>>", GVariantTextParser.Parse("<<1>>").ToString());
    }

    [Fact]
    public void Control_bytes_in_a_type_string_are_escaped_in_the_message()
    {
        var e = Assert.Throws<GVariantFormatException>(() => GVariantType.Parse("a\u0007\u001b[2J"));
        Assert.DoesNotContain('\u001b', e.Message);
        Assert.Contains("\\x1b", e.Message);
    }
}

public class GVariantDeepRoundTripTests
{
    // In a commit the metadata value sits under the tuple, the array and the dict entry, and FromVarDict wraps it in a
    // variant of its own: 123 more variants around a byte reach the 128th level; one more does not fit.
    [Theory]
    [InlineData(1, true)]
    [InlineData(50, true)]
    [InlineData(123, true)]
    [InlineData(124, false)]
    public void Nested_variants_in_commit_metadata_round_trip_up_to_the_limit(int levels, bool fits)
    {
        var v = GVariantValue.FromVariant(GVariantValue.FromByte(1));
        for (int i = 1; i < levels; i++)
        {
            v = GVariantValue.FromVariant(v);
        }

        var commit = GVariantValue.FromTuple(
            GVariantValue.FromVarDict([new("x", v)]),
            GVariantValue.FromBytes([]),
            GVariantValue.FromArray(GVariantType.Parse("(say)"), []),
            GVariantValue.FromString("s"),
            GVariantValue.FromString("b"),
            GVariantValue.FromUInt64(0),
            GVariantValue.FromBytes(new byte[32]),
            GVariantValue.FromBytes(new byte[32]));
        var bytes = commit.ToBytes();
        var type = GVariantType.Parse("(a{sv}aya(say)sstayay)");
        if (fits)
        {
            Assert.Equal(bytes, GVariantParser.Parse(type, bytes).ToBytes());
        }
        else
        {
            Assert.Throws<GVariantFormatException>(() => GVariantParser.Parse(type, bytes));
        }
    }
}
