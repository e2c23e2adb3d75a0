using System.Diagnostics;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Locks that libostree and we both honour: the repository's <c>.lock</c> (shared for writers, exclusive for prune),
/// a transaction's staging folder, and the sysroot's <c>ostree/lock</c>. libostree takes them as OFD locks, which
/// conflict with POSIX record locks (a third process holds one here) but not with flock; a transaction of ours held
/// in this process must stop the real ostree too. With <c>core.locking=false</c> nothing is locked.
/// </summary>
public sealed class LockInteropTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly List<Process> _holders = [];

    public void Dispose()
    {
        foreach (var p in _holders)
        {
            HttpServers.Stop(p);
            p.Dispose();
        }

        _tmp.Dispose();
    }

    // A process that holds a POSIX record lock (lockf) on PATH until it is stopped.
    private Process Hold(string path, bool exclusive)
    {
        var script = $$"""
            import fcntl, os, sys
            fd = os.open({{Py(path)}}, os.O_RDWR | os.O_CREAT, 0o640)
            fcntl.lockf(fd, {{(exclusive ? "fcntl.LOCK_EX" : "fcntl.LOCK_SH")}})
            print("held", flush=True)
            sys.stdin.read()
            """;
        var psi = new ProcessStartInfo("python3") { ArgumentList = { "-c", script }, RedirectStandardInput = true, RedirectStandardOutput = true };
        var p = Process.Start(psi)!;
        _holders.Add(p);
        Assert.Equal("held", p.StandardOutput.ReadLine());
        return p;

        static string Py(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
    }

    private static void Release(Process p)
    {
        p.StandardInput.Close();
        p.WaitForExit();
    }

    private string Tree()
    {
        var tree = _tmp["tree"];
        Directory.CreateDirectory(tree);
        File.WriteAllText(Path.Combine(tree, "file"), "locked out\n");
        return tree;
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void The_repository_lock_stops_both_tools_alike(string version)
    {
        var repo = _tmp["repo"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        Tools.Ours("config", "--repo=" + repo, "set", "core.lock-timeout-secs", "0").Ok("config");
        var tree = Tree();
        foreach (var (tool, run) in Tools.TheirsAndOurs(version))
        {
            // An exclusive holder keeps writers out; a shared one lets them in and keeps prune out.
            var holder = Hold(Path.Combine(repo, ".lock"), exclusive: true);
            var commit = run(["commit", "--repo=" + repo, "-b", "main", "--timestamp=2024-01-01", tree]);
            Assert.NotEqual(0, commit.ExitCode);
            Assert.Contains("Locking repo shared failed: Resource temporarily unavailable", commit.Stderr, StringComparison.Ordinal);
            Release(holder);

            holder = Hold(Path.Combine(repo, ".lock"), exclusive: false);
            run(["commit", "--repo=" + repo, "-b", "main", "--timestamp=2024-01-01", tree]).Ok($"{tool} commit beside a reader");
            var prune = run(["prune", "--repo=" + repo, "--refs-only"]);
            Assert.NotEqual(0, prune.ExitCode);
            Assert.Contains("Locking repo exclusive failed: Resource temporarily unavailable", prune.Stderr, StringComparison.Ordinal);
            Release(holder);
            if (tool == "ours")
            {
                Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(repo, "tmp"), "staging-*"));
            }
        }

        // Locking off: neither takes the lock.
        Tools.Ours("config", "--repo=" + repo, "set", "core.locking", "false").Ok("config");
        var exclusive = Hold(Path.Combine(repo, ".lock"), exclusive: true);
        foreach (var (tool, run) in Tools.TheirsAndOurs(version))
        {
            run(["commit", "--repo=" + repo, "-b", "main", "--timestamp=2024-01-01", tree]).Ok($"{tool} commit with locking off");
            run(["prune", "--repo=" + repo, "--refs-only"]).Ok($"{tool} prune with locking off");
        }

        Release(exclusive);
    }

    [Fact]
    public void A_transaction_of_ours_is_respected_by_ostree()
    {
        var repoPath = _tmp["repo"];
        Tools.Ours("init", "--repo=" + repoPath, "--mode=archive").Ok("init");
        Tools.Ours("config", "--repo=" + repoPath, "set", "core.lock-timeout-secs", "0").Ok("config");
        var tree = Tree();
        var repo = OstreeRepo.Open(repoPath);
        using (var tx = repo.BeginTransaction())
        {
            // Our shared lock keeps ostree's prune out.
            var prune = Tools.Peer(Tools.V2026, "prune", "--repo=" + repoPath, "--refs-only");
            Assert.NotEqual(0, prune.ExitCode);
            Assert.Contains("Locking repo exclusive failed: Resource temporarily unavailable", prune.Stderr, StringComparison.Ordinal);

            // ostree commits beside us, and neither takes nor removes our staging folder (libostree reuses or removes
            // any staging folder whose lock it can take).
            Tools.Peer(Tools.V2026, "commit", "--repo=" + repoPath, "-b", "theirs", "--timestamp=2024-01-01", tree).Ok("ostree commit");
            Assert.True(Directory.Exists(tx.StagingPath), "ostree took our staging folder");
            Assert.True(File.Exists(tx.StagingPath + "-lock"));
            tx.WriteMetadata(Objects.ObjectType.DirMeta, new Objects.DirMeta(0, 0, 0x41ED, Objects.Xattrs.Empty).ToBytes());
            tx.Commit();
        }

        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(repoPath, "tmp"), "staging-*"));
        Tools.Peer(Tools.V2026, "fsck", "--repo=" + repoPath).Ok("fsck");
        Tools.Peer(Tools.V2026, "prune", "--repo=" + repoPath, "--refs-only").Ok("prune once we are done");
    }

    [Fact]
    public async Task The_sysroot_lock_of_ours_holds_ostree_admin_back()
    {
        var sr = _tmp["sysroot"];
        Tools.Ours("admin", "init-fs", sr).Ok("init-fs");
        Tools.Ours("admin", "os-init", "--sysroot=" + sr, "exampleos").Ok("os-init");
        var sysroot = OstreeSysroot.Open(sr);
        using (sysroot.Lock())
        {
            var waited = Tools.Run("timeout", ["3", Tools.PeerCommand(Tools.V2026), "admin", "cleanup", "--sysroot=" + sr]);
            Assert.Equal(124, waited.ExitCode); // still waiting when timeout stopped it
            Assert.Contains("Waiting for sysroot lock", waited.Stdout + waited.Stderr, StringComparison.Ordinal);
        }

        Tools.Peer(Tools.V2026, "admin", "cleanup", "--sysroot=" + sr).Ok("cleanup once we let go");

        // And theirs holds ours back: a POSIX lock on the file (what ostree's OFD lock conflicts with, as ours does).
        // Our admin verbs then say so in ostree's words.
        var holder = Hold(Path.Combine(sr, "ostree/lock"), exclusive: true);
        var ourCleanup = Tools.Run("timeout", ["3", .. Tools.OursArgv, "admin", "cleanup", "--sysroot=" + sr]);
        Assert.Equal(124, ourCleanup.ExitCode);
        Assert.Equal("Waiting for sysroot lock...\n", ourCleanup.Stdout);
        var ours = Task.Run(() => sysroot.Lock());
        await Task.Delay(500);
        Assert.False(ours.IsCompleted, "took the sysroot lock while another process held it");
        Release(holder);
        (await ours.WaitAsync(TimeSpan.FromSeconds(20))).Dispose();
    }
}
