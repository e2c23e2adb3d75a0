// Fetching files of a remote repository over HTTP(S) (keep-alive, a bounded number of connections,
// retries with backoff on network errors and 5xx answers) or from a file:// URL.
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using OstreeSharp.Operations;

namespace OstreeSharp.Transfer;

/// <summary>
/// A remote file could not be fetched, or what came was not what it should be; the message names the URL. The code is
/// <see cref="OstreeErrorCode.FetchFailed"/>, or the inner <see cref="OstreeException"/>'s when the content was at fault.
/// </summary>
public sealed class RemoteFetchException : OstreeException
{
    /// <summary>Creates the exception.</summary>
    public RemoteFetchException(string url, string message, Exception? inner = null)
        : base(inner is OstreeException known ? known.ErrorCode : OstreeErrorCode.FetchFailed, $"GET {url}: {message}", inner ?? new IOException(message))
    {
        Url = url;
    }

    /// <summary>The URL that failed.</summary>
    public string Url { get; }
}

/// <summary>Reads files under a remote repository's URL.</summary>
internal sealed class RemoteFetcher : IDisposable
{
    /// <summary>
    /// The libostree release whose command line and protocol we follow: <c>ostree --version</c> reports it, and
    /// requests say <c>User-Agent: libostree/VERSION</c> as libostree's do, so servers see a drop-in.
    /// </summary>
    public const string LibostreeVersion = "2026.4";

    private readonly string _base;
    private readonly string[] _mirrors;
    private readonly bool _isFile;
    private readonly HttpClient? _http;
    private readonly SocketsHttpHandler? _handler;
    private readonly int _retries;
    private readonly long _lowSpeedLimit;
    private readonly int _lowSpeedTime;
    private readonly AdaptiveLimiter _limiter;
    private long _bytes;
    private int _retried;

    /// <summary>
    /// Creates a fetcher for <paramref name="baseUrl"/> (http://, https:// or file://) with at most
    /// <paramref name="maxConnections"/> requests in flight; fewer while the server drops connections. A request
    /// slower than <paramref name="lowSpeedLimit"/> bytes a second over <paramref name="lowSpeedTime"/> seconds is
    /// aborted and retried (ostree's defaults: 1000 and 30).
    /// </summary>
    public RemoteFetcher(string baseUrl, int maxConnections = 8, int retries = 5, long lowSpeedLimit = 1000, int lowSpeedTime = 30, RemoteConnection? connection = null)
        : this([baseUrl ?? throw new ArgumentNullException(nameof(baseUrl))], maxConnections, retries, lowSpeedLimit, lowSpeedTime, connection)
    {
    }

    /// <summary>
    /// A fetcher over mirrors of one repository, as libostree's mirrored requests: each file is asked of the first
    /// mirror, then of the next when that one does not have it or fails; messages name the first mirror's URL.
    /// </summary>
    public RemoteFetcher(IReadOnlyList<string> mirrors, int maxConnections = 8, int retries = 5, long lowSpeedLimit = 1000, int lowSpeedTime = 30, RemoteConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(mirrors);
        if (mirrors.Count == 0)
        {
            throw new ArgumentException("no mirrors", nameof(mirrors));
        }

        _mirrors = [.. mirrors.Select(m => m.TrimEnd('/') + "/")];
        _base = _mirrors[0];
        var baseUrl = mirrors[0];
        _retries = Math.Max(0, retries);
        _lowSpeedLimit = lowSpeedLimit;
        _lowSpeedTime = lowSpeedTime;
        _limiter = new AdaptiveLimiter(Math.Max(1, maxConnections));
        if (_base.StartsWith("file://", StringComparison.Ordinal))
        {
            _isFile = true;
        }
        else if (_base.StartsWith("http://", StringComparison.Ordinal) || _base.StartsWith("https://", StringComparison.Ordinal))
        {
            _handler = new SocketsHttpHandler
            {
                MaxConnectionsPerServer = Math.Max(1, maxConnections),
                AutomaticDecompression = DecompressionMethods.None,
                ConnectTimeout = TimeSpan.FromSeconds(30),
                PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
                ConnectCallback = ConnectAsync,
            };
            connection?.Apply(_handler);
            _http = new HttpClient(_handler) { Timeout = Timeout.InfiniteTimeSpan };
            _http.DefaultRequestHeaders.UserAgent.ParseAdd("libostree/" + LibostreeVersion);

            // user:password@host in the URL is basic authentication, as curl and libsoup read it.
            if (new Uri(_base).UserInfo is { Length: > 0 } userInfo)
            {
                _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
                    "Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Uri.UnescapeDataString(userInfo))));
            }
        }
        else
        {
            // libostree's words; only file://, http:// and https:// are fetched.
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Invalid URI scheme in {baseUrl}");
        }
    }

