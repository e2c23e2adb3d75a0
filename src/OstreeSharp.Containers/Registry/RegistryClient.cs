using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Internal;
using Polly;

namespace OstreeSharp.Containers.Registry;

/// <summary>
/// A client of one registry (the OCI distribution API): ping, anonymous/basic/bearer auth with token
/// caching, manifests, blobs (resumable downloads; monolithic or chunked uploads that resume from
/// where the registry got to), cross-repository mounts, tags and deletes. Requests without a body, or
/// with one held in memory, are retried on 429, 5xx and dropped connections; streamed bodies are
/// re-opened from their source for every attempt, never sent twice.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly ResiliencePipeline<HttpResponseMessage> _retry;
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset Expires)> _tokens = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _pingLock = new(1, 1);
    private readonly string _credentialPath;
    private Uri? _base;
    private volatile AuthChallenge? _challenge;
    private RegistryCredential? _credentials;
    private bool _credentialsLoaded;

    /// <summary>Creates a client for the registry that serves <paramref name="reference"/>.</summary>
    public RegistryClient(DockerReference reference, RegistryOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        _options = options ?? new RegistryOptions();
        Host = reference.RegistryHost;
        Domain = reference.Domain;
        _credentialPath = reference.Path;
        _http = RegistryHttp.CreateClient(Host, _options);
        _retry = RegistryHttp.CreatePipeline(_options);
    }

    /// <summary>host[:port] the requests go to.</summary>
    public string Host { get; }

    /// <summary>The registry's name in references (docker.io for Docker Hub).</summary>
    public string Domain { get; }

    /// <summary>The options.</summary>
    public RegistryOptions Options => _options;

    private RegistryCredential? Credentials
    {
        get
        {
            if (!_credentialsLoaded)
            {
                _credentials = _options.ResolveCredentials(Domain, _credentialPath);
                _credentialsLoaded = true;
            }

            return _credentials;
        }
    }

    /// <summary>The scope string for <paramref name="repository"/> and actions like "pull" or "pull,push".</summary>
    public static string Scope(string repository, string actions) => "repository:" + repository + ":" + actions;

    /// <summary>Checks the registry answers /v2/ and learns its auth scheme; picks https, or http when TLS verification is off and https fails.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        if (_base is not null)
        {
            return;
        }

        await _pingLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_base is not null)
            {
                return;
            }

            // Without TLS verification plain HTTP is allowed too; like Docker, loopback registries are tried over HTTP first.
            var schemes = _options.TlsVerify ? new[] { "https" } : IsLoopback(Host) ? ["http", "https"] : ["https", "http"];
            Exception? last = null;
            var tried = new List<string>();
            foreach (var scheme in schemes)
            {
                var baseUri = new Uri(scheme + "://" + Host + "/");
                var url = new Uri(baseUri, "v2/");
                HttpResponseMessage resp;
                bool mayFallBack = scheme == schemes[0] && schemes.Length > 1;
                try
                {
                    // The probe of the first of two schemes is sent once: retrying would only delay the fallback.
                    resp = mayFallBack
                        ? await _http.SendAsync(new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false)
                        : await _retry.ExecuteAsync(
                            async t => await _http.SendAsync(new HttpRequestMessage(HttpMethod.Get, url), HttpCompletionOption.ResponseHeadersRead, t).ConfigureAwait(false),
                            cancellationToken).ConfigureAwait(false);
                }
                catch (HttpRequestException e) when (mayFallBack)
                {
                    last = e;
                    tried.Add($"{url}: {e.Message}");
                    continue;
                }
                catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    throw new RegistryException($"Cannot reach registry {Host}: {string.Join("; ", tried.Append($"{url}: {e.Message}"))}", e, transient: true);
                }

                using (resp)
                {
                    if (resp.StatusCode == HttpStatusCode.Unauthorized)
                    {
                        _challenge = PickChallenge(resp, url.ToString());
                    }
                    else if (!resp.IsSuccessStatusCode && mayFallBack)
                    {
                        // e.g. 400 "Client sent an HTTP request to an HTTPS server"
                        last = new HttpRequestException($"{url} answered {(int)resp.StatusCode}");
                        tried.Add(last.Message);
                        continue;
                    }
                    else if (!resp.IsSuccessStatusCode)
                    {
                        throw await ErrorAsync(resp, "GET", url, "ping").ConfigureAwait(false);
                    }
                }

                _base = baseUri;
                return;
            }

            throw new RegistryException($"Cannot reach registry {Host}: {string.Join("; ", tried)}", last!, transient: true);
        }
        finally
        {
            _pingLock.Release();
        }
    }

    private static bool IsLoopback(string host)
    {
        var h = host.StartsWith('[') ? host[1..host.IndexOf(']', StringComparison.Ordinal)] : host.Split(':')[0];
        return h == "localhost" || (System.Net.IPAddress.TryParse(h, out var ip) && System.Net.IPAddress.IsLoopback(ip));
    }

    private static AuthChallenge? PickChallenge(HttpResponseMessage resp, string url)
    {
        var headers = resp.Headers.TryGetValues("WWW-Authenticate", out var values) ? values.ToList() : [];
        if (headers.Count == 0)
        {
            throw new RegistryAuthException($"{url}: 401 Unauthorized without a WWW-Authenticate header");
        }

        var all = headers.SelectMany(h => AuthChallenge.Parse(h, url)).ToList();
        return all.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            ?? all.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            ?? throw new RegistryAuthException($"{url}: unsupported auth scheme {all[0].Scheme}");
    }

    /// <summary>
    /// Sends a request (built afresh for each attempt, with <paramref name="configure"/> adding headers and body), authorised for
    /// <paramref name="scope"/>; answers 401 by authenticating and trying once more. With
    /// <paramref name="replayable"/> false the request is sent exactly once.
    /// </summary>
    internal async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, string scope, Action<HttpRequestMessage>? configure, bool replayable, CancellationToken ct)
    {
        await PingAsync(ct).ConfigureAwait(false);
        async ValueTask<HttpResponseMessage> Attempt(CancellationToken t)
        {
            var resp = await SendOnceAsync(method, url, scope, configure, t).ConfigureAwait(false);
            if (resp.StatusCode != HttpStatusCode.Unauthorized)
            {
                return resp;
            }

            var challenge = PickChallenge(resp, url.ToString());
            resp.Dispose();
            var hadToken = _challenge is not null;
            _challenge = challenge;
            await PrepareAuthAsync(scope, url, forceRefresh: true, t).ConfigureAwait(false);
            if (!replayable)
            {
                // The streamed body is gone; the token has just been renewed, so the caller may resume (uploads
                // ask the registry how far they got).
                throw new RegistryException($"{method} {url}: 401 Unauthorized{(hadToken ? " (token expired or rejected)" : string.Empty)}", 401, transient: true);
            }

            resp = await SendOnceAsync(method, url, scope, configure, t).ConfigureAwait(false);
            if (resp.StatusCode == HttpStatusCode.Unauthorized)
            {
                resp.Dispose();
                throw new RegistryAuthException(Credentials is null
                    ? $"{method} {url}: 401 Unauthorized: authentication required and no credentials were found for {Domain}"
                    : $"{method} {url}: 401 Unauthorized: the credentials of {Credentials.Username} for {Domain} were rejected");
            }

            return resp;
        }

        try
        {
            return replayable
                ? await _retry.ExecuteAsync(Attempt, ct).ConfigureAwait(false)
                : await Attempt(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            if (FindContainerException(e) is { } inner)
            {
                throw inner;
            }

            throw new RegistryException($"{method} {url}: {e.Message}", e, transient: true);
        }
    }

    internal static ContainerException? FindContainerException(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is ContainerException c)
            {
                return c;
            }
        }

        return null;
    }

    private async Task<HttpResponseMessage> SendOnceAsync(HttpMethod method, Uri url, string scope, Action<HttpRequestMessage>? configure, CancellationToken ct)
    {
        var req = new HttpRequestMessage(method, url);
        configure?.Invoke(req);
        if (_challenge is not null)
        {
            req.Headers.Authorization = await AuthorizationAsync(scope, url, ct).ConfigureAwait(false);
        }

        return await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
    }

    private async Task<AuthenticationHeaderValue?> AuthorizationAsync(string scope, Uri url, CancellationToken ct)
    {
        var ch = _challenge;
        if (ch is null)
        {
            return null;
        }

        if (ch.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            return Credentials is { } c ? BasicHeader(c) : null;
        }

        var token = await GetTokenAsync(ch, scope, url, forceRefresh: false, ct).ConfigureAwait(false);
        return new AuthenticationHeaderValue("Bearer", token);
    }

    private async Task PrepareAuthAsync(string scope, Uri url, bool forceRefresh, CancellationToken ct)
    {
        var ch = _challenge!;
        if (ch.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (Credentials is null)
            {
                throw new RegistryAuthException($"{url}: 401 Unauthorized: authentication required and no credentials were found for {Domain}");
            }

            return;
        }

        await GetTokenAsync(ch, scope, url, forceRefresh, ct).ConfigureAwait(false);
    }

    private static AuthenticationHeaderValue BasicHeader(RegistryCredential c) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(c.Username + ":" + c.Password)));

    private async Task<string> GetTokenAsync(AuthChallenge ch, string scope, Uri url, bool forceRefresh, CancellationToken ct)
    {
        var realm = ch["realm"]!;
        var service = ch["service"];
        var key = realm + "|" + service + "|" + scope;
        if (!forceRefresh && _tokens.TryGetValue(key, out var cached) && cached.Expires > DateTimeOffset.UtcNow.AddSeconds(10))
        {
            return cached.Token;
        }

        var creds = Credentials;
        var query = new StringBuilder();
        void Add(string k, string v) => query.Append(query.Length == 0 ? '?' : '&').Append(k).Append('=').Append(Uri.EscapeDataString(v));
        if (service is not null)
        {
            Add("service", service);
        }

        foreach (var s in scope.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            Add("scope", s);
        }

        HttpResponseMessage resp;
        var tokenUrl = new Uri(realm + query);
        try
        {
            resp = await _retry.ExecuteAsync(
                async t =>
                {
                    HttpRequestMessage req;
                    if (creds?.IdentityToken is { } refresh)
                    {
                        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refresh, ["client_id"] = "ostree-sharp", ["scope"] = scope };
                        if (service is not null)
                        {
                            form["service"] = service;
                        }

                        req = new HttpRequestMessage(HttpMethod.Post, new Uri(realm)) { Content = new FormUrlEncodedContent(form) };
                    }
                    else
                    {
                        req = new HttpRequestMessage(HttpMethod.Get, tokenUrl);
                        if (creds is not null)
                        {
                            req.Headers.Authorization = BasicHeader(creds);
                        }
                    }

                    // The headers only: the body is read bounded below. A refresh-token POST gets the read timeout
                    // here, as the GETs get it from the handler.
                    using var answer = CancellationTokenSource.CreateLinkedTokenSource(t);
                    if (req.Method == HttpMethod.Post && Options.ReadTimeout > TimeSpan.Zero)
                    {
                        answer.CancelAfter(Options.ReadTimeout);
                    }

                    return await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, answer.Token).ConfigureAwait(false);
                },
                ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            throw new RegistryException($"Cannot reach the token server {realm} for {url}: {e.Message}", e, transient: true);
        }

        using (resp)
        {
            if (resp.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new RegistryAuthException(creds is null
                    ? $"Token server {realm} refused anonymous access for {scope} ({(int)resp.StatusCode}); credentials are needed for {Domain}"
                    : $"Token server {realm} rejected the credentials of {creds.Username} for {scope} ({(int)resp.StatusCode})");
            }

            if (!resp.IsSuccessStatusCode)
            {
                throw await ErrorAsync(resp, "GET", tokenUrl, "token").ConfigureAwait(false);
            }

            var body = await ReadBoundedAsync(resp, MaxTokenAnswer, "token", tokenUrl, ct, () => new RegistryAuthException($"Token server {realm} answered with more than {MaxTokenAnswer} bytes")).ConfigureAwait(false);
            string? token;
            int expiresIn = 60;
            DateTimeOffset issued = DateTimeOffset.UtcNow;
            try
            {
                using var doc = JsonDocument.Parse(body);
                var root = doc.RootElement;
                token = root.TryGetProperty("token", out var tk) ? tk.GetString() : null;
                if (string.IsNullOrEmpty(token) && root.TryGetProperty("access_token", out var at))
                {
                    token = at.GetString();
                }

                if (root.TryGetProperty("expires_in", out var ei) && ei.TryGetInt32(out var n) && n > 0)
                {
                    expiresIn = n;
                }

                if (root.TryGetProperty("issued_at", out var ia) && ia.GetString() is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var when) && when < DateTimeOffset.UtcNow)
                {
                    issued = when;
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                // InvalidOperationException: JSON of another shape (an array, a number where the token should be).
                throw new RegistryAuthException($"Token server {realm} answered with malformed JSON: {e.Message}");
            }

            if (string.IsNullOrEmpty(token))
            {
                throw new RegistryAuthException($"Token server {realm} answered without a token");
            }

            _tokens[key] = (token, issued.AddSeconds(expiresIn));
            return token;
        }
    }

    /// <summary>The largest answer a token server may give (a JSON document with a token or two).</summary>
    internal const int MaxTokenAnswer = 1 << 20;

    /// <summary>The most of an error answer's body that is read to find the registry's error list.</summary>
    internal const int MaxErrorBody = 65536;

    /// <summary>Builds the typed error for a failed response: method, URL, status and the registry's error list.</summary>
    internal static async Task<RegistryException> ErrorAsync(HttpResponseMessage resp, string method, Uri url, string what)
    {
        _ = what;
        var errors = ParseErrors(await ReadErrorBodyAsync(resp, url).ConfigureAwait(false));
        string detail = string.Join("; ", errors.Select(e => e.Code + ": " + e.Message));
        int status = (int)resp.StatusCode;
        var msg = $"{method} {url}: {status} {resp.ReasonPhrase}{(detail.Length > 0 ? " (" + detail + ")" : string.Empty)}";
        return resp.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
            ? new RegistryAuthException(msg, status, errors)
            : new RegistryException(msg, status, errors, RegistryHttp.IsTransient(resp.StatusCode));
    }

    /// <summary>
    /// The <c>errors</c> list of an error body (OCI distribution spec, "Error Codes"): each entry's code and message,
    /// and its detail as compact JSON. A body that is not that JSON, or an entry without a string code, gives nothing.
    /// </summary>
    internal static IReadOnlyList<RegistryError> ParseErrors(ReadOnlySpan<byte> body)
    {
        var list = new List<RegistryError>();
        if (body.IsEmpty)
        {
            return list;
        }

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 16 });
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("errors", out var errs) || errs.ValueKind != JsonValueKind.Array)
            {
                return list;
            }

            foreach (var e in errs.EnumerateArray())
            {
                if (list.Count == 16)
                {
                    break;
                }

                if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String)
                {
                    string message = e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : string.Empty;
                    string? detail = e.TryGetProperty("detail", out var d) && d.ValueKind != JsonValueKind.Null ? d.GetRawText() : null;
                    list.Add(new RegistryError(c.GetString()!, MessageText.OneLine(message), detail));
                }
            }
        }
        catch (JsonException)
        {
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-8 is refused only when it is read.
        }

        return list;
    }

    // At most MaxErrorBody bytes within ErrorBodyTimeout: a hostile registry's endless or trickling error answer is
    // not waited for; the error is then reported without the registry's list.
    private static async Task<byte[]> ReadErrorBodyAsync(HttpResponseMessage resp, Uri url)
    {
        using var cts = new CancellationTokenSource(ErrorBodyTimeout);
        try
        {
            return await ReadBoundedAsync(resp, MaxErrorBody, "error answer", url, cts.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ManifestException or HttpRequestException or IOException or OperationCanceledException)
        {
            return [];
        }
    }

    private static readonly TimeSpan ErrorBodyTimeout = TimeSpan.FromSeconds(30);

    private Uri Url(string pathAndQuery) => new(_base!, pathAndQuery);

    /// <inheritdoc/>
    public void Dispose()
    {
        _http.Dispose();
        _pingLock.Dispose();
    }
}
