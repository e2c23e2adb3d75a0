using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// <c>kill -9</c> at seeded random moments of commit, pull, pull-local, <c>container image pull</c>, <c>admin
/// deploy</c> and <c>install</c> (issue "Hostile inputs and faults", item 3). After each kill our fsck and the real
/// ostree's pass, every ref names a complete commit, and the next run succeeds and leaves no staging folder behind.
/// <c>OSTREE_SHARP_FAULT_RUNS</c> scales the runs (bench/fault-inject.sh: 40 per operation), <c>OSTREE_SHARP_FAULT_SEED</c>
/// picks the moments, <c>OSTREE_SHARP_FAULT_REPORT</c> names a file that gets one JSON line per operation.
/// </summary>
public class FaultInjectionTests(FaultInjectionTests.SourceFixture source) : IClassFixture<FaultInjectionTests.SourceFixture>
{
    private static int Scale => int.TryParse(Environment.GetEnvironmentVariable("OSTREE_SHARP_FAULT_RUNS"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 0;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("OSTREE_SHARP_FAULT_SEED"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 24;

    // A tree that takes a noticeable time to commit: a few thousand small files and some larger ones, the same bytes
    // every run.
    private static void WriteTree(string root)
    {
        var rng = new Random(7);
        for (int d = 0; d < 40; d++)
        {
            var dir = Path.Combine(root, "usr", "share", $"d{d:D2}");
            Directory.CreateDirectory(dir);
            for (int f = 0; f < 60; f++)
            {
                var bytes = new byte[rng.Next(16, 4096)];
                rng.NextBytes(bytes);
                File.WriteAllBytes(Path.Combine(dir, $"f{f:D3}"), bytes);
            }
        }

        for (int i = 0; i < 6; i++)
        {
            var big = new byte[2 << 20];
            rng.NextBytes(big);
            File.WriteAllBytes(Path.Combine(root, "usr", $"big{i}"), big);
        }
    }

    private static Process Start(IEnumerable<string> args)
    {
        var p = Tools.StartOurs([.. args]);
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        return p;
    }

    private static RunResult Ours(IEnumerable<string> args) => Tools.Ours([.. args]);

    /// <summary>The commit each ref names exists and no pull left it partial.</summary>
    private static void AssertRefsComplete(string repo, string what)
    {
        var refs = Tools.Ours("refs", "--repo=" + repo).Ok("refs").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var r in refs)
        {
            var c = Tools.Ours("rev-parse", "--repo=" + repo, r).Ok("rev-parse " + r);
            Assert.True(File.Exists(Path.Combine(repo, "objects", c[..2], c[2..] + ".commit")), $"{what}: ref {r} names a missing commit");
            Assert.False(File.Exists(Path.Combine(repo, "state", c + ".commitpartial")), $"{what}: ref {r} names a partial commit");
        }
    }

    private static void AssertConsistent(string repo, string what)
    {
        if (!File.Exists(Path.Combine(repo, "config")))
        {
            return; // killed before the repository existed
        }

        Tools.Ours("fsck", "--repo=" + repo).Ok($"{what}: our fsck");
        Tools.Ostree("fsck", "--repo=" + repo).Ok($"{what}: ostree fsck");
        AssertRefsComplete(repo, what);
    }

    private static void AssertNoStaging(string repo, string what)
    {
        var tmp = Path.Combine(repo, "tmp");
        if (Directory.Exists(tmp))
        {
            var left = Directory.EnumerateFileSystemEntries(tmp, "staging-*").ToList();
            Assert.True(left.Count == 0, $"{what}: left {string.Join(' ', left)}");
        }
    }

    // One operation: a fresh target for each run, the command, and the checks after a kill and after the next run.
    private sealed record Scenario(
        string Name,
        int Runs,
        Func<TempDir, int, string[]> Prepare,
        Func<TempDir, int, string> RepoOf,
        Func<TempDir, int, string[]>? Rerun = null,
        Action<TempDir, int>? AfterRerun = null);

    /// <summary>The source repository and image every run reads.</summary>
    public sealed class SourceFixture : IDisposable
    {
        private readonly TempDir _t = new();

        public SourceFixture()
        {
            WriteTree(Tree);
            Tools.Ours("init", "--repo=" + Archive, "--mode=archive").Ok("init");
            Tools.Ours("commit", "--repo=" + Archive, "-b", "os", "--timestamp=2024-01-01", Tree).Ok("commit");
            Tools.Ours("container", "encapsulate", "--repo=" + Archive, "os", $"oci:{Layout}:v1").Ok("encapsulate");

            // A bootable image of the same files for install.
            SysrootTests.WriteOsTree(_t["os"], 1);
            Tools.Ours("commit", "--repo=" + Archive, "-b", "bootable", "--tree=dir=" + _t["os"], "--tree=dir=" + Tree, "--owner-uid=0", "--owner-gid=0", "--bootable", "--timestamp=@1700000000").Ok("commit");
            Tools.Ours("container", "encapsulate", "--repo=" + Archive, "--label=containers.bootc=1", "bootable", $"oci:{Layout}:os").Ok("encapsulate");
        }

        public string Tree => _t["tree"];

        public string Archive => _t["src"];

        public string Layout => _t["layout"];

        public void Dispose() => _t.Dispose();
    }

    private Scenario Make(string name, HttpServers servers, int runs)
    {
        var (tree, archive, layout) = (source.Tree, source.Archive, source.Layout);
        switch (name)
        {
            case "commit":
                return new Scenario(name, runs, (t, i) =>
                {
                    Tools.Ours("init", "--repo=" + t[$"r{i}"], "--mode=bare-user").Ok("init");
                    return ["commit", "--repo=" + t[$"r{i}"], "-b", "os", "--timestamp=2024-01-01", tree];
                }, (t, i) => t[$"r{i}"]);
            case "pull-local":
                return new Scenario(name, runs, (t, i) =>
                {
                    Tools.Ours("init", "--repo=" + t[$"r{i}"], "--mode=archive").Ok("init");
                    return ["pull-local", "--repo=" + t[$"r{i}"], archive, "os"];
                }, (t, i) => t[$"r{i}"]);
            case "pull":
                {
                    var url = servers.Static(archive);
                    return new Scenario(name, runs, (t, i) =>
                    {
                        Tools.Ours("init", "--repo=" + t[$"r{i}"], "--mode=bare-user").Ok("init");
                        Tools.Ours("remote", "add", "--repo=" + t[$"r{i}"], "--no-gpg-verify", "origin", url).Ok("remote add");
                        return ["pull", "--repo=" + t[$"r{i}"], "origin", "os"];
                    }, (t, i) => t[$"r{i}"]);
                }

            case "container-image-pull":
                return new Scenario(name, runs, (t, i) =>
                {
                    Tools.Ours("init", "--repo=" + t[$"r{i}"], "--mode=bare-user").Ok("init");
                    return ["container", "image", "pull", t[$"r{i}"], $"ostree-unverified-image:oci:{layout}:v1"];
                }, (t, i) => t[$"r{i}"], AfterRerun: (t, i) =>
                    Assert.Equal($"oci:{layout}:v1", Tools.Ours("container", "image", "list", "--repo=" + t[$"r{i}"]).Ok("image list")));
            case "admin-deploy":
                return new Scenario(name, runs, (t, i) =>
                {
                    var sr = t[$"s{i}"];
                    Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
                    Tools.Ours("admin", "os-init", "--sysroot=" + sr, "exampleos").Ok("os-init");
                    SysrootTests.WriteOsTree(t[$"tree{i}"], 1);
                    Tools.Ours("commit", "--repo=" + Path.Combine(sr, "ostree/repo"), "--branch=exampleos/stable", "--tree=dir=" + t[$"tree{i}"], "--tree=dir=" + tree,
                        "--owner-uid=0", "--owner-gid=0", "--no-xattrs", "--bootable", "--timestamp=@1700000000").Ok("commit");
                    return ["admin", "deploy", "--sysroot=" + sr, "--os=exampleos", "--karg=root=LABEL=root", "exampleos/stable"];
                }, (t, i) => Path.Combine(t[$"s{i}"], "ostree/repo"), AfterRerun: (t, i) =>
                {
                    var sr = t[$"s{i}"];
                    var status = Tools.Ostree("admin", "status", "--sysroot=" + sr).Ok("ostree admin status");
                    Assert.Contains("exampleos", status);
                    // A folder the killed run left is gone: one folder per deployment (two when the kill came after
                    // the boot swap, which made the killed run's deployment the rollback of the next).
                    var dirs = Directory.GetDirectories(Path.Combine(sr, "ostree/deploy/exampleos/deploy"));
                    int deployments = status.Split('\n').Count(l => l.TrimStart('*', ' ').StartsWith("exampleos ", StringComparison.Ordinal));
                    Assert.True(dirs.Length == deployments, $"{dirs.Length} folders for {deployments} deployments: {string.Join(' ', dirs.Select(Path.GetFileName))}\n{status}");
                });
            case "install":
                return new Scenario(name, runs, (t, i) =>
                {
                    Directory.CreateDirectory(t[$"root{i}"]);
                    return ["install", "to-filesystem", t[$"root{i}"], "--source-imgref", $"oci:{layout}:os", "--root-mount-spec", "LABEL=root", "--boot-mount-spec", string.Empty, "--skip-fetch-check"];
                }, (t, i) => Path.Combine(t[$"root{i}"], "ostree/repo"),
                Rerun: (t, i) => ["install", "to-filesystem", t[$"root{i}"], "--replace=wipe", "--source-imgref", $"oci:{layout}:os", "--root-mount-spec", "LABEL=root", "--boot-mount-spec", string.Empty, "--skip-fetch-check"],
                AfterRerun: (t, i) => Tools.Ostree("admin", "status", "--sysroot=" + t[$"root{i}"]).Ok("ostree admin status"));
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, "no such scenario");
        }
    }

    [Theory]
    [InlineData("commit", 4)]
    [InlineData("pull", 4)]
    [InlineData("pull-local", 4)]
    [InlineData("container-image-pull", 4)]
    [InlineData("admin-deploy", 2)]
    [InlineData("install", 2)]
    public void Kill_9_at_random_moments_leaves_nothing_broken_and_the_next_run_succeeds(string operation, int runs)
    {
        using var servers = new HttpServers();
        var s = Make(operation, servers, Scale > 0 ? Scale : runs);
        using var t = new TempDir();
        var rng = new Random(Seed + operation.Sum(c => c));

        // How long an uninterrupted run takes: the kills land anywhere in it.
        var args = s.Prepare(t, -1);
        var clock = Stopwatch.StartNew();
        Ours(args).Ok(operation + ": a run to time");
        var full = clock.Elapsed;

        // A run that ends before its kill (later runs can be faster than the timed one: warm caches) is tried again
        // on a fresh target with half the delay, so every run tests a kill.
        int landed = 0, failures = 0, target = 0;
        var problems = new List<string>();
        for (int i = 0; i < s.Runs; i++)
        {
            var delay = TimeSpan.FromTicks((long)(rng.NextDouble() * full.Ticks));
            bool killed = false;
            int idx = -1;
            for (int attempt = 0; attempt < 8; attempt++)
            {
                idx = target++;
                args = s.Prepare(t, idx);
                using var p = Start(args);
                killed = !p.WaitForExit(delay);
                if (killed)
                {
                    p.Kill();
                }

                p.WaitForExit();
                if (killed)
                {
                    break;
                }

                delay /= 2;
            }

            if (!killed)
            {
                problems.Add($"{operation} run {i}: the command ended before each of 8 kills, the last after {delay.TotalMilliseconds * 2:F0} ms");
                failures++;
                continue;
            }

            landed++;
            var what = $"{operation} run {i} killed after {delay.TotalMilliseconds:F0} ms";
            try
            {
                if (operation != "install")
                {
                    AssertConsistent(s.RepoOf(t, idx), what);
                }

                Ours(s.Rerun?.Invoke(t, idx) ?? args).Ok(what + ": the next run");
                AssertConsistent(s.RepoOf(t, idx), what + ", after the next run");
                AssertNoStaging(s.RepoOf(t, idx), what + ", after the next run");
                s.AfterRerun?.Invoke(t, idx);
            }
            catch (Exception e) when (e is Xunit.Sdk.XunitException)
            {
                failures++;
                problems.Add(e.Message);
            }
        }

        if (Environment.GetEnvironmentVariable("OSTREE_SHARP_FAULT_REPORT") is { Length: > 0 } report)
        {
            File.AppendAllText(report, JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["operation"] = operation,
                ["runs"] = s.Runs,
                ["killed"] = landed,
                ["tries"] = target,
                ["failures"] = failures,
                ["fullRunMs"] = (long)full.TotalMilliseconds,
            }) + "\n");
        }

        Assert.True(failures == 0, string.Join('\n', problems));
        Assert.Equal(s.Runs, landed);
    }
}
