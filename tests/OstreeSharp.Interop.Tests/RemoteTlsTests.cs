using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// A remote's TLS settings (tls-ca-path, tls-client-cert-path and -key-path, tls-permissive) against an HTTPS server
/// that requires a client certificate: the real ostree and ours pull the same commit, and fail the same ways.
/// </summary>
public sealed class RemoteTlsTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private Process? _server;

    public void Dispose()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill();
            _server.WaitForExit();
        }

        _server?.Dispose();
        _tmp.Dispose();
    }

    private static (string Cert, string Key) Issue(X509Certificate2 ca, string subject, bool server, string dir, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            req.CertificateExtensions.Add(san.Build());
        }

        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        using var cert = req.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8));
        var certPath = Path.Combine(dir, name + ".crt");
        var keyPath = Path.Combine(dir, name + ".key");
        File.WriteAllText(certPath, cert.ExportCertificatePem() + "\n");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
        return (certPath, keyPath);
    }

    private static X509Certificate2 Ca(string name, string dir)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var ca = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(30));
        File.WriteAllText(Path.Combine(dir, name + ".pem"), ca.ExportCertificatePem() + "\n");
        return ca;
    }

    // python3's http.server behind TLS that requires a client certificate signed by CLIENTCA.
    private string Serve(string dir, string cert, string key, string clientCa)
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }

        var script = $$"""
            import functools, http.server, ssl
            handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory={{Py(dir)}})
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", {{port}}), handler)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain({{Py(cert)}}, {{Py(key)}})
            ctx.load_verify_locations({{Py(clientCa)}})
            ctx.verify_mode = ssl.CERT_REQUIRED
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
            httpd.serve_forever()
            """;
        var psi = new ProcessStartInfo("python3") { ArgumentList = { "-c", script }, RedirectStandardError = true, RedirectStandardOutput = true };
        _server = Process.Start(psi)!;
        _ = _server.StandardError.ReadToEndAsync();
        _ = _server.StandardOutput.ReadToEndAsync();
        for (int i = 0; i < 100; i++)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }

        return $"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/";

        static string Py(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
    }

    [Fact]
    public void Tls_anchors_and_client_certificates_work_as_in_ostree()
    {
        var pki = _tmp["pki"];
        Directory.CreateDirectory(pki);
        using var serverCa = Ca("server-ca", pki);
        using var clientCa = Ca("client-ca", pki);
        var (serverCert, serverKey) = Issue(serverCa, "CN=127.0.0.1", true, pki, "server");
        var (clientCert, clientKey) = Issue(clientCa, "CN=client", false, pki, "client");

        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        Directory.CreateDirectory(_tmp["tree/usr/share"]);
        File.WriteAllText(_tmp["tree/usr/share/file"], "over TLS\n");
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "main", "--timestamp=2024-01-01", _tmp["tree"]).Ok("commit");
        var url = Serve(src, serverCert, serverKey, Path.Combine(pki, "client-ca.pem"));

        int n = 0;
        RunResult Pull(Func<string[], RunResult> tool, params string[] settings)
        {
            var repo = _tmp[$"r{n++}"];
            tool(["init", "--repo=" + repo, "--mode=archive"]).Ok("init");
            tool(["remote", "add", "--repo=" + repo, "--no-gpg-verify", .. settings.Select(s => "--set=" + s), "origin", url]).Ok("remote add");
            var r = tool(["pull", "--repo=" + repo, "origin", "main"]);
            if (r.ExitCode == 0)
            {
                Assert.Equal(commit, tool(["rev-parse", "--repo=" + repo, "origin:main"]).Ok("rev-parse"));
            }

            return r;
        }

        var ca = "tls-ca-path=" + Path.Combine(pki, "server-ca.pem");
        var cert = "tls-client-cert-path=" + clientCert;
        var key = "tls-client-key-path=" + clientKey;
        var cases = new (string[] Settings, bool Ok)[]
        {
            ([ca, cert, key], true),
            (["tls-permissive=true", cert, key], true),
            ([ca], false), // the server wants a client certificate
            ([cert, key], false), // the system's anchors do not know the test CA
            (["tls-ca-path=" + Path.Combine(pki, "client-ca.pem"), cert, key], false), // the wrong anchor
        };
        foreach (var (settings, ok) in cases)
        {
            var theirs = Pull(a => Tools.Ostree(a), settings);
            var ours = Pull(a => Tools.Ours(a), settings);
            Assert.True(theirs.ExitCode == 0 == ok, $"ostree with {string.Join(' ', settings)}: {theirs.ExitCode} {theirs.Stderr}");
            Assert.True(ours.ExitCode == 0 == ok, $"ours with {string.Join(' ', settings)}: {ours.ExitCode} {ours.Stderr}");
        }

        // Half a client certificate is refused in libostree's words.
        var half = Pull(a => Tools.Ours(a), ca, cert);
        Assert.NotEqual(0, half.ExitCode);
        var theirsHalf = Pull(a => Tools.Ostree(a), ca, cert);
        Assert.Contains("Remote \"origin\" must specify both \"tls-client-cert-path\" and \"tls-client-key-path\"", theirsHalf.Stderr, StringComparison.Ordinal);
        Assert.Contains("Remote \"origin\" must specify both \"tls-client-cert-path\" and \"tls-client-key-path\"", half.Stderr, StringComparison.Ordinal);
    }
}
