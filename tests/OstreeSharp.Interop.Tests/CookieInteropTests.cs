namespace OstreeSharp.Interop.Tests;

/// <summary><c>remote add-cookie</c>, <c>delete-cookie</c> and <c>list-cookies</c>: the same jar file and listing as ostree's.</summary>
public class CookieInteropTests
{
    // The expiry (25 years from the second each tool ran) is the one field that may differ.
    private static string Masked(string jar) =>
        string.Join('\n', jar.Split('\n').Select(l => l.Split('\t') is { Length: 7 } f ? string.Join('\t', f[..4].Append("EXPIRES").Concat(f[5..])) : l));

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Cookie_jars_are_written_edited_and_listed_as_ostree_does(string peer)
    {
        using var t = new TempDir();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var repo = t[tool];
            run(["init", "--repo=" + repo, "--mode=archive"]).Ok("init");
            run(["remote", "add", "--repo=" + repo, "--no-gpg-verify", "origin", "http://127.0.0.1:1/repo"]).Ok("remote add");
            run(["remote", "add-cookie", "--repo=" + repo, "origin", "127.0.0.1", "/", "foo", "bar"]).Ok("add-cookie");
            run(["remote", "add-cookie", "--repo=" + repo, "origin", ".example.com", "/repo", "baz", "badger"]).Ok("add-cookie");
            run(["remote", "add-cookie", "--repo=" + repo, "origin", "127.0.0.1", "/", "gone", "soon"]).Ok("add-cookie");
            run(["remote", "delete-cookie", "--repo=" + repo, "origin", "127.0.0.1", "/", "gone"]).Ok("delete-cookie");
            var missing = run(["remote", "delete-cookie", "--repo=" + repo, "origin", "127.0.0.1", "/", "never-there"]);
            Assert.True(missing.ExitCode == 1 && missing.Stderr.Trim() == "error: Cookie not found in jar", tool + ": " + missing.Stderr);
        }

        var jar = "origin.cookies.txt";
        Assert.Equal(Masked(File.ReadAllText(Path.Combine(t["theirs"], jar))), Masked(File.ReadAllText(Path.Combine(t["ours"], jar))));

        // ostree 2022.7 reads the jar named by the remote from the current folder, so both list from the repository.
        File.Copy(Path.Combine(t["ours"], jar), Path.Combine(t["theirs"], jar), overwrite: true);
        var theirs = Tools.Run(Tools.PeerCommand(peer), ["remote", "list-cookies", "--repo=" + t["theirs"], "origin"], cwd: t["theirs"]).Ok("ostree list-cookies");
        Assert.Equal(theirs, Tools.Ours("remote", "list-cookies", "--repo=" + t["theirs"], "origin").Ok("our list-cookies"));
        Assert.Contains("Name: baz", theirs);
    }
}
