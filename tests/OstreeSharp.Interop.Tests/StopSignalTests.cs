using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Ctrl+C and SIGTERM stop a verb that waits on the network or works through a tree: it unwinds, says so in one line,
/// exits as the signal. A server ends gracefully.
/// </summary>
public partial class StopSignalTests
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
        // Under way 200 ms after the server accepted: inside the request, not between requests.
        Stopwatch? inside = null;
        bool InTheRequest()
        {
            if (server.Accepted == 0)
            {
                return false;
            }

            inside ??= Stopwatch.StartNew();
            return inside.ElapsedMilliseconds >= 200;
        }

        var r = await StopInTheMiddle(signal, _ => InTheRequest(), "pull", "--repo=" + t["dest"], "--low-speed-time-seconds=600", "origin", "x");
        Assert.Equal(code, r.Code);
        Assert.Equal("error: Operation was cancelled", string.Join('\n', r.Err).Trim());
        Assert.Equal(string.Empty, string.Join('\n', r.Out).Trim());
        // Nothing half-written: no ref, nothing published; what was staged stays, unlocked, for the next pull to take over.
        Assert.False(File.Exists(Path.Combine(t["dest"], "refs", "remotes", "origin", "x")));
        AssertOnlyResumableStaging(t["dest"]);
    }

    /// <summary>
    /// tmp/ holds nothing but its cache and, as libostree leaves it when a transaction stops, staging folders of this boot
    /// that no one holds (no lock file), which the next transaction takes over.
    /// </summary>
    private static void AssertOnlyResumableStaging(string repo)
    {
        var boot = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        Assert.All(
            Directory.GetFileSystemEntries(Path.Combine(repo, "tmp")).Where(e => Path.GetFileName(e) != "cache"),
            e => Assert.True(Directory.Exists(e) && Path.GetFileName(e).StartsWith($"staging-{boot}-", StringComparison.Ordinal), e));
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

    /// <summary>What a stopped process printed, line by line, and its exit code.</summary>
    private sealed record Stopped(int Code, IReadOnlyList<string> Out, IReadOnlyList<string> Err);

    /// <summary>What a running process has printed so far.</summary>
    private sealed record Printed(IReadOnlyList<string> Out, IReadOnlyList<string> Err);

    // Starts our CLI with ARGS, waits until READY (given what it printed so far) says it is in the middle of its work,
    // sends SIGNAL, and returns its exit code and all it printed once it stopped. A failed test leaves no process behind.
    private static async Task<Stopped> StopInTheMiddle(string signal, Func<Printed, bool> ready, params string[] args)
    {
        using var p = Tools.StartOurs(args);
        try
        {
            var output = new List<string>();
            var errors = new List<string>();
            static async Task Collect(StreamReader reader, List<string> into)
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    lock (into)
                    {
                        into.Add(line);
                    }
                }
            }

            static List<string> Snapshot(List<string> lines)
            {
                lock (lines)
                {
                    return [.. lines];
                }
            }

            var readers = Task.WhenAll(Collect(p.StandardOutput, output), Collect(p.StandardError, errors));
            var clock = Stopwatch.StartNew();
            while (!ready(new Printed(Snapshot(output), Snapshot(errors))))
            {
                Assert.False(p.HasExited, $"{args[0]} ended before it was stopped: {string.Join('\n', Snapshot(errors))}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{args[0]} never got going");
                await Task.Delay(10);
            }

            // kill(2) itself, not the kill program: starting a process took long enough on a busy machine for a fast
            // verb to finish first.
            int number = signal switch
            {
                "INT" => 2,
                "TERM" => 15,
                _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, null),
            };
            Assert.True(kill(p.Id, number) == 0, $"kill -{signal} {p.Id}: errno {Marshal.GetLastPInvokeError()}");
            using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await p.WaitForExitAsync(deadline.Token); // throws when the process does not stop
            }

            await readers;
            return new Stopped(p.ExitCode, output, errors);
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
    public async Task A_commit_stopped_by_ctrl_c_leaves_no_ref_and_only_its_staging_to_take_over()
    {
        using var t = new TempDir();
        WriteTree(t["tree"]);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=archive").Ok("init");
        // --progress=json: the first event says the import is under way.
        var r = await StopInTheMiddle("INT", o => o.Err.Count > 0, "commit", "--repo=" + t["repo"], "-b", "x", "--tree=dir=" + t["tree"], "--progress=json");
        Assert.Equal(130, r.Code);
        Assert.Equal("error: Operation was cancelled", r.Err[^1]);
        Assert.False(File.Exists(Path.Combine(t["repo"], "refs", "heads", "x")));
        AssertOnlyResumableStaging(t["repo"]);
        Tools.Ours("commit", "--repo=" + t["repo"], "-b", "x", t["tree"]).Ok("commit again");
        Assert.Equal(["cache"], Directory.GetFileSystemEntries(Path.Combine(t["repo"], "tmp")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Fsck_and_checkout_stop_on_a_signal()
    {
        using var t = new TempDir();
        WriteTree(t["tree"]);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=bare-user").Ok("init");
        Tools.Ours("commit", "--repo=" + t["repo"], "-b", "x", "--tree=dir=" + t["tree"]).Ok("commit");

        var r = await StopInTheMiddle("TERM", o => o.Err.Count > 0, "fsck", "--repo=" + t["repo"], "--progress=json");
        Assert.Equal(143, r.Code);
        Assert.Equal("error: Operation was cancelled", r.Err[^1]);

        // checkout draws no progress. It builds the tree in a staging folder beside the destination and renames it into
        // place at the end: it is under way once the staging folder has its first folder; stopped, it leaves neither.
        var parent = Directory.CreateDirectory(t["out"]).FullName;
        r = await StopInTheMiddle("INT", _ => Directory.GetDirectories(parent).Any(d => Directory.Exists(Path.Combine(d, "d0"))), "checkout", "--repo=" + t["repo"], "x", Path.Combine(parent, "co"));
        Assert.Equal(130, r.Code);
        Assert.Equal("error: Operation was cancelled", r.Err[^1]);
        Assert.Empty(Directory.GetFileSystemEntries(parent));
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task Serve_ends_gracefully_on_a_signal(string signal)
    {
        using var t = new TempDir();
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=archive").Ok("init");
        var r = await StopInTheMiddle(signal, o => o.Out.Count > 0, "serve", "--repo=" + t["repo"], "--port=0", "--quiet");
        Assert.StartsWith("Serving ", r.Out[0], StringComparison.Ordinal);
        Assert.Equal(0, r.Code);
        Assert.Equal("Stopped", string.Join('\n', r.Out.Skip(1)).Trim());
        Assert.Equal(string.Empty, string.Join('\n', r.Err).Trim());
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
