using OstreeSharp.Deltas;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;

namespace OstreeSharp.Tests;

/// <summary>Error texts stay one readable line whatever the input put in them.</summary>
public class MessageTextTests
{
    [Fact]
    public void Control_characters_are_escaped_and_line_breaks_become_spaces()
    {
        Assert.Equal(@"a \x01\x1b[31m b\x7f c d", MessageText.OneLine("a \u0001\u001b[31m b\u007f c\r\nd"));
        Assert.Equal("plain words, kept", MessageText.OneLine("plain words, kept"));
        Assert.Equal("caf\u00e9 \ufffd", MessageText.OneLine("caf\u00e9 \ufffd"));
    }

    [Fact]
    public void Huge_words_are_clipped_keeping_both_ends_and_the_length()
    {
        var name = "/x/" + new string('a', 1_000_000) + "/tail.txt";
        var line = MessageText.OneLine($"error: {name}: No such file");
        Assert.True(line.Length < MessageText.MaxWord + 64, line.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.StartsWith("error: /x/aaa", line);
        Assert.Contains($"...({name.Length + 1} characters)...", line);
        Assert.EndsWith("aaaa/tail.txt: No such file", line);
    }

    [Fact]
    public void Quote_clips_and_escapes()
    {
        Assert.Equal(@"ab\x00", MessageText.Quote("ab\0"));
        Assert.Equal("abc... (5 characters)", MessageText.Quote("abcde", 3));
    }

    // A 0-byte superblock: the GVariant parser read a framing offset of width 0 as 8 bytes past the end.
    [Fact]
    public void An_empty_superblock_is_a_format_error_naming_it()
    {
        var e = Assert.Throws<OstreeFormatException>(() => DeltaSuperblock.Parse([], "deltas/ab/cd/superblock"));
        Assert.StartsWith("deltas/ab/cd/superblock: invalid static delta superblock: ", e.Message);
        Assert.Throws<GVariantFormatException>(() => GVariantParser.Parse(GVariantType.Parse("(ayay)"), []));
        Assert.Throws<GVariantFormatException>(() => GVariantParser.Parse(GVariantType.Parse("(sa{sv}s)"), []));
    }
}
