namespace OstreeSharp.Interop.Tests;

/// <summary>
/// <c>find-remotes</c> (the config and mount finders, then <c>--pull</c> and <c>--pull --mirror</c>) and
/// <c>create-usb</c>, side by side with the real ostree on the same upstream repositories.
/// </summary>
public class FindRemotesInteropTests
{
    private const string Apps = "org.example.Apps", Os = "org.example.Os";

    // Two collection repositories signed with one key, and a mirror of the OS one that falls behind it.
    private static (string AppsRepo, string OsRepo, string MirrorRepo, string KeyFile) Upstream(string peer, TempDir t, Gpg g)
    {
        var key = g.NewKey("finder");
        File.WriteAllText(t["key.asc"], g.Run("--armor", "--export", key).Ok("export"));
        Directory.CreateDirectory(t["files"]);
        File.WriteAllText(t["files/a"], "a\n");
        string Commit(string repo, string branch, string date) =>
            Tools.Peer(peer, "commit", "--repo=" + repo, "-b", branch, "--timestamp=" + date, "-s", branch, "--gpg-sign=" + key, "--gpg-homedir=" + g.Home, t["files"]).Ok("commit " + branch).Trim();
        foreach (var (repo, collection) in new[] { ("apps", Apps), ("os", Os) })
        {
            Tools.Peer(peer, "init", "--repo=" + t[repo], "--mode=archive", "--collection-id=" + collection).Ok("init " + repo);
        }

        Commit(t["apps"], "app1", "2024-01-01");
        Commit(t["apps"], "app2", "2024-01-02");
        Commit(t["os"], "os/main", "2024-01-03");
        Tools.Peer(peer, "summary", "-u", "--repo=" + t["apps"]).Ok("summary apps");
        Tools.Peer(peer, "summary", "-u", "--repo=" + t["os"]).Ok("summary os");

        // The mirror has the OS ref as it was; then the OS repository moves on.
        Tools.Peer(peer, "init", "--repo=" + t["mirror"], "--mode=archive").Ok("init mirror");
        Tools.Peer(peer, "remote", "add", "--repo=" + t["mirror"], "--no-gpg-verify", "--collection-id=" + Os, "os", "file://" + t["os"]).Ok("mirror remote");
        Tools.Peer(peer, "pull", "--repo=" + t["mirror"], "--mirror", "os", "os/main").Ok("mirror pull");
        Tools.Peer(peer, "summary", "-u", "--repo=" + t["mirror"]).Ok("summary mirror");
        File.WriteAllText(t["files/b"], "b\n");
        Commit(t["os"], "os/main", "2024-01-04");
        Tools.Peer(peer, "summary", "-u", "--repo=" + t["os"]).Ok("summary os again");
        return (t["apps"], t["os"], t["mirror"], t["key.asc"]);
    }

    private static void AddRemotes(Func<string[], RunResult> run, string repo, string apps, string os, string mirror, string key)
    {
        run(["init", "--repo=" + repo, "--mode=bare-user"]).Ok("init");
        run(["remote", "add", "--repo=" + repo, "--collection-id=" + Apps, "--gpg-import=" + key, "apps-remote", "file://" + apps]).Ok("remote apps");
        run(["remote", "add", "--repo=" + repo, "--collection-id=" + Os, "--gpg-import=" + key, "os-remote", "file://" + os]).Ok("remote os");
        run(["remote", "add", "--repo=" + repo, "--collection-id=" + Os, "--gpg-import=" + key, "os-mirror", "file://" + mirror]).Ok("remote mirror");
    }

