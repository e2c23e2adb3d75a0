// Numbers in config values as GLib's g_ascii_strtoull reads them, for the settings libostree parses that way.
using System.Globalization;

namespace OstreeSharp.Internal;

/// <summary>Unsigned numbers read as <c>g_ascii_strtoull</c> reads them.</summary>
internal static class GlibNumbers
{
    /// <summary>
    /// The value of the ASCII digits <paramref name="text"/> starts with, saturated at 2^64-1 as GLib does, and in
    /// <paramref name="length"/> how many there are (none: 0, value 0). No sign and no blanks are read: a config value
    /// from <see cref="Repository.KeyFile.Get"/> has lost its leading blanks already.
    /// </summary>
    public static ulong LeadingDigits(ReadOnlySpan<char> text, out int length) =>
        TryLeadingDigits(text, out var value, out length) ? value : ulong.MaxValue;

    /// <summary>
    /// The same, but false (and <paramref name="value"/> 2^64-1) when the digits overflow, where g_ascii_strtoull sets
    /// ERANGE: for readers that take an overflow as no number at all.
    /// </summary>
    public static bool TryLeadingDigits(ReadOnlySpan<char> text, out ulong value, out int length)
    {
        length = 0;
        while (length < text.Length && char.IsAsciiDigit(text[length]))
        {
            length++;
        }

        value = 0;
        if (length == 0)
        {
            return true;
        }

        if (ulong.TryParse(text[..length], NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        value = ulong.MaxValue;
        return false;
    }
}
