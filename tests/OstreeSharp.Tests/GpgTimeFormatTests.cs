using OstreeSharp.Signing;
using Xunit;

namespace OstreeSharp.Tests;

/// <summary>The dates of GPG signature lines, as ostree (GLib's "%c") prints them, for every day of a month.</summary>
public class GpgTimeFormatTests
{
    [Fact]
    public void EveryDayOfTheMonthIsPaddedAsGLibPadsIt()
    {
        for (var day = 1; day <= 31; day++)
        {
            var t = new DateTime(2026, 12, day, 15, 49, 34, DateTimeKind.Unspecified);
            var dow = t.DayOfWeek.ToString()[..3];
            var expectUtf8 = day < 10 ? $"{dow} Dec \u2007{day} 15:49:34 2026" : $"{dow} Dec {day} 15:49:34 2026";
            var expectAscii = day < 10 ? $"{dow} Dec ?{day} 15:49:34 2026" : $"{dow} Dec {day} 15:49:34 2026";
            Assert.Equal(expectUtf8, GpgSignatureStatus.FormatCTime(t, utf8: true));
            Assert.Equal(expectAscii, GpgSignatureStatus.FormatCTime(t, utf8: false));
        }
    }

    [Theory]
    [InlineData(null, null, "C.UTF-8", true)]
    [InlineData(null, null, "en_US.utf8", true)]
    [InlineData("C", null, "C.UTF-8", false)]
    [InlineData(null, "de_DE.UTF-8@euro", "C", true)]
    [InlineData(null, null, "POSIX", false)]
    [InlineData(null, null, "en_US.ISO-8859-1", false)]
    [InlineData(null, null, null, false)]
    [InlineData("", "", "C.UTF-8", true)]
    public void TheCharsetComesFromTheFirstLocaleVariableSet(string? lcAll, string? lcCtype, string? lang, bool utf8)
    {
        var env = new Dictionary<string, string?> { ["LC_ALL"] = lcAll, ["LC_CTYPE"] = lcCtype, ["LANG"] = lang };
        Assert.Equal(utf8, GpgSignatureStatus.LocaleIsUtf8(n => env[n]));
    }
}
