using System.Globalization;

namespace OstreeSharp;

/// <summary>Sizes as GLib's <c>g_format_size</c> prints them, which ostree's output uses.</summary>
public static class SizeFormat
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

        return v.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
