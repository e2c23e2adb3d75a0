using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace OstreeSharp.Interop.Tests;

/// <summary>HTTP servers for pull tests: a plain static one and our `serve`; all stopped on dispose.</summary>
internal sealed class HttpServers : IDisposable
{
    private readonly List<Process> _servers = [];

    public void Dispose()
    {
        foreach (var p in _servers)
        {
            Stop(p);
            p.Dispose();
        }
    }

    public static void Stop(Process p)
    {
        if (!p.HasExited)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>`python3 -m http.server` on the repository directory; returns its URL.</summary>
    public string Static(string dir)
    {
        int port = FreePort();
        var psi = new ProcessStartInfo("python3") { ArgumentList = { "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir, port.ToString(System.Globalization.CultureInfo.InvariantCulture) }, RedirectStandardError = true, RedirectStandardOutput = true };
        var p = Process.Start(psi)!;
        _servers.Add(p);
        _ = Task.Run(() => p.StandardError.ReadToEnd());
        _ = Task.Run(() => p.StandardOutput.ReadToEnd());
        var url = $"http://127.0.0.1:{port}/";
        using var http = new HttpClient();
        for (int i = 0; ; i++)
        {
            try
            {
                http.GetAsync(new Uri(url + "config")).GetAwaiter().GetResult().Dispose();
                return url;
            }
            catch (HttpRequestException) when (i < 100)
            {
                Thread.Sleep(100);
            }
        }
    }

    /// <summary>Our `serve`; access-log lines go to <paramref name="log"/>. Returns the process and the repository URL.</summary>
    public (Process Process, string Url) Ours(IEnumerable<string> args, List<string>? log = null)
    {
        var p = Tools.StartOurs(["serve", .. args]);
        _servers.Add(p);
        var stderr = new System.Text.StringBuilder();
        _ = Task.Run(() =>
        {
            string? l;
            while ((l = p.StandardError.ReadLine()) is not null)
            {
                lock (stderr)
                {
                    stderr.AppendLine(l);
                }
            }
        });
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null && !line.StartsWith("Serving ", StringComparison.Ordinal))
        {
        }

        if (line is null)
        {
            p.WaitForExit();
            throw new InvalidOperationException("serve printed nothing: " + stderr);
        }

        _ = Task.Run(() =>
        {
            string? l;
            while ((l = p.StandardOutput.ReadLine()) is not null)
            {
                if (log is not null)
                {
                    lock (log)
                    {
                        log.Add(l);
                    }
                }
            }
        });
        return (p, line.Split(" at ")[1]);
    }
}
