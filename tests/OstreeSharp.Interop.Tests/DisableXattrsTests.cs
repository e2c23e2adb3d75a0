using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// <c>core.disable-xattrs</c>, for filesystems without extended attributes: with it the real ostree and ours commit
/// a tree without its xattrs (the same checksum as <c>--no-xattrs</c>), copy the files of a commit that has some out of
/// a bare repository without them, and diff a directory against a commit ignoring them.
/// </summary>
public sealed class DisableXattrsTests
{
    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Xattrs_are_neither_read_nor_written_as_in_ostree(string version)
    {
        using var t = new TempDir();
        var tree = t["tree"];
        Directory.CreateDirectory(Path.Combine(tree, "d"));
        File.WriteAllText(Path.Combine(tree, "d/f"), "with an attribute\n");
        Native.SetXattr(Path.Combine(tree, "d/f"), "user.test", "file"u8.ToArray());
        Native.SetXattr(Path.Combine(tree, "d"), "user.test", "dir"u8.ToArray());

        var results = new List<string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(version))
        {
            var repo = t[tool + "-repo"];
            run(["init", "--repo=" + repo, "--mode=bare"]).Ok($"{tool} init");
            string Commit(params string[] extra) =>
                run(["commit", "--repo=" + repo, "--orphan", "--timestamp=2024-01-01", "--owner-uid=0", "--owner-gid=0", .. extra, tree]).Ok($"{tool} commit").Trim();
            var withXattrs = Commit();
            var without = Commit("--no-xattrs");
            Assert.NotEqual(withXattrs, without);
            run(["config", "--repo=" + repo, "set", "core.disable-xattrs", "true"]).Ok($"{tool} config");
            Assert.Equal(without, Commit());

            // The files of a commit that has xattrs are copied out of a bare repository without them (a hardlink is the
            // object, which has them); its folders get theirs, from their dirmeta, as libostree gives them.
            var co = t[tool + "-co"];
            run(["checkout", "--repo=" + repo, "--force-copy", withXattrs, co]).Ok($"{tool} checkout");
            Assert.Equal("with an attribute\n", File.ReadAllText(Path.Combine(co, "d/f")));
            Assert.Null(Native.GetXattr(Path.Combine(co, "d/f"), "user.test"));
            Assert.Equal("dir"u8.ToArray(), Native.GetXattr(Path.Combine(co, "d"), "user.test"));

            // A diff against a directory ignores them; without the setting it sees them.
            Native.SetXattr(Path.Combine(tree, "d/f"), "user.test", "changed"u8.ToArray());
            var ignoring = run(["diff", "--repo=" + repo, withXattrs, tree]).Ok($"{tool} diff");
            run(["config", "--repo=" + repo, "set", "core.disable-xattrs", "false"]).Ok($"{tool} config");
            var seeing = run(["diff", "--repo=" + repo, withXattrs, tree]).Ok($"{tool} diff");
            Native.SetXattr(Path.Combine(tree, "d/f"), "user.test", "file"u8.ToArray());
            results.Add($"{withXattrs} {without}\nignoring:\n{ignoring}\nseeing:\n{seeing}");
        }

        Assert.Equal(results[0], results[1]);
        Assert.Contains("seeing:\nM    /d/f", results[1], StringComparison.Ordinal);
    }
}
