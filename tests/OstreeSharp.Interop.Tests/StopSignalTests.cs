using System.Diagnostics;
using System.Globalization;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Ctrl+C and SIGTERM stop a verb that waits on the network or works through a tree: it unwinds, says so in one line,
/// exits as the signal.
/// </summary>
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
    // 30,000 small files in 300 folders: a few seconds of commit, long enough to be stopped in the middle.
    private static void WriteTree(string root)
    {
        for (int d = 0; d < 300; d++)
        {
            Directory.CreateDirectory(Path.Combine(root, "d" + d));
            for (int f = 0; f < 100; f++)
            {
                File.WriteAllText(Path.Combine(root, "d" + d, "f" + f), $"{d} {f}\n");
            }
        }
    }

    // Starts our CLI with ARGS, waits until READY says it is in the middle of its work, sends SIGNAL, and returns its
    // exit code and the last line of its stderr once it stopped.
    private static async Task<(int Code, string LastError)> StopInTheMiddle(string signal, Func<List<string>, bool> ready, params string[] args)
    {
        using var p = Tools.StartOurs(args);
        try
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var lines = new List<string>();
            var clock = Stopwatch.StartNew();
            var reader = Task.Run(async () =>
            {
                while (await p.StandardError.ReadLineAsync() is { } line)
                {
                    lock (lines)
                    {
                        lines.Add(line);
                    }
                }
            });
            while (true)
            {
                lock (lines)
                {
                    if (ready(lines))
                    {
                        break;
                    }
                }

                Assert.False(p.HasExited, $"{args[0]} ended before it was stopped: {string.Join('\n', lines)}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{args[0]} never got going");
                await Task.Delay(10);
            }

            Tools.Run("kill", ["-" + signal, p.Id.ToString(CultureInfo.InvariantCulture)]).Ok("kill");
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await p.WaitForExitAsync(deadline.Token);
            }

            await reader;
            await stdout;
            return (p.ExitCode, lines.LastOrDefault() ?? string.Empty);
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
                await p.WaitForExitAsync();
            }
        }
    }

    [Fact]
    public async Task A_commit_stopped_by_ctrl_c_leaves_no_ref_and_no_staging()
    {
        using var t = new TempDir();
        WriteTree(t["tree"]);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=archive").Ok("init");
        // --progress=json: the first event says the import is under way.
        var (code, last) = await StopInTheMiddle("INT", lines => lines.Count > 0, "commit", "--repo=" + t["repo"], "-b", "x", "--tree=dir=" + t["tree"], "--progress=json");
        Assert.Equal(130, code);
        Assert.Equal("error: Operation was cancelled", last);
        Assert.False(File.Exists(Path.Combine(t["repo"], "refs", "heads", "x")));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.Combine(t["repo"], "tmp")), e => !Path.GetFileName(e).StartsWith("cache", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Fsck_and_checkout_stop_on_a_signal()
    {
        using var t = new TempDir();
        WriteTree(t["tree"]);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=bare-user").Ok("init");
        Tools.Ours("commit", "--repo=" + t["repo"], "-b", "x", "--tree=dir=" + t["tree"]).Ok("commit");

        var (code, last) = await StopInTheMiddle("TERM", lines => lines.Count > 0, "fsck", "--repo=" + t["repo"], "--progress=json");
        Assert.Equal(143, code);
        Assert.Equal("error: Operation was cancelled", last);

        // checkout draws no progress. It builds the tree in a staging folder beside the destination and renames it into
        // place at the end: it is under way once the staging folder has its first folder; stopped, it leaves neither.
        var parent = Directory.CreateDirectory(t["out"]).FullName;
        bool Started(List<string> _) => Directory.GetDirectories(parent).Any(d => Directory.Exists(Path.Combine(d, "d0")));
        (code, last) = await StopInTheMiddle("INT", Started, "checkout", "--repo=" + t["repo"], "x", Path.Combine(parent, "co"));
        Assert.Equal(130, code);
        Assert.Equal("error: Operation was cancelled", last);
        Assert.Empty(Directory.GetFileSystemEntries(parent));
    }
    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Serve_ends_gracefully_on_a_signal(string signal)
    {
        using var t = new TempDir();
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=archive").Ok("init");
        using var p = Tools.StartOurs("serve", "--repo=" + t["repo"], "--port=0", "--quiet");
        try
        {
            var stderr = p.StandardError.ReadToEndAsync();
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                var first = await p.StandardOutput.ReadLineAsync(deadline.Token);
                Assert.True(first is not null && first.StartsWith("Serving ", StringComparison.Ordinal), $"serve did not start: {first} {(p.HasExited ? await stderr : string.Empty)}");
            }

            Tools.Run("kill", ["-" + signal, p.Id.ToString(CultureInfo.InvariantCulture)]).Ok("kill");
            var rest = p.StandardOutput.ReadToEndAsync();
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await p.WaitForExitAsync(deadline.Token);
            }

            Assert.Equal(0, p.ExitCode);
            Assert.Equal("Stopped", (await rest).Trim());
            Assert.Equal(string.Empty, (await stderr).Trim());
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
                await p.WaitForExitAsync();
            }
        }
    }
}
