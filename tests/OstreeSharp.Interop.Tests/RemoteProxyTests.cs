using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// A remote's <c>proxy</c> key: the remote's URL names a host that does not resolve (<c>repo.invalid</c>), and a
/// forward proxy on 127.0.0.1 answers for it. The real ostree and ours pull through it, and neither reaches the
/// remote without it.
/// </summary>
public sealed class RemoteProxyTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private Process? _proxy;

    public void Dispose()
    {
        if (_proxy is not null)
        {
            HttpServers.Stop(_proxy);
            _proxy.Dispose();
        }

        _tmp.Dispose();
    }

    // A forward proxy that answers absolute http://repo.invalid/ URLs from DIR and writes each request line to LOG.
    private int Proxy(string dir, string log)
    {
        int port = HttpServers.FreePort();
        var script = $$"""
            import http.server, urllib.parse
            class Proxy(http.server.SimpleHTTPRequestHandler):
                def __init__(self, *a, **k):
                    super().__init__(*a, directory={{Py(dir)}}, **k)
                def translate_path(self, path):
                    with open({{Py(log)}}, "a") as f:
                        f.write(path + "\n")
                    u = urllib.parse.urlsplit(path)
                    if u.scheme != "http" or u.netloc != "repo.invalid":
                        return "/nonexistent"
                    return super().translate_path(u.path)
                def log_message(self, *a):
                    pass
            http.server.ThreadingHTTPServer(("127.0.0.1", {{port}}), Proxy).serve_forever()
            """;
        var psi = new ProcessStartInfo("python3") { ArgumentList = { "-c", script }, RedirectStandardError = true, RedirectStandardOutput = true };
        _proxy = Process.Start(psi)!;
        _ = _proxy.StandardError.ReadToEndAsync();
        _ = _proxy.StandardOutput.ReadToEndAsync();
        for (int i = 0; ; i++)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect("127.0.0.1", port);
                return port;
            }
            catch (SocketException) when (i < 100)
            {
                Thread.Sleep(100);
            }
        }

        static string Py(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Pull_goes_through_the_remote_proxy_as_in_ostree(string version)
    {
        var src = _tmp["src"];
        Tools.Ours("init", "--repo=" + src, "--mode=archive").Ok("init");
        Directory.CreateDirectory(_tmp["tree/usr/share"]);
        File.WriteAllText(_tmp["tree/usr/share/file"], "through a proxy\n");
        var commit = Tools.Ours("commit", "--repo=" + src, "-b", "main", "--timestamp=2024-01-01", _tmp["tree"]).Ok("commit");
        Tools.Ours("summary", "--repo=" + src, "-u").Ok("summary");
        var log = _tmp["proxy.log"];
        var port = Proxy(src, log).ToString(CultureInfo.InvariantCulture);

        foreach (var (tool, run) in Tools.TheirsAndOurs(version))
        {
            var repo = _tmp[tool];
            run(["init", "--repo=" + repo, "--mode=archive"]).Ok($"{tool} init");
            run(["remote", "add", "--repo=" + repo, "--no-gpg-verify", "--set=proxy=127.0.0.1:" + port, "origin", "http://repo.invalid/"]).Ok($"{tool} remote add");
            run(["remote", "add", "--repo=" + repo, "--no-gpg-verify", "direct", "http://repo.invalid/"]).Ok($"{tool} remote add");
            File.Delete(log);
            run(["pull", "--repo=" + repo, "origin", "main"]).Ok($"{tool} pull through the proxy");
            Assert.Equal(commit, run(["rev-parse", "--repo=" + repo, "origin:main"]).Ok($"{tool} rev-parse"));
            Assert.Contains("origin:main", run(["remote", "refs", "--repo=" + repo, "origin"]).Ok($"{tool} remote refs"), StringComparison.Ordinal);

            // Every request the pull made came to the proxy, for the remote's own URLs.
            var requests = File.ReadAllLines(log);
            Assert.Contains("http://repo.invalid/config", requests);
            Assert.Contains($"http://repo.invalid/objects/{commit[..2]}/{commit[2..]}.commit", requests);
            Assert.All(requests, r => Assert.StartsWith("http://repo.invalid/", r, StringComparison.Ordinal));

            // Without it the host is not found.
            var direct = run(["pull", "--repo=" + repo, "direct", "main"]);
            Assert.NotEqual(0, direct.ExitCode);
        }
    }

    [Fact]
    public void A_proxy_that_is_not_a_url_is_refused_naming_it()
    {
        var repo = _tmp["repo"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + repo, "--no-gpg-verify", "--set=proxy=http://[::1", "origin", "http://repo.invalid/").Ok("remote add");
        var r = Tools.OursCoded("pull", "--repo=" + repo, "origin", "main");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Invalid proxy URI 'http://[::1' for remote origin", r.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("error OSTREE2002: ", r.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.Combine(repo, "objects"), "*", SearchOption.AllDirectories));
    }
}