    /// <summary>Whether the remote is a folder on this machine (a <c>file://</c> URL).</summary>
    public bool IsLocal => _isFile;

    /// <summary>Why a request found nothing, in libostree's words: the HTTP status (a 404), or a missing file.</summary>
    public string NotFoundReason => _isFile ? "No such file or directory" : "Server returned HTTP 404";

    /// <summary>
    /// Adds <paramref name="headers"/> to every HTTP request and <paramref name="userAgent"/> (products such as
    /// <c>app/1.0</c>) after libostree's in User-Agent: <c>pull --http-header</c> and <c>--append-user-agent</c>.
    /// </summary>
    public void AddHeaders(IEnumerable<(string Name, string Value)> headers, string? userAgent)
    {
        ArgumentNullException.ThrowIfNull(headers);
        if (_http is null)
        {
            return;
        }

        foreach (var (name, value) in headers)
        {
            if (!_http.DefaultRequestHeaders.TryAddWithoutValidation(name, value))
            {
                throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Invalid HTTP header {name}={value}");
            }
        }

        if (userAgent is not null && !_http.DefaultRequestHeaders.UserAgent.TryParseAdd(userAgent))
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Invalid User-Agent product '{userAgent}'");
        }
    }

    /// <summary>
    /// Sends the cookies of a remote's cookie jar (<c>REMOTE.cookies.txt</c>, the Netscape format <c>remote
    /// add-cookie</c> writes) with every HTTP request they match, as libostree's fetcher does; none when the file does
    /// not exist. Call before the first request.
    /// </summary>
    public void AddCookies(string jarFile)
    {
        ArgumentNullException.ThrowIfNull(jarFile);
        if (_handler is null || !File.Exists(jarFile))
        {
            return;
        }

        foreach (var c in CookieJar.Read(jarFile))
        {
            if (c.Expires > DateTimeOffset.UtcNow)
            {
                _handler.CookieContainer.Add(new Cookie(c.Name, c.Value, c.Path, c.Domain) { Secure = c.Secure, Expires = c.Expires.UtcDateTime });
            }
        }
    }

    /// <summary>Opens a TCP connection; one that took longer than the first SYN retransmission tells the limiter the server is overloaded.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        long started = Environment.TickCount64;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        if (Environment.TickCount64 - started >= 900)
        {
            _limiter.Congested();
        }

        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>Bytes received so far.</summary>
    public long BytesFetched => Interlocked.Read(ref _bytes);

    /// <summary>Requests retried after a network error or a 5xx answer.</summary>
    public int Retries => Volatile.Read(ref _retried);

    /// <summary>The full URL of a path under the remote.</summary>
    public string UrlOf(string path) => _base + path;

    /// <summary>Fetches a whole file of at most <paramref name="maxSize"/> bytes; null when the remote has no such file.</summary>
    public Task<byte[]?> GetBytesAsync(string path, long maxSize, CancellationToken cancellationToken = default, bool priority = false) =>
        GetAsync<byte[]?>(path, async (s, length, ct) =>
        {
            if (length > maxSize)
            {
                throw new RemoteFetchException(UrlOf(path), $"exceeded maximum size of {maxSize} bytes ({length} bytes offered)");
            }

            using var ms = new MemoryStream(length is > 0 and <= int.MaxValue ? (int)length : 4096);
            var buf = System.Buffers.ArrayPool<byte>.Shared.Rent(16 << 10);
            try
            {
                int n;
                while ((n = await s.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
                {
                    if (ms.Length + n > maxSize)
                    {
                        throw new RemoteFetchException(UrlOf(path), $"exceeded maximum size of {maxSize} bytes");
                    }

                    ms.Write(buf, 0, n);
                }
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buf);
            }

            return ms.Length == ms.Capacity ? ms.GetBuffer() : ms.ToArray();
        }, null, cancellationToken, priority);

    /// <summary>
    /// Fetches a file and hands its body (and its length, -1 when unknown) to <paramref name="consume"/>.
    /// On a network error the request is retried and <paramref name="consume"/> runs again on a new body,
    /// so it must not keep anything from a failed attempt. Returns <paramref name="missing"/> on a 404.
    /// A <paramref name="priority"/> request (metadata, which finds more work) goes before waiting others.
    /// </summary>
    public async Task<T> GetAsync<T>(string path, Func<Stream, long, CancellationToken, Task<T>> consume, T missing, CancellationToken cancellationToken = default, bool priority = false)
    {
        ArgumentNullException.ThrowIfNull(consume);
        RemoteFetchException? failed = null;
        foreach (var mirror in _mirrors)
        {
            try
            {
                var result = await GetFromAsync(mirror + path, consume, missing, cancellationToken, priority).ConfigureAwait(false);
                if (_mirrors.Length == 1 || !EqualityComparer<T>.Default.Equals(result, missing))
                {
                    return result;
                }
            }
            catch (RemoteFetchException e) when (_mirrors.Length > 1)
            {
                failed = e; // on to the next mirror
            }
        }

        return failed is null ? missing : throw failed;
    }

    private async Task<T> GetFromAsync<T>(string url, Func<Stream, long, CancellationToken, Task<T>> consume, T missing, CancellationToken cancellationToken, bool priority)
    {
        if (_isFile)
        {
            var file = new Uri(url).LocalPath;
            if (!File.Exists(file))
            {
                return missing;
            }

            await _limiter.AcquireAsync(priority, cancellationToken).ConfigureAwait(false);
            try
            {
                await using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
                return await consume(new CountingReadStream(fs, this, null), fs.Length, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _limiter.Release(failed: false);
            }
        }

        for (int attempt = 0; ; attempt++)
        {
            await _limiter.AcquireAsync(priority, cancellationToken).ConfigureAwait(false);
            Exception? transient = null;
            using var guard = new LowSpeedGuard(_lowSpeedLimit, _lowSpeedTime, cancellationToken);
            try
            {
                using var resp = await _http!.GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, guard.Token).ConfigureAwait(false);
                if (resp.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
                {
                    return missing;
                }

                if ((int)resp.StatusCode >= 500)
                {
                    throw new HttpRequestException($"{(int)resp.StatusCode} {resp.ReasonPhrase}", null, resp.StatusCode);
                }

                if (!resp.IsSuccessStatusCode)
                {
                    throw new RemoteFetchException(url, $"{(int)resp.StatusCode} {resp.ReasonPhrase}");
                }

                await using var body = await resp.Content.ReadAsStreamAsync(guard.Token).ConfigureAwait(false);
                return await consume(new CountingReadStream(body, this, guard), resp.Content.Headers.ContentLength ?? -1, guard.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransient(e, cancellationToken))
            {
                transient = guard.Tripped ? new TimeoutException(guard.Reason, e) : e;
            }
            finally
            {
                _limiter.Release(failed: transient is not null);
            }

            if (attempt >= _retries)
            {
                // A body cut short is named in curl's words, which libostree passes on (scripts grep them).
                var message = transient is System.Net.Http.HttpIOException { HttpRequestError: System.Net.Http.HttpRequestError.ResponseEnded }
                    ? $"Transferred a partial file ({transient.Message})"
                    : transient.Message;
                throw new RemoteFetchException(url, message, transient);
            }

            Interlocked.Increment(ref _retried);

            // The first retry goes at once (a busy static server may drop a connection it accepted);
            // later ones back off: 100 ms, 200 ms, ... up to 2 s.
            if (attempt > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 50 << attempt)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static bool IsTransient(Exception e, CancellationToken ct) => e switch
    {
        HttpRequestException => true,
        IOException => true,
        OperationCanceledException => !ct.IsCancellationRequested, // a timeout, not our cancellation
        _ => false,
    };

    /// <summary>
    /// The mirrors a <c>mirrorlist=URL</c> names, as libostree reads one: a URL a line (empty lines and '#' comments
    /// passed over, only http:// and https://), the first that serves <c>config</c> first and the ones before it
    /// dropped.
    /// </summary>
    /// <exception cref="RemoteFetchException">The list cannot be fetched, or no mirror in it answers.</exception>
    public static async Task<IReadOnlyList<string>> FetchMirrorListAsync(string mirrorlistUrl, int retries, CancellationToken cancellationToken, RemoteConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(mirrorlistUrl);
        var slash = mirrorlistUrl.LastIndexOf('/');
        byte[]? bytes;
        using (var list = new RemoteFetcher(mirrorlistUrl[..(slash + 1)], 1, retries, connection: connection))
        {
            try
            {
                bytes = await list.GetBytesAsync(mirrorlistUrl[(slash + 1)..], 1 << 20, cancellationToken).ConfigureAwait(false);
            }
            catch (RemoteFetchException e)
            {
                throw new RemoteFetchException(mirrorlistUrl, $"While fetching mirrorlist '{mirrorlistUrl}': {e.Message}", e);
            }

            if (bytes is null)
            {
                throw new RemoteFetchException(mirrorlistUrl, $"While fetching mirrorlist '{mirrorlistUrl}': {list.NotFoundReason}");
            }
        }

        var mirrors = new List<string>();
        foreach (var line in System.Text.Encoding.UTF8.GetString(bytes).Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#' || !Uri.TryCreate(line, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                continue;
            }

            if (mirrors.Count == 0)
            {
                using var probe = new RemoteFetcher(line, 1, retries, connection: connection);
                try
                {
                    if (await probe.GetBytesAsync("config", 1 << 20, cancellationToken).ConfigureAwait(false) is null)
                    {
                        continue;
                    }
                }
                catch (RemoteFetchException)
                {
                    continue;
                }
            }

            mirrors.Add(line);
        }

        return mirrors.Count > 0 ? mirrors : throw new RemoteFetchException(mirrorlistUrl, $"No valid mirrors were found in mirrorlist '{mirrorlistUrl}'");
    }

    /// <summary>
    /// Where a remote URL leads, as libostree reads one: <c>mirrorlist=URL</c> to the mirrors it lists,
    /// <c>metalink=URL</c> to the folder of the summary it describes (and that summary), any other URL to itself.
    /// </summary>
    public static async Task<(IReadOnlyList<string> Mirrors, byte[]? Summary)> ResolveRemoteUrlAsync(string url, int retries, CancellationToken cancellationToken, RemoteConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (url.StartsWith("mirrorlist=", StringComparison.Ordinal))
        {
            return (await FetchMirrorListAsync(url["mirrorlist=".Length..], retries, cancellationToken, connection).ConfigureAwait(false), null);
        }

        if (url.StartsWith("metalink=", StringComparison.Ordinal))
        {
            var (summary, repositoryUrl) = await Metalink.FetchSummaryAsync(url["metalink=".Length..], retries, cancellationToken, connection).ConfigureAwait(false);
            return ([repositoryUrl], summary);
        }

        return ([url], null);
    }

    /// <inheritdoc/>
    public void Dispose() => _http?.Dispose();

    private sealed class CountingReadStream(Stream inner, RemoteFetcher owner, LowSpeedGuard? guard) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int n)
        {
            Interlocked.Add(ref owner._bytes, n);
            guard?.Received(n);
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>
    /// Requests in flight: the limit starts at 2 and grows by one after each run of successes, up to
    /// the maximum; a request failing on the network or a connection slow to open (a dropped SYN:
    /// the server's accept queue overflowed) halves it (not below two) and caps it there for the
    /// rest of the pull.
    /// Small static servers (one connection per request, a short accept queue) then get the few
    /// requests at a time they can take, while ones that keep connections alive get the maximum.
    /// Priority waiters go first.
    /// </summary>
    private sealed class AdaptiveLimiter(int max)
    {
        private readonly Lock _lock = new();
        private readonly LinkedList<TaskCompletionSource> _high = new(), _low = new();
        private readonly int _max = max;
        private int _ceiling = max, _limit = Math.Min(2, max), _inFlight, _successes;

        // Two in flight at least (unless the maximum is one): one request is served while the next
        // connection waits in the accept queue; one at a time would leave the server idle between them.
        private int Floor => Math.Min(2, _max);

        public async ValueTask AcquireAsync(bool priority, CancellationToken ct)
        {
            LinkedListNode<TaskCompletionSource> node;
            lock (_lock)
            {
                if (_inFlight < _limit && _high.Count == 0 && (priority || _low.Count == 0))
                {
                    _inFlight++;
                    return;
                }

                node = (priority ? _high : _low).AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }

            using (ct.Register(() =>
            {
                lock (_lock)
                {
                    if (node.List is { } list)
                    {
                        list.Remove(node);
                        node.Value.TrySetCanceled(ct);
                    }
                }
            }))
            {
                await node.Value.Task.ConfigureAwait(false);
            }
        }

        /// <summary>The server showed it is overloaded: halve the limit and never grow past it again.</summary>
        public void Congested()
        {
            lock (_lock)
            {
                _limit = _ceiling = Math.Max(Floor, Math.Min(_limit, _ceiling) / 2);
                _successes = 0;
            }
        }

        public void Release(bool failed)
        {
            if (failed)
            {
                Congested();
            }

            lock (_lock)
            {
                _inFlight--;
                if (!failed && _limit < _ceiling && ++_successes >= 16)
                {
                    _limit++;
                    _successes = 0;
                }

                while (_inFlight < _limit && (_high.First ?? _low.First) is { } next)
                {
                    next.List!.Remove(next);
                    _inFlight++;
                    next.Value.TrySetResult();
                }
            }
        }
    }
}
