using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace OstreeSharp.Interop.Tests;

/// <summary>How a test registry authenticates.</summary>
internal enum RegistryAuth
{
    None,
    Htpasswd,
    Token,
}

/// <summary>
/// A Docker distribution registry (the Debian docker-registry package) on 127.0.0.1, with filesystem
/// storage in a temp folder; can be killed and started again on the same port and storage.
/// </summary>
internal sealed class RegistryServer : IDisposable
{
    public const string User = "tester";
    public const string Password = "s3cret-pass";

    private readonly string _config;
    private Process? _process;

    private RegistryServer(string dir, int port, string config)
    {
        Dir = dir;
        Port = port;
        _config = config;
    }

    public string Dir { get; }

    public int Port { get; }

    public string Address => "127.0.0.1:" + Port;

    public string Storage => Path.Combine(Dir, "storage");

    public string Log => Path.Combine(Dir, "registry.log");

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>When the registry serves TLS: the CA certificate (PEM) that signed its certificate.</summary>
    public string? CaPem { get; private set; }

    public static RegistryServer Start(RegistryAuth auth, TokenIssuer? issuer = null, int port = 0, bool tls = false)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-registry-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path.Combine(dir, "storage"));
        port = port == 0 ? FreePort() : port;
        var authBlock = string.Empty;
        if (auth == RegistryAuth.Htpasswd)
        {
            var line = Tools.Run("htpasswd", ["-nbB", "-C", "5", User, Password]).Ok("htpasswd");
            File.WriteAllText(Path.Combine(dir, "htpasswd"), line.Trim() + "\n");
            authBlock = $"auth:\n  htpasswd:\n    realm: test-registry\n    path: {dir}/htpasswd\n";
        }
        else if (auth == RegistryAuth.Token)
        {
            ArgumentNullException.ThrowIfNull(issuer);
            File.WriteAllText(Path.Combine(dir, "token.crt"), issuer.CertificatePem);
            authBlock = $"auth:\n  token:\n    realm: {issuer.Realm}\n    service: {TokenIssuer.Service}\n    issuer: {TokenIssuer.Issuer}\n    rootcertbundle: {dir}/token.crt\n";
        }

        string? caPem = null;
        var tlsBlock = string.Empty;
        if (tls)
        {
            using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var caReq = new CertificateRequest("CN=ostree-sharp test CA", caKey, HashAlgorithmName.SHA256);
            caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            using var ca = caReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var req = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
            using var cert = req.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8));
            File.WriteAllText(Path.Combine(dir, "server.crt"), cert.ExportCertificatePem() + "\n");
            File.WriteAllText(Path.Combine(dir, "server.key"), key.ExportPkcs8PrivateKeyPem() + "\n");
            caPem = ca.ExportCertificatePem() + "\n";
            tlsBlock = $"  tls:\n    certificate: {dir}/server.crt\n    key: {dir}/server.key\n";
        }

        var config = Path.Combine(dir, "config.yml");
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: info
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {dir}/storage
              delete:
                enabled: true
              maintenance:
                uploadpurging:
                  enabled: false
            http:
              addr: 127.0.0.1:{port}
              secret: {Convert.ToHexString(RandomNumberGenerator.GetBytes(16))}
            {tlsBlock}{authBlock}
            """);
        var server = new RegistryServer(dir, port, config) { CaPem = caPem };
        server.Launch();
        return server;
    }

    public void Launch()
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec docker-registry serve '{_config}' >> '{Log}' 2>&1");
        _process = Process.Start(psi)!;
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(2) };
        var scheme = CaPem is null ? "http" : "https";
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("docker-registry exited: " + File.ReadAllText(Log));
            }

            try
            {
                var code = (int)http.GetAsync($"{scheme}://{Address}/v2/").GetAwaiter().GetResult().StatusCode;
                if (code is 200 or 401)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            Thread.Sleep(50);
        }

        throw new InvalidOperationException("docker-registry did not answer: " + File.ReadAllText(Log));
    }

    /// <summary>SIGKILL, as a crash would.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit();
        }
    }

    /// <summary>Every stored blob's bytes hash to the digest it is stored under.</summary>
    public List<string> BlobsWithWrongDigest()
    {
        var bad = new List<string>();
        var root = Path.Combine(Storage, "docker/registry/v2/blobs/sha256");
        if (!Directory.Exists(root))
        {
            return bad;
        }

        foreach (var data in Directory.EnumerateFiles(root, "data", SearchOption.AllDirectories))
        {
            var hex = Path.GetFileName(Path.GetDirectoryName(data)!);
            using var f = File.OpenRead(data);
            if (Convert.ToHexStringLower(SHA256.HashData(f)) != hex)
            {
                bad.Add(hex);
            }
        }

        return bad;
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A small token server for the registry's <c>auth: token</c> mode: checks basic credentials and
/// issues ES256 JWTs granting what was asked, signed by a key whose certificate the registry trusts.
/// </summary>
internal sealed class TokenIssuer : IDisposable
{
    public const string Service = "test-registry";
    public const string Issuer = "test-issuer";

    private readonly FakeRegistry _server;
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string _kid;
    private int _requests;

    public TokenIssuer()
    {
        var req = new CertificateRequest("CN=test-token-issuer", _key, HashAlgorithmName.SHA256);
        using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CertificatePem = cert.ExportCertificatePem() + "\n";
        _kid = LibtrustKeyId(_key.ExportSubjectPublicKeyInfo());
        _server = new FakeRegistry(ctx =>
        {
            Handle(ctx);
            return true;
        });
        Realm = $"http://{_server.Address}/token";
    }

    public string Realm { get; }

    public string CertificatePem { get; }

    public int ExpiresIn { get; set; } = 300;

    public int Requests => Volatile.Read(ref _requests);

    public List<string> Scopes { get; } = [];

    /// <summary>libtrust's key id: base32 of the first 240 bits of SHA-256(SPKI DER), in groups of four.</summary>
    private static string LibtrustKeyId(byte[] spki)
    {
        var hash = SHA256.HashData(spki).AsSpan(0, 30);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var sb = new StringBuilder();
        int buffer = 0, bits = 0;
        foreach (var b in hash)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        var s = sb.ToString();
        return string.Join(':', Enumerable.Range(0, s.Length / 4).Select(i => s.Substring(i * 4, 4)));
    }

    private static string B64Url(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private void Handle(HttpListenerContext ctx)
    {
        Interlocked.Increment(ref _requests);
        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(RegistryServer.User + ":" + RegistryServer.Password));
        if (ctx.Request.Headers["Authorization"] != expected)
        {
            ctx.Response.StatusCode = 401;
            ctx.Response.Close();
            return;
        }

        var scopes = ctx.Request.QueryString.GetValues("scope") ?? [];
        lock (Scopes)
        {
            Scopes.AddRange(scopes);
        }

        var access = new List<Dictionary<string, object>>();
        foreach (var scope in scopes.SelectMany(s => s.Split(' ')))
        {
            int first = scope.IndexOf(':', StringComparison.Ordinal), last = scope.LastIndexOf(':');
            if (first < 0 || last <= first)
            {
                continue;
            }

            access.Add(new() { ["type"] = scope[..first], ["name"] = scope[(first + 1)..last], ["actions"] = scope[(last + 1)..].Split(',') });
        }

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["typ"] = "JWT", ["alg"] = "ES256", ["kid"] = _kid });
        var claims = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["iss"] = Issuer,
            ["sub"] = RegistryServer.User,
            ["aud"] = Service,
            ["exp"] = now + ExpiresIn,
            ["nbf"] = now - 10,
            ["iat"] = now,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["access"] = access,
        });
        var signingInput = B64Url(header) + "." + B64Url(claims);
        var sig = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        var jwt = signingInput + "." + B64Url(sig);
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["token"] = jwt, ["expires_in"] = ExpiresIn, ["issued_at"] = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) });
        ctx.Response.ContentType = "application/json";
        ctx.Response.OutputStream.Write(body);
        ctx.Response.Close();
    }

    public void Dispose()
    {
        _server.Dispose();
        _key.Dispose();
    }
}

/// <summary>An HTTP server on 127.0.0.1 whose answers the test writes: registry misbehaviour, the token issuer.</summary>
internal sealed class FakeRegistry : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<HttpListenerContext, bool> _handler;

    public FakeRegistry(Func<HttpListenerContext, bool> handler)
    {
        _handler = handler;
        Port = RegistryServer.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Address => "127.0.0.1:" + Port;

    public List<string> Requests { get; } = [];

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() =>
            {
                lock (Requests)
                {
                    Requests.Add(ctx.Request.HttpMethod + " " + ctx.Request.Url!.PathAndQuery + (ctx.Request.Headers["Range"] is { } r ? " Range:" + r : string.Empty));
                }

                try
                {
                    if (!_handler(ctx))
                    {
                        ctx.Response.StatusCode = ctx.Request.Url!.AbsolutePath == "/v2/" ? 200 : 404;
                        ctx.Response.Close();
                    }
                }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
                {
                }
            });
        }
    }

    public static void Reply(HttpListenerContext ctx, int status, byte[] body, string? contentType = null, long? contentLength = null)
    {
        ctx.Response.StatusCode = status;
        if (contentType is not null)
        {
            ctx.Response.ContentType = contentType;
        }

        ctx.Response.ContentLength64 = contentLength ?? body.Length;
        ctx.Response.OutputStream.Write(body);
        ctx.Response.Close();
    }

    public void Dispose() => _listener.Close();
}
