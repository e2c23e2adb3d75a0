using System.Diagnostics;
using System.Globalization;

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
        using var server = new SilentServer();
        Tools.Ours("init", "--repo=" + t["dest"], "--mode=archive").Ok("init");
        Tools.Ours("remote", "add", "--repo=" + t["dest"], "--no-gpg-verify", "origin", server.Url).Ok("remote add");
        using var p = Tools.StartOurs("pull", "--repo=" + t["dest"], "--low-speed-time-seconds=600", "origin", "x");
        try
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            var clock = Stopwatch.StartNew();
            while (server.Accepted == 0)
            {
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
}