    private static string Refs(Func<string[], RunResult> run, string repo) =>
        string.Join('\n', run(["refs", "--repo=" + repo]).Ok("refs").Split('\n').Order(StringComparer.Ordinal))
        + "\n--\n" + string.Join('\n', run(["refs", "--repo=" + repo, "--collections"]).Ok("refs --collections").Split('\n').Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Config_finder_reports_and_pulls_the_newest_commits_as_ostree(string peer)
    {
        using var t = new TempDir();
        using var g = new Gpg();
        var (apps, os, mirror, key) = Upstream(peer, t, g);
        var seen = new Dictionary<string, string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var repo = t[tool];
            AddRemotes(run, repo, apps, os, mirror, key);
            string[] wanted = [Apps, "app1", Apps, "app2", Os, "os/main", Apps, "not-an-app"];
            var found = run(["find-remotes", "--repo=" + repo, "--finders=config", .. wanted]).Ok("find-remotes");

            // Refused as ostree refuses them, in its words.
            var odd = run(["find-remotes", "--repo=" + repo, "--finders=config", Apps]);
            var mirrorAlone = run(["find-remotes", "--repo=" + repo, "--mirror", Apps, "app1"]);
            var twice = run(["find-remotes", "--repo=" + repo, "--finders=config,config", Apps, "app1"]);
            Assert.NotEqual(0, odd.ExitCode);
            Assert.NotEqual(0, mirrorAlone.ExitCode);
            Assert.NotEqual(0, twice.ExitCode);
            var errors = string.Join('\n', new[] { odd, mirrorAlone, twice }.Select(r => r.Stderr.Split('\n').Last(l => l.Contains("error", StringComparison.Ordinal))));

            var pulled = run(["find-remotes", "--repo=" + repo, "--finders=config", "--pull", Apps, "app1", Apps, "app2", Os, "os/main"]).Ok("find-remotes --pull");
            var mirrored = t[tool + "-mirror"];
            run(["init", "--repo=" + mirrored, "--mode=archive"]).Ok("init mirror");
            foreach (var line in run(["remote", "list", "--repo=" + repo, "-u"]).Ok("remote list").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                run(["remote", "add", "--repo=" + mirrored, "--collection-id=" + (parts[0].StartsWith("apps", StringComparison.Ordinal) ? Apps : Os), "--gpg-import=" + key, parts[0], parts[1]]).Ok("remote add");
            }

            var mirrorPulled = run(["find-remotes", "--repo=" + mirrored, "--finders=config", "--pull", "--mirror", Os, "os/main"]).Ok("find-remotes --pull --mirror");
            seen[tool] = $"{found}\n==\n{errors}\n==\n{pulled}\n==\n{Refs(run, repo)}\n==\n{mirrorPulled}\n==\n{Refs(run, mirrored)}";
        }

        Assert.Equal(seen["theirs"], seen["ours"]);
        var osNow = Tools.Peer(peer, "rev-parse", "--repo=" + os, "os/main").Ok("rev-parse").Trim();
        Assert.Contains($"    - (org.example.Os, os/main) = {osNow}", seen["ours"], StringComparison.Ordinal);
        Assert.DoesNotContain("file://" + mirror, seen["ours"], StringComparison.Ordinal); // it has os/main, but not the newest
        Assert.Contains("3/4 refs were found.", seen["ours"], StringComparison.Ordinal);
        Assert.Contains(" - (org.example.Apps, not-an-app)", seen["ours"], StringComparison.Ordinal);
        Assert.Contains("Pulled 3/3 refs successfully.", seen["ours"], StringComparison.Ordinal);
        Assert.Contains($"(org.example.Os, os/main)", seen["ours"], StringComparison.Ordinal);
    }

    [Fact]
    public void A_repository_that_fails_its_signature_check_is_not_pulled()
    {
        using var t = new TempDir();
        using var g = new Gpg();
        var (apps, os, mirror, _) = Upstream(Tools.V2026, t, g);
        var other = g.NewKey("stranger");
        File.WriteAllText(t["stranger.asc"], g.Run("--armor", "--export", other).Ok("export"));
        var repo = t["ours"];
        AddRemotes(Tools.Ours, repo, apps, os, mirror, t["stranger.asc"]);
        var r = Tools.Ours("find-remotes", "--repo=" + repo, "--finders=config", "--pull", Apps, "app1");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Failed to pull some refs from the remotes: (org.example.Apps, app1)", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("app1", Tools.Ours("refs", "--repo=" + repo).Ok("refs"), StringComparison.Ordinal);
    }

