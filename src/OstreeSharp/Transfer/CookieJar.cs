// A remote's cookie jar, REMOTE.cookies.txt in the repository: the Netscape/Mozilla text format curl and libsoup
// read, one cookie a line: DOMAIN, TRUE when it covers subdomains (a leading '.'), PATH, SECURE, EXPIRES (Unix
// seconds), NAME, VALUE, separated by tabs. Lines that do not have those seven fields (comments) are kept as they are.
using System.Globalization;
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Transfer;

/// <summary>One cookie of a jar.</summary>
internal sealed record JarCookie(string Domain, string Path, bool Secure, DateTimeOffset Expires, string Name, string Value);

/// <summary>Reads and edits cookie jars as <c>ostree remote add-cookie</c>, <c>delete-cookie</c> and <c>list-cookies</c> do.</summary>
internal static class CookieJar
{
    /// <summary>The jar of <paramref name="remote"/> in the repository folder <paramref name="repoPath"/>.</summary>
    public static string PathOf(string repoPath, string remote) => System.IO.Path.Combine(repoPath, remote + ".cookies.txt");

    /// <summary>The cookies of a jar, in file order (none when it does not exist).</summary>
    public static IReadOnlyList<JarCookie> Read(string file) =>
        File.Exists(file) ? File.ReadAllLines(file).Select(Parse).OfType<JarCookie>().ToList() : [];

    private static JarCookie? Parse(string line)
    {
        // As libostree's sscanf("%ms\t%ms\t..."): seven fields, the fifth a number.
        var f = line.Split('\t');
        if (f.Length < 7 || f.Take(7).Any(x => x.Length == 0) || !ulong.TryParse(f[4], NumberStyles.None, CultureInfo.InvariantCulture, out var exp))
        {
            return null;
        }

        var expires = exp >= (ulong)DateTimeOffset.MaxValue.ToUnixTimeSeconds() ? DateTimeOffset.MaxValue : DateTimeOffset.FromUnixTimeSeconds((long)exp);
        return new JarCookie(f[0], f[2], f[3] == "TRUE", expires, f[5], f[6]);
    }

    /// <summary>Appends a cookie that expires in 25 years, as libostree writes one.</summary>
    public static void Add(string file, string domain, string path, string name, string value, DateTimeOffset now)
    {
        foreach (var (what, v) in new[] { ("domain", domain), ("path", path), ("name", name), ("value", value) })
        {
            if (v.Length == 0 || v.Any(c => c is '\t' or '\n' or '\r' || char.IsWhiteSpace(c)))
            {
                throw new ArgumentException($"Invalid cookie {what} '{v}': it must be non-empty, without blanks");
            }
        }

        var line = string.Join('\t', domain, domain.StartsWith('.') ? "TRUE" : "FALSE", path, "FALSE",
            now.AddYears(25).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), name, value) + "\n";
        using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.Read);
        stream.Write(Encoding.UTF8.GetBytes(line));
    }

    /// <summary>Removes the cookies with this domain, path and name; false when there was none.</summary>
    public static bool Delete(string file, string domain, string path, string name, bool fsync)
    {
        var lines = File.Exists(file) ? File.ReadAllLines(file) : [];
        var kept = lines.Where(l => Parse(l) is not { } c || c.Domain != domain || c.Path != path || c.Name != name).ToList();
        FileUtil.WriteAtomic(file, Encoding.UTF8.GetBytes(string.Concat(kept.Select(l => l + "\n"))), fsync);
        return kept.Count != lines.Length;
    }

    /// <summary>The listing <c>remote list-cookies</c> prints.</summary>
    public static string Format(IEnumerable<JarCookie> cookies)
    {
        var sb = new StringBuilder();
        foreach (var c in cookies)
        {
            sb.Append("--\n");
            sb.Append("Domain: ").Append(c.Domain).Append('\n');
            sb.Append("Path: ").Append(c.Path).Append('\n');
            sb.Append("Name: ").Append(c.Name).Append('\n');
            sb.Append("Secure: ").Append(c.Secure ? "TRUE" : "FALSE").Append('\n');
            if (c.Expires < DateTimeOffset.MaxValue)
            {
                sb.Append("Expires: ").Append(c.Expires.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)).Append(" +0000\n");
            }

            sb.Append("Value: ").Append(c.Value).Append('\n');
        }

        return sb.ToString();
    }
}
