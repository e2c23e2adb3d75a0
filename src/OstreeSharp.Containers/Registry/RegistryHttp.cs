using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Polly;
using Polly.Retry;

namespace OstreeSharp.Containers.Registry;

/// <summary>HTTP plumbing for registries: the handler (TLS, certificates) and the retry pipeline.</summary>
internal static class RegistryHttp
{
    public static HttpClient CreateClient(string host, RegistryOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            MaxAutomaticRedirections = 10,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = 16,
        };
        var certDirs = options.CertDirectory is { } d ? [d] : new[] { Path.Combine("/etc/containers/certs.d", host), Path.Combine("/etc/docker/certs.d", host) };
        var roots = new X509Certificate2Collection();
        foreach (var dir in certDirs.Where(Directory.Exists))
        {
            foreach (var crt in Directory.EnumerateFiles(dir, "*.crt"))
            {
                roots.ImportFromPemFile(crt);
            }

            foreach (var cert in Directory.EnumerateFiles(dir, "*.cert"))
            {
                var key = Path.ChangeExtension(cert, ".key");
                if (!File.Exists(key))
                {
                    throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Client certificate {cert} has no matching key {key}");
                }

                handler.SslOptions.ClientCertificates ??= new X509CertificateCollection();
                handler.SslOptions.ClientCertificates.Add(X509Certificate2.CreateFromPemFile(cert, key));
            }

            if (options.CertDirectory is null)
            {
                break;
            }
        }

        if (!options.TlsVerify)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (roots.Count > 0)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, chain, errors) =>
            {
                if (errors == SslPolicyErrors.None)
                {
                    return true;
                }

                if (cert is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var custom = new X509Chain();
                custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.CustomTrustStore.AddRange(roots);
                custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain is not null)
                {
                    foreach (var el in chain.ChainElements)
                    {
                        custom.ChainPolicy.ExtraStore.Add(el.Certificate);
                    }
                }

                return custom.Build(cert as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(cert.GetRawCertData()));
            };
        }

        var client = new HttpClient(new AnswerTimeoutHandler(options.ReadTimeout) { InnerHandler = handler }) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(options.UserAgent);
        return client;
    }

    /// <summary>
    /// A GET or HEAD is given <c>timeout</c> to answer (its headers; the body is the reader's to time). Uploads are
    /// not: their request body is sent inside the same call and may take as long as it takes.
    /// </summary>
    private sealed class AnswerTimeoutHandler(TimeSpan timeout) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (timeout <= TimeSpan.Zero || (request.Method != HttpMethod.Get && request.Method != HttpMethod.Head))
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }

            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(timeout);
            try
            {
                return await base.SendAsync(request, cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HttpRequestException($"no answer within {timeout.TotalSeconds:0.###} s (--read-timeout)", e);
            }
        }
    }

    /// <summary>Whether a failure may go away if tried again.</summary>
    public static bool IsTransient(Exception e, CancellationToken ct) => e switch
    {
        RegistryException r => r.IsTransient,
        ContainerException => false,
        OperationCanceledException => !ct.IsCancellationRequested,
        HttpRequestException h => h.InnerException is not ContainerException && h.HttpRequestError != HttpRequestError.SecureConnectionError && (h.StatusCode is null || IsTransient(h.StatusCode.Value)),
        IOException io => io.InnerException is not ContainerException,
        _ => false,
    };

    public static bool IsTransient(HttpStatusCode status) => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests
        or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    /// <summary>The delay before retry number <paramref name="attempt"/> (0-based), honouring Retry-After up to a minute.</summary>
    public static TimeSpan Backoff(RegistryOptions options, int attempt, HttpResponseMessage? response = null)
    {
        if (response?.Headers.RetryAfter is { } ra)
        {
            var wait = ra.Delta ?? (ra.Date is { } date ? date - DateTimeOffset.UtcNow : TimeSpan.Zero);
            if (wait > TimeSpan.Zero)
            {
                return wait < TimeSpan.FromMinutes(1) ? wait : TimeSpan.FromMinutes(1);
            }
        }

        var baseMs = options.RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 8));
        return TimeSpan.FromMilliseconds(Math.Min(baseMs * (0.8 + (0.4 * Random.Shared.NextDouble())), 30_000));
    }

    /// <summary>Retries requests that carry no body or a replayable one: 408, 429, 5xx and dropped connections.</summary>
    public static ResiliencePipeline<HttpResponseMessage> CreatePipeline(RegistryOptions options)
    {
        if (options.RetryTimes <= 0)
        {
            return ResiliencePipeline<HttpResponseMessage>.Empty;
        }

        return new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = options.RetryTimes,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: { } e } => IsTransient(e, args.Context.CancellationToken),
                    { Result: { } r } => IsTransient(r.StatusCode),
                    _ => false,
                }),
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(Backoff(options, args.AttemptNumber, args.Outcome.Result)),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }
}
