using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Operations;
using OstreeSharp.Transfer;

namespace OstreeSharp.Tests;

/// <summary>Metalinks read as libostree reads them, with its words for what is wrong, and no DTD or entity expansion.</summary>
public class MetalinkTests
{
    private static readonly byte[] Summary = Encoding.UTF8.GetBytes("a summary");

    private static string Doc(string hashes, string urls = "<url protocol=\"ftp\">ftp://x/summary</url><url protocol=\"https\">https://a/repo/summary</url>", string size = "9") =>
        $"""
        <?xml version="1.0" encoding="utf-8"?>
        <metalink version="3.0" xmlns="http://www.metalinker.org/">
          <deeply><nested><data>hello</data></nested></deeply>
          <files>
            <file name="other"><size>1</size></file>
            <file name="summary">
              <size>{size}</size>
              <verification>{hashes}</verification>
              <resources maxconnections="1">{urls}</resources>
            </file>
          </files>
        </metalink>
        """;

    private static string Sha256 => $"<hash type=\"md5\">{Convert.ToHexStringLower(MD5.HashData(Summary))}</hash><hash type=\"sha256\">{Convert.ToHexStringLower(SHA256.HashData(Summary))}</hash>";

    [Fact]
    public void The_summary_s_size_hashes_and_http_urls_are_read_in_document_order()
    {
        var t = Metalink.Parse(Encoding.UTF8.GetBytes(Doc(Sha256)), "summary", "http://m/metalink.xml");
        Assert.Equal(9, t.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Summary)), t.Sha256);
        Assert.Null(t.Sha512);
        Assert.Equal(["https://a/repo/summary"], t.Urls);
    }

    [Theory]
    [InlineData("bacon", "Document must begin with an element")]
    [InlineData("<metalink><files></files></metalink>", "No <file> element found")]
    [InlineData("<metalink><files><file name=\"x\"/></files></metalink>", "No <file name='summary'> found")]
    public void Malformed_or_empty_metalinks_are_refused_in_libostree_s_words(string xml, string message)
    {
        var e = Assert.Throws<RemoteFetchException>(() => Metalink.Parse(Encoding.UTF8.GetBytes(xml), "summary", "http://m/metalink.xml"));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Missing_or_bad_hashes_sizes_and_urls_are_named()
    {
        string Error(string doc) => Assert.Throws<RemoteFetchException>(() => Metalink.Parse(Encoding.UTF8.GetBytes(doc), "summary", "u")).Message;
        Assert.Contains("No <verification> element with known <hash type=> found", Error(Doc("<hash type=\"md5\">00</hash>")));
        Assert.Contains("Invalid hash digest for sha512", Error(Doc("<hash type=\"sha512\">bacon</hash>")));
        Assert.Contains("No <size> element found or it is zero", Error(Doc(Sha256, size: "0")));
        Assert.Contains("No <url method='http'> elements found", Error(Doc(Sha256, urls: string.Empty)));
    }

    [Fact]
    public void A_document_type_declaration_is_refused_so_no_entity_is_expanded()
    {
        var xml = "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><metalink>&x;</metalink>";
        var e = Assert.Throws<RemoteFetchException>(() => Metalink.Parse(Encoding.UTF8.GetBytes(xml), "summary", "u"));
        Assert.Contains("DTD", e.Message);
    }
}
