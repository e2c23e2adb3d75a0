using System.Net.Http;
using OstreeSharp.Transfer;
using Xunit;

namespace OstreeSharp.Tests;

public class RemoteConnectionTests
{
    [Theory]
    [InlineData("127.0.0.1:3128", "http://127.0.0.1:3128/")]
    [InlineData("proxy.example", "http://proxy.example:1080/")] // curl's default port, whatever the scheme
    [InlineData("http://proxy.example", "http://proxy.example:1080/")]
    [InlineData("http://proxy.example:80", "http://proxy.example/")]
    [InlineData("https://proxy.example:8443", "https://proxy.example:8443/")]
    [InlineData("socks5h://127.0.0.1:9050", "socks5://127.0.0.1:9050/")]
    [InlineData("socks4a://[::1]:1081", "socks4a://[::1]:1081/")]
    [InlineData("http://user:p%40ss@proxy.example:8080", "http://user:p%40ss@proxy.example:8080/")]
    public void Proxies_are_read_as_curl_reads_them(string value, string expected)
    {
        Assert.Equal(expected, RemoteConnection.ParseProxy("origin", value).AbsoluteUri);
    }

    [Theory]
    [InlineData("http://[::1", "Invalid proxy URI 'http://[::1' for remote origin")]
    [InlineData("http://proxy.example/some/path", "Invalid proxy URI 'http://proxy.example/some/path' for remote origin")]
    [InlineData("ftp://proxy.example:21", "Unsupported proxy scheme 'ftp' for remote origin")]
    public void A_bad_proxy_is_refused_naming_it(string value, string message)
    {
        var e = Assert.Throws<OstreeException>(() => RemoteConnection.FromRemote("origin", new Dictionary<string, string> { ["proxy"] = value }));
        Assert.Equal(OstreeErrorCode.RemoteConfigInvalid, e.ErrorCode);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void The_proxy_and_its_credentials_reach_the_handler()
    {
        var connection = RemoteConnection.FromRemote("origin", new Dictionary<string, string> { ["proxy"] = "http://user:p%40ss@proxy.example:8080" })!;
        using var handler = new SocketsHttpHandler();
        connection.Apply(handler);
        Assert.True(handler.UseProxy);
        var target = new Uri("http://repo.example/config");
        Assert.Equal(new Uri("http://user:p%40ss@proxy.example:8080/"), handler.Proxy!.GetProxy(target));
        var credential = handler.Proxy.Credentials!.GetCredential(target, "Basic")!;
        Assert.Equal(("user", "p@ss"), (credential.UserName, credential.Password));
    }

    [Fact]
    public void No_settings_no_connection()
    {
        Assert.Null(RemoteConnection.FromRemote("origin", new Dictionary<string, string> { ["url"] = "http://repo.example/", ["proxy"] = string.Empty }));
    }
}
