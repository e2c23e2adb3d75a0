// `serve --repo`: an ostree repository over HTTP, as a static web server would serve an archive repository.
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using OstreeSharp.Repository;

namespace OstreeSharp.Server;

/// <summary>Options of <see cref="RepositoryServer"/>.</summary>
public sealed record RepositoryServerOptions
{
    /// <summary>The repository to serve.</summary>
    public required string Repository { get; init; }

    /// <summary>Address to listen on (default: loopback only).</summary>
    public string Bind { get; init; } = "127.0.0.1";

    /// <summary>Port (0: any free one).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Where objects of bare repositories converted to <c>.filez</c> are kept (default: under the temp folder).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>Receives one access-log line per request.</summary>
    public Action<string>? AccessLog { get; init; }
}

/// <summary>
/// Serves a repository under <c>/repo/</c> (and at <c>/</c>): GET and HEAD, Range, ETag and Last-Modified; never a
/// path outside the repository (<c>..</c>, encoded slashes and symlinks out answer 400 or 404). A bare or bare-user
/// repository is served as an archive one: its <c>config</c> says <c>archive-z2</c> and content objects are
/// converted to <c>.filez</c> on first request and cached. <c>/</c> is a small page listing the refs.
/// </summary>
public sealed class RepositoryServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RepositoryFiles _files;

    private RepositoryServer(WebApplication app, RepositoryFiles files)
    {
        _app = app;
        _files = files;
    }

    /// <summary>The base address, e.g. <c>http://127.0.0.1:8080/</c>.</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    /// <summary>Starts serving.</summary>
    public static async Task<RepositoryServer> StartAsync(RepositoryServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var repo = OstreeRepo.Open(options.Repository);
        var files = new RepositoryFiles(repo, options.CacheDirectory ?? Path.Combine(Path.GetTempPath(), "ostree-sharp-serve-" + Environment.ProcessId));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Parse(options.Bind), options.Port);
        });
        builder.Services.Configure<Microsoft.Extensions.Hosting.HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(10));
        var app = builder.Build();
        var server = new RepositoryServer(app, files);
        app.Run(ctx => server.HandleAsync(ctx, options.AccessLog));
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>();
        server.Address = new Uri((addresses?.Addresses.FirstOrDefault() ?? $"http://{options.Bind}:{options.Port}").Replace("[::]", options.Bind, StringComparison.Ordinal) + "/");
        return server;
    }

    /// <summary>Stops gracefully: requests in flight complete.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _files.Dispose();
    }

    private async Task HandleAsync(HttpContext ctx, Action<string>? log)
    {
        try
        {
            await ServeAsync(ctx).ConfigureAwait(false);
        }
        finally
        {
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"{ctx.Connection.RemoteIpAddress} - - [{DateTimeOffset.UtcNow:dd/MMM/yyyy:HH:mm:ss +0000}] \"{ctx.Request.Method} {ctx.Features.Get<IHttpRequestFeature>()?.RawTarget} {ctx.Request.Protocol}\" {ctx.Response.StatusCode} {ctx.Response.ContentLength?.ToString(CultureInfo.InvariantCulture) ?? "-"}"));
        }
    }

    private async Task ServeAsync(HttpContext ctx)
    {
        if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method))
        {
            ctx.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            ctx.Response.Headers.Allow = "GET, HEAD";
            return;
        }

        var raw = ctx.Features.Get<IHttpRequestFeature>()?.RawTarget ?? ctx.Request.Path.Value ?? "/";
        var rawPath = raw.Split('?', 2)[0];
        if (rawPath.Contains("%2f", StringComparison.OrdinalIgnoreCase) || rawPath.Contains("%5c", StringComparison.OrdinalIgnoreCase)
            || rawPath.Contains("%00", StringComparison.Ordinal) || rawPath.Contains('\\'))
        {
            ctx.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var path = ctx.Request.Path.Value ?? "/";
        if (path is "/" or "/repo" or "/repo/")
        {
            if (path == "/repo")
            {
                ctx.Response.Redirect("/repo/");
                return;
            }

            await WritePageAsync(ctx).ConfigureAwait(false);
            return;
        }

        var rel = path.StartsWith("/repo/", StringComparison.Ordinal) ? path["/repo/".Length..] : path.TrimStart('/');
        var file = _files.Resolve(rel);
        if (file is null)
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var info = new FileInfo(file.Value.Path);
        var etag = new EntityTagHeaderValue(string.Create(CultureInfo.InvariantCulture, $"\"{info.Length:x}-{info.LastWriteTimeUtc.Ticks:x}\""));
        await Results.File(file.Value.Path, file.Value.ContentType, lastModified: info.LastWriteTimeUtc, entityTag: etag, enableRangeProcessing: true)
            .ExecuteAsync(ctx).ConfigureAwait(false);
    }

    private async Task WritePageAsync(HttpContext ctx)
    {
        var html = _files.Page();
        ctx.Response.ContentType = "text/html; charset=utf-8";
        var bytes = Encoding.UTF8.GetBytes(html);
        ctx.Response.ContentLength = bytes.Length;
        if (!HttpMethods.IsHead(ctx.Request.Method))
        {
            await ctx.Response.Body.WriteAsync(bytes).ConfigureAwait(false);
        }
    }
}
