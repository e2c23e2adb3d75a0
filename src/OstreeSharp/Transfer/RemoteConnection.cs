using System.Net;
using System.Net.Http;

namespace OstreeSharp.Transfer;

/// <summary>
/// How a remote is reached over HTTP, as libostree reads it from the remote's config: its TLS settings and
/// <c>proxy</c>, a proxy URL as curl takes it (<c>host:port</c> is an HTTP proxy; <c>http://</c>, <c>https://</c>,
/// <c>socks4://</c>, <c>socks4a://</c>, <c>socks5://</c> and <c>socks5h://</c> name the kind). Without a
/// <c>proxy</c> key the environment's <c>http_proxy</c>, <c>https_proxy</c> and <c>no_proxy</c> apply as .NET reads
/// them: HTTPS goes through <c>https_proxy</c>, where libostree sends it through <c>http_proxy</c> too.
/// </summary>
internal sealed record RemoteConnection(RemoteTls? Tls, Uri? Proxy)
{
    /// <summary>The settings of <paramref name="remote"/>, or null when it has none of its own.</summary>
    /// <exception cref="OstreeException">A TLS setting is invalid (see <see cref="RemoteTls.FromRemote"/>), or the proxy is not a URL.</exception>
    public static RemoteConnection? FromRemote(string remote, IReadOnlyDictionary<string, string> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var tls = RemoteTls.FromRemote(remote, options);
        var proxy = options.GetValueOrDefault("proxy") is { Length: > 0 } p ? ParseProxy(remote, p) : null;
        return tls is null && proxy is null ? null : new RemoteConnection(tls, proxy);
    }

    /// <summary>A proxy as curl reads <c>CURLOPT_PROXY</c>: the scheme defaults to http, the port to 1080.</summary>
    internal static Uri ParseProxy(string remote, string value)
    {
        var text = value.Contains("://", StringComparison.Ordinal) ? value : "http://" + value;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.HostNameType == UriHostNameType.Unknown || uri.PathAndQuery is not ("/" or ""))
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Invalid proxy URI '{value}' for remote {remote}");
        }

        var scheme = uri.Scheme switch
        {
            "http" or "https" or "socks4" or "socks4a" or "socks5" => uri.Scheme,
            "socks5h" => "socks5", // .NET's SOCKS5 client always lets the proxy resolve the name, as curl's socks5h
            _ => throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Unsupported proxy scheme '{uri.Scheme}' for remote {remote}"),
        };
        var builder = new UriBuilder(uri) { Scheme = scheme, Path = string.Empty, Port = HasExplicitPort(value) ? uri.Port : 1080 }; // curl's default port, whatever the scheme

        return builder.Uri;
    }

    // Whether the text gives a port after the host ("host:80", "http://[::1]:80", "http://user:pw@host:80").
    private static bool HasExplicitPort(string value)
    {
        var rest = value.Contains("://", StringComparison.Ordinal) ? value[(value.IndexOf("://", StringComparison.Ordinal) + 3)..] : value;
        rest = rest.Split('/')[0];
        rest = rest[(rest.LastIndexOf('@') + 1)..];
        int bracket = rest.LastIndexOf(']');
        return rest.IndexOf(':', bracket + 1) >= 0;
    }

    /// <summary>Sets the handler's TLS options and proxy (before its first request).</summary>
    /// <exception cref="OstreeException">A certificate or key file cannot be read.</exception>
    public void Apply(SocketsHttpHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Tls?.Apply(handler);
        if (Proxy is not null)
        {
            var proxy = new WebProxy(Proxy);
            if (Proxy.UserInfo is { Length: > 0 } userInfo)
            {
                int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
                proxy.Credentials = new NetworkCredential(
                    Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]),
                    colon < 0 ? string.Empty : Uri.UnescapeDataString(userInfo[(colon + 1)..]));
            }

            handler.Proxy = proxy;
            handler.UseProxy = true;
        }
    }
}
