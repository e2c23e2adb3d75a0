// Remotes whose URL is metalink=URL (Metalink 3.0, as libostree reads it): the metalink names the summary's size,
// its sha256 or sha512, and URLs to try in order. The first URL whose bytes match is the summary, and the folder of
// that URL is the repository the rest of the pull reads.
using System.Globalization;
using System.Security.Cryptography;
using System.Xml;
using OstreeSharp.Operations;

namespace OstreeSharp.Transfer;

/// <summary>Reads a metalink and fetches the summary it describes.</summary>
internal static class Metalink
{
    private const int MaxSize = 10 << 20;

    /// <summary>What a metalink says of one file.</summary>
    /// <param name="Size">The size it must have (0: none given).</param>
    /// <param name="Sha256">Its sha256 in hex, if given.</param>
    /// <param name="Sha512">Its sha512 in hex, if given.</param>
    /// <param name="Urls">The http(s) URLs to try, in document order.</param>
    public sealed record Target(long Size, string? Sha256, string? Sha512, IReadOnlyList<string> Urls);

    /// <summary>Fetches the metalink at <paramref name="url"/> and then the summary from the first URL that serves its bytes.</summary>
    /// <returns>The summary and the repository URL (the folder it came from).</returns>
    /// <exception cref="RemoteFetchException">The metalink cannot be fetched or read, or no URL in it serves the summary.</exception>
    public static async Task<(byte[] Summary, string RepositoryUrl)> FetchSummaryAsync(string url, int retries, CancellationToken cancellationToken, RemoteConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        var xml = await GetAsync(url, retries, cancellationToken, connection).ConfigureAwait(false)
            ?? throw new RemoteFetchException(url, "Server returned HTTP 404");
        var target = Parse(xml, "summary", url);
        string? last = null;
        foreach (var candidate in target.Urls)
        {
            try
            {
                var bytes = await GetAsync(candidate, retries, cancellationToken, connection).ConfigureAwait(false);
                last = bytes is null ? "Server returned HTTP 404" : Check(target, bytes);
                if (last is null)
                {
                    return (bytes!, candidate[..candidate.LastIndexOf('/')]);
                }
            }
            catch (RemoteFetchException e)
            {
                last = e.Message;
            }
        }

        throw new RemoteFetchException(url, $"Exhausted {target.Urls.Count} metalink targets, last error: {last}");
    }

    // libostree's checks of a downloaded target: the size, then the sha512 when given, else the sha256.
    private static string? Check(Target t, byte[] bytes)
    {
        if (bytes.Length != t.Size)
        {
            return $"Expected size is {t.Size} bytes but content is {bytes.Length} bytes";
        }

        var (expected, actual) = t.Sha512 is { } s512 ? (s512, Convert.ToHexStringLower(SHA512.HashData(bytes))) : (t.Sha256!, Convert.ToHexStringLower(SHA256.HashData(bytes)));
        return expected == actual ? null : $"Expected checksum is {expected} but actual is {actual}";
    }

    private static async Task<byte[]?> GetAsync(string url, int retries, CancellationToken ct, RemoteConnection? connection)
    {
        var slash = url.LastIndexOf('/');
        using var f = new RemoteFetcher(url[..(slash + 1)], 1, retries, connection: connection);
        return await f.GetBytesAsync(url[(slash + 1)..], MaxSize, ct).ConfigureAwait(false);
    }

    /// <summary>What the metalink <paramref name="xml"/> says of the file <paramref name="name"/>, checked as libostree checks it.</summary>
    /// <exception cref="RemoteFetchException">Malformed, or it lacks what a pull needs (libostree's words).</exception>
    public static Target Parse(byte[] xml, string name, string url)
    {
        ArgumentNullException.ThrowIfNull(xml);
        var text = System.Text.Encoding.UTF8.GetString(xml).TrimStart('\uFEFF');
        if (!text.TrimStart().StartsWith('<'))
        {
            throw new RemoteFetchException(url, "Error on line 1 char 1: Document must begin with an element (e.g. <book>)");
        }

        bool anyFile = false, ourFile = false;
        long size = 0;
        string? sha256 = null, sha512 = null;
        var urls = new List<string>();
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, IgnoreComments = true, MaxCharactersInDocument = MaxSize };
        var path = new List<string>();
        string? fileName = null, hashType = null, urlProtocol = null;
        try
        {
            using var reader = XmlReader.Create(new StringReader(text), settings);
            while (reader.Read())
            {
                switch (reader.NodeType)
                {
                    case XmlNodeType.Element:
                        path.Add(reader.LocalName);
                        var at = string.Join('/', path);
                        if (at == "metalink/files/file")
                        {
                            anyFile = true;
                            fileName = reader.GetAttribute("name");
                            ourFile |= fileName == name;
                        }
                        else if (at == "metalink/files/file/verification/hash")
                        {
                            hashType = reader.GetAttribute("type");
                        }
                        else if (at == "metalink/files/file/resources/url")
                        {
                            urlProtocol = reader.GetAttribute("protocol");
                        }

                        if (reader.IsEmptyElement)
                        {
                            path.RemoveAt(path.Count - 1);
                        }

                        break;
                    case XmlNodeType.Text or XmlNodeType.CDATA when fileName == name:
                        var value = reader.Value.Trim();
                        switch (string.Join('/', path))
                        {
                            case "metalink/files/file/size":
                                size = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
                                break;
                            case "metalink/files/file/verification/hash" when hashType == "sha256":
                                sha256 = value;
                                break;
                            case "metalink/files/file/verification/hash" when hashType == "sha512":
                                sha512 = value;
                                break;
                            case "metalink/files/file/resources/url" when urlProtocol is "http" or "https":
                                urls.Add(value);
                                break;
                        }

                        break;
                    case XmlNodeType.EndElement:
                        path.RemoveAt(path.Count - 1);
                        break;
                }
            }
        }
        catch (XmlException e)
        {
            throw new RemoteFetchException(url, $"Error on line {e.LineNumber} char {e.LinePosition}: {e.Message}");
        }

        string? problem =
            !anyFile ? "No <file> element found"
            : !ourFile ? $"No <file name='{name}'> found"
            : size == 0 ? "No <size> element found or it is zero"
            : sha256 is null && sha512 is null ? "No <verification> element with known <hash type=> found"
            : sha256 is not null && !IsHex(sha256, 64) ? "Invalid hash digest for sha256"
            : sha512 is not null && !IsHex(sha512, 128) ? "Invalid hash digest for sha512"
            : urls.Count == 0 ? "No <url method='http'> elements found"
            : null;
        return problem is null ? new Target(size, sha256, sha512, urls) : throw new RemoteFetchException(url, problem);
    }

    private static bool IsHex(string s, int length) => s.Length == length && s.All(char.IsAsciiHexDigit);
}
