using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>`serve`: the real ostree pulls from it; nothing outside the repository is ever served.</summary>
public sealed class ServeTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly List<Process> _servers = [];

    public void Dispose()
    {
        foreach (var p in _servers)
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit();
            }

            p.Dispose();
        }

        _tmp.Dispose();
    }

    /// <summary>Starts `serve` on a free port; returns the base URL of the repository (…/repo/).</summary>
    private string Serve(string repo)
    {
        var (p, url) = Start(repo, _tmp["cache-" + _servers.Count]);
        _servers.Add(p);
        return url;
    }

    /// <summary>Starts our `serve` of <paramref name="repo"/> on a free port; returns it and the repository's URL.</summary>
    internal static (Process Process, string Url) Start(string repo, string cacheDir, params string[] options)
    {
        var p = Tools.StartOurs(["serve", "--repo=" + repo, "--port=0", "--cache-dir=" + cacheDir, .. options]);
        var line = p.StandardOutput.ReadLine();
        if (line is null || !line.StartsWith("Serving ", StringComparison.Ordinal))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new InvalidOperationException($"serve did not start: {line} {p.StandardError.ReadToEnd()}");
        }

        _ = Task.Run(() => p.StandardOutput.ReadToEnd());
        _ = Task.Run(() => p.StandardError.ReadToEnd());
        return (p, line.Split(" at ")[1]);
    }

    private (string Repo, string Commit) Source(string mode)
    {
        var repo = _tmp["src-" + mode];
        TestTrees.WriteTricky(_tmp["tree"], withOwners: false);
        Tools.Ours("init", "--repo=" + repo, "--mode=" + mode).Ok("init");
        var commit = Tools.Ours("commit", "--repo=" + repo, "-b", "os/stable", "-s", "Served OS", "--add-metadata-string=version=7.1", "--timestamp=2024-03-01", _tmp["tree"]).Ok("commit");
        return (repo, commit);
    }

    [Theory]
    [InlineData("archive")]
    [InlineData("bare-user")]
    public async Task Ostree_pulls_from_our_server_into_archive_and_bare_user_repositories(string sourceMode)
    {
        var (repo, commit) = Source(sourceMode);
        var url = Serve(repo);
        foreach (var destMode in new[] { "archive", "bare-user" })
        {
            var dest = _tmp[$"dest-{destMode}"];
            Tools.Ostree("init", "--repo=" + dest, "--mode=" + destMode).Ok("init dest");
            Tools.Ostree("remote", "add", "--repo=" + dest, "--no-gpg-verify", "origin", url).Ok("remote add");
            Tools.Ostree("pull", "--repo=" + dest, "origin", "os/stable").Ok($"ostree pull into {destMode}");
            Assert.Equal(commit, Tools.Ostree("rev-parse", "--repo=" + dest, "origin:os/stable").Ok("rev-parse"));
            Tools.Ostree("fsck", "--repo=" + dest).Ok("fsck");
            FileUtil.DeleteAny(dest);
        }

        // The page at / lists the ref with its commit's subject and version.
        using var http = new HttpClient();
        var page = await http.GetStringAsync(new Uri(url.Replace("/repo/", "/", StringComparison.Ordinal)));
        Assert.Contains("os/stable", page, StringComparison.Ordinal);
        Assert.Contains("Served OS", page, StringComparison.Ordinal);
        Assert.Contains("7.1", page, StringComparison.Ordinal);
    }

    [Fact]
    public void The_refs_page_renders_in_a_headless_browser()
    {
        var (repo, commit) = Source("archive");
        Tools.Ours("commit", "--repo=" + repo, "-b", "os/beta", "-s", "Beta <b>bold</b> & co", "--add-metadata-string=version=8.0-rc1", "--timestamp=2024-04-01", _tmp["tree"]).Ok("second ref");
        var url = Serve(repo).Replace("/repo/", "/", StringComparison.Ordinal);
        var dom = Tools.Run("chromium", ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + _tmp["chromium"], "--dump-dom", url]).Ok("chromium --dump-dom");
        Assert.Contains("<h1>ostree repository</h1>", dom, StringComparison.Ordinal);
        Assert.Contains($"<tr><td>os/stable</td><td>Served OS</td><td>7.1</td><td>2024-03-01 00:00:00 UTC</td><td><code>{commit}</code></td></tr>", dom, StringComparison.Ordinal);
        // Names and subjects are text, never markup.
        Assert.Contains("<td>os/beta</td><td>Beta &lt;b&gt;bold&lt;/b&gt; &amp; co</td><td>8.0-rc1</td>", dom, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>bold</b>", dom, StringComparison.Ordinal);
    }

    private static (int Status, string Body) Raw(string url, string target, string method = "GET", string extraHeaders = "")
    {
        var uri = new Uri(url);
        using var tcp = new TcpClient(uri.Host, uri.Port);
        using var s = tcp.GetStream();
        s.Write(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: {uri.Host}\r\nConnection: close\r\n{extraHeaders}\r\n"));
        using var r = new StreamReader(s, Encoding.Latin1);
        var text = r.ReadToEnd();
        var status = int.Parse(text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        return (status, text);
    }

    [Fact]
    public void Nothing_outside_the_repository_is_served_and_files_have_ranges_and_etags()
    {
        var (repo, _) = Source("archive");
        File.WriteAllText(_tmp["secret"], "SECRET-OUTSIDE");
        File.CreateSymbolicLink(Path.Combine(repo, "refs/heads/evil"), _tmp["secret"]);
        Directory.CreateSymbolicLink(Path.Combine(repo, "outside"), _tmp.Path);
        var url = Serve(repo);
        foreach (var target in new[] { "/repo/../secret", "/repo/%2e%2e/secret", "/repo/objects%2f..%2f..%2fsecret", "/../../etc/passwd", "/repo/refs/heads/evil", "/repo/outside/secret", "/repo/objects/", "/repo/objects/..%5c..%5csecret", "/repo/.lock/../../secret" })
        {
            var (status, body) = Raw(url, target);
            Assert.True(status is 400 or 404, $"{target}: {status}");
            Assert.DoesNotContain("SECRET-OUTSIDE", body, StringComparison.Ordinal);
            Assert.DoesNotContain("root:x:0:0", body, StringComparison.Ordinal);
        }

        Assert.Equal(405, Raw(url, "/repo/config", "POST").Status);
        var (headStatus, head) = Raw(url, "/repo/config", "HEAD");
        Assert.Equal(200, headStatus);
        Assert.Contains("Content-Length: " + new FileInfo(Path.Combine(repo, "config")).Length, head, StringComparison.Ordinal);
        Assert.Contains("Last-Modified: ", head, StringComparison.Ordinal);
        var etag = head.Split("\r\n").Single(l => l.StartsWith("ETag: ", StringComparison.Ordinal))[6..];
        Assert.Equal(304, Raw(url, "/repo/config", "GET", $"If-None-Match: {etag}\r\n").Status);
        var (rangeStatus, ranged) = Raw(url, "/config", "GET", "Range: bytes=0-5\r\n");
        Assert.Equal(206, rangeStatus);
        Assert.EndsWith("\r\n\r\n[core]", ranged, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fifty_concurrent_clients_get_every_object_without_an_error()
    {
        var (repo, _) = Source("archive");
        var url = Serve(repo);
        var objects = Directory.GetFiles(Path.Combine(repo, "objects"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(repo, f)).ToList();
        Assert.True(objects.Count > 20);
        using var http = new HttpClient();
        int errors = 0, fetched = 0;
        await Parallel.ForAsync(0, 50, new ParallelOptions { MaxDegreeOfParallelism = 50 }, async (i, ct) =>
        {
            foreach (var rel in objects.Skip(i % objects.Count).Concat(objects.Take(i % objects.Count)))
            {
                try
                {
                    var bytes = await http.GetByteArrayAsync(new Uri(url + rel), ct);
                    if (!bytes.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(repo, rel))))
                    {
                        Interlocked.Increment(ref errors);
                    }

                    Interlocked.Increment(ref fetched);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        });
        Assert.Equal(0, errors);
        Assert.Equal(50 * objects.Count, fetched);
    }

    [Fact]
    public void A_served_object_altered_on_disk_is_refused_by_the_client()
    {
        var (repo, _) = Source("archive");
        var victim = Directory.GetFiles(Path.Combine(repo, "objects"), "*.dirtree", SearchOption.AllDirectories).First();
        var bytes = File.ReadAllBytes(victim);
        bytes[^1] ^= 0x55;
        File.WriteAllBytes(victim, bytes);
        var url = Serve(repo);
        var dest = _tmp["dest"];
        Tools.Ostree("init", "--repo=" + dest, "--mode=archive").Ok("init");
        Tools.Ostree("remote", "add", "--repo=" + dest, "--no-gpg-verify", "origin", url).Ok("remote add");
        var pull = Tools.Ostree("pull", "--repo=" + dest, "origin", "os/stable");
        Assert.NotEqual(0, pull.ExitCode);
        Assert.Contains(Path.GetFileNameWithoutExtension(victim), pull.Stderr, StringComparison.Ordinal);
    }
}
