using System.Globalization;

namespace OstreeSharp.Internal;

/// <summary>Sizes as GLib's <c>g_format_size</c> prints them, which ostree's output uses.</summary>
internal static class SizeFormat
{
    /// <summary>Decimal units, one decimal: "118 bytes", "1.2 kB", "4.1 GB".</summary>
    public static string Format(long size)
    {
        if (size < 1000)
        {
            return size == 1 ? "1 byte" : $"{size} bytes";
        }

        string[] units = ["kB", "MB", "GB", "TB", "PB", "EB"];
        double v = size;
        int u = -1;
        while (v >= 1000 && u < units.Length - 1)
        {
            v /= 1000;
            u++;
        }

        return v.ToString("F1", CultureInfo.InvariantCulture) + " " + units[u];
    }

    /// <summary>
    /// As <c>g_print</c> shows a GLib size: GLib 2.74 puts a no-break space before the unit, which <c>g_print</c> turns
    /// into <c>?</c> when the locale's charset is not UTF-8 (as under <c>LC_ALL=C</c>).
    /// </summary>
    public static string FormatAsGlibPrints(long size)
    {
        var text = Format(size);
        if (size < 1000)
        {
            return text;
        }

        var locale = new[] { "LC_ALL", "LC_CTYPE", "LANG" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(v => !string.IsNullOrEmpty(v)) ?? "C";
        bool utf8 = locale.Contains("UTF-8", StringComparison.OrdinalIgnoreCase) || locale.Contains("utf8", StringComparison.OrdinalIgnoreCase);
        int space = text.LastIndexOf(' ');
        return text[..space] + (utf8 ? "\u00a0" : "?") + text[(space + 1)..];
    }
}