    // Runs a tool in a mount namespace of its own where the file system image is mounted at /media/usb (over a tmpfs
    // on /media, so nothing of the machine's /media changes), as a desktop mounts removable media; nothing of it is seen
    // outside. (GLib, whose choice of mounts libostree's finder takes, hides bind mounts of folders.)
    private static RunResult OnMountedStick(string[] tool, string image, params string[] args)
    {
        var command = string.Join(' ', tool.Concat(args).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        return Tools.Run("unshare", ["-m", "--propagation", "private", "sh", "-c", $"mount -t tmpfs none /media && mkdir /media/usb && mount -o loop,ro '{image}' /media/usb && exec {command}"]);
    }

    [Fact]
    public void Create_usb_writes_what_ostree_writes_and_the_mount_finder_reads_either()
    {
        using var t = new TempDir();
        using var g = new Gpg();
        var peer = Tools.V2026;
        var (apps, os, mirror, key) = Upstream(peer, t, g);
        string[] ours = Tools.OursArgv;
        var views = new Dictionary<string, string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var local = t[tool + "-local"];
            AddRemotes(run, local, apps, os, mirror, key);
            run(["pull", "--repo=" + local, "apps-remote", "app1", "app2"]).Ok("pull apps");
            run(["pull", "--repo=" + local, "os-remote", "os/main"]).Ok("pull os");
            var stick = t[tool + "-stick"];
            Directory.CreateDirectory(stick);
            var copied = run(["create-usb", "--repo=" + local, stick, Apps, "app1", Os, "os/main"]).Ok("create-usb");
            var again = run(["create-usb", "--repo=" + local, "--destination-repo=some/where", stick, Apps, "app2"]).Ok("create-usb elsewhere");
            var link = new FileInfo(Path.Combine(stick, ".ostree/repos.d/00-generated")).LinkTarget;
            var repo = Path.Combine(stick, ".ostree/repo");
            views[tool] = $"{copied.Replace(local, "LOCAL", StringComparison.Ordinal).Replace(stick, "STICK", StringComparison.Ordinal)}{again.Replace(local, "LOCAL", StringComparison.Ordinal).Replace(stick, "STICK", StringComparison.Ordinal)}"
                + $"{link}\n{Refs(run, repo)}\n{Refs(run, Path.Combine(stick, "some/where"))}\n"
                + File.ReadAllText(Path.Combine(repo, "config"));
            Assert.True(File.Exists(Path.Combine(repo, "summary")), tool + ": a summary");
            var missing = run(["create-usb", "--repo=" + local, t["no-such-mount"], Apps, "app1"]);
            Assert.NotEqual(0, missing.ExitCode);
        }

        Assert.Equal(views["theirs"], views["ours"]);
        Assert.Contains("(org.example.Apps, app1)", views["ours"], StringComparison.Ordinal);

        // Each tool's mount finder, on each tool's stick (an ext4 image of it), from repositories with the same remotes.
        var found = new Dictionary<string, string>();
        foreach (var creator in new[] { "theirs", "ours" })
        {
            var image = t[creator + "-stick.img"];
            Tools.Run("mkfs.ext4", ["-q", "-d", t[creator + "-stick"], image, "32M"]).Ok("mkfs.ext4 -d");
            foreach (var (tool, binary) in new[] { ("theirs", new[] { Tools.PeerCommand(peer) }), ("ours", ours) })
            {
                var repo = t[$"{tool}-finder-{creator}"];
                AddRemotes(a => Tools.Run(binary[0], [.. binary[1..], .. a]), repo, apps, os, mirror, key);
                var r = OnMountedStick(binary, image, "find-remotes", "--repo=" + repo, "--finders=mount", Apps, "app1", Apps, "app2", Os, "os/main");
                var pulled = OnMountedStick(binary, image, "find-remotes", "--repo=" + repo, "--finders=mount", "--pull", Apps, "app1", Os, "os/main");
                found[tool] = r.Ok($"{tool} find-remotes on {creator}'s stick") + pulled.Ok($"{tool} find-remotes --pull on {creator}'s stick")
                    + Refs(a => Tools.Run(binary[0], [.. binary[1..], .. a]), repo);
            }

            Assert.Equal(found["theirs"], found["ours"]);
            Assert.Contains(" - Finder: OstreeRepoFinderMount", found["ours"], StringComparison.Ordinal);
            Assert.Contains("Pulled 2/2 refs successfully.", found["ours"], StringComparison.Ordinal);
        }
    }
}
