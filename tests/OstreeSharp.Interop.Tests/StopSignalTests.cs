using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace OstreeSharp.Interop.Tests;

/// <summary>Ctrl+C and SIGTERM stop a verb that waits on the network: it unwinds, says so in one line, exits as the signal.</summary>
public class StopSignalTests
{
    [Theory]
    [InlineData("TERM", 143)]
    [InlineData("INT", 130)]
    public async Task A_pull_stopped_by_a_signal_unwinds_says_so_and_exits_as_the_signal(string signal, int code)
    {
        using var t = new TempDir();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<TcpClient>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    var c = await listener.AcceptTcpClientAsync();
                    lock (held)
                    {
                        held.Add(c); // read nothing, answer nothing: the pull waits
                    }
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        });
        try
        {
            var url = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/repo";
            Tools.Ours("init", "--repo=" + t["dest"], "--mode=archive").Ok("init");
            Tools.Ours("remote", "add", "--repo=" + t["dest"], "--no-gpg-verify", "origin", url).Ok("remote add");
            using var p = Tools.StartOurs("pull", "--repo=" + t["dest"], "--low-speed-time-seconds=600", "origin", "x");
            try
            {
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    lock (held)
                    {
                        if (held.Count > 0)
                        {
                            break;
                        }
                    }

                    if (p.HasExited)
                    {
                        Assert.Fail($"pull ended before it reached the server: {await stderr}");
                    }

                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "pull never reached the server");
                    await Task.Delay(50);
                }

                await Task.Delay(200); // inside the request, not between requests
                Tools.Run("kill", ["-" + signal, p.Id.ToString(CultureInfo.InvariantCulture)]).Ok("kill");
                using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
                {
                    await p.WaitForExitAsync(deadline.Token); // throws when the pull does not stop
                }

                Assert.Equal(code, p.ExitCode);
                Assert.Equal("error: Operation was cancelled", (await stderr).Trim());
                Assert.Equal(string.Empty, (await stdout).Trim());
                // Nothing half-written: no ref, and the staging folders gone.
                Assert.False(File.Exists(Path.Combine(t["dest"], "refs", "remotes", "origin", "x")));
                Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.Combine(t["dest"], "tmp")), e => !Path.GetFileName(e).StartsWith("cache", StringComparison.Ordinal));
            }
            finally
            {
                if (!p.HasExited)
                {
                    p.Kill(); // a failed test leaves no pull behind
                    await p.WaitForExitAsync();
                }
            }
        }
        finally
        {
            listener.Stop();
            lock (held)
            {
                held.ForEach(c => c.Dispose());
            }

            await accepting.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }
}
