using OstreeSharp.Operations;

namespace OstreeSharp.Interop.Tests;

/// <summary>Collection refs (refs --collections, mirrors) and the summary's collection map, as ostree makes them.</summary>
public class CollectionInteropTests
{
    // A summary view without what depends on the second it was made: Last-Modified, and the ostree-metadata commit's
    // checksum and time.
    private static IEnumerable<string> WithoutTimes(string view)
    {
        bool inMetadata = false;
        foreach (var line in view.Split('\n'))
        {
            if (line.StartsWith("* ", StringComparison.Ordinal))
            {
                inMetadata = line.EndsWith("ostree-metadata)", StringComparison.Ordinal);
            }
            else if (line.StartsWith("Last-Modified", StringComparison.Ordinal) || (inMetadata && line.StartsWith("    ", StringComparison.Ordinal))
                || line == "Summary is unsigned") // ostree 2026.4's last line; 2022.7 and we print none
            {
                continue;
            }

            yield return line;
        }
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Collection_refs_and_the_summary_collection_map_match_ostree(string peer)
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["tree"]);
        File.WriteAllText(t["tree/a"], "a\n");
        var views = new Dictionary<string, string>();
        foreach (var (tool, run) in Tools.TheirsAndOurs(peer))
        {
            var repo = "--repo=" + t[tool];
            run(["init", repo, "--mode=archive", "--collection-id=org.example.Main"]).Ok("init");
            foreach (var b in new[] { "b-2", "a-1" })
            {
                run(["commit", repo, "-b", b, "--timestamp=2024-01-01", "-s", b, t["tree"]]).Ok("commit " + b);
            }

            run(["refs", repo, "--collections", "--create=org.example.Other:mirror-1", "a-1"]).Ok("refs --create mirror");
            run(["refs", repo, "--collections", "--create=org.example.Main:local-1", "b-2"]).Ok("refs --create local");
            run(["refs", repo, "--collections", "--create=org.example.Other:mirror-1", "a-1"]).Ok("refs --create again (ostree replaces it)");
            Assert.NotEqual(0, run(["refs", repo, "--collections", "--create=not-a-collection:x", "a-1"]).ExitCode);
            run(["summary", repo, "-u"]).Ok("summary -u");

            // Everything but the time the summary was made.
            var listing = string.Join('\n', run(["refs", repo, "--collections"]).Ok("refs --collections").Split('\n').Order(StringComparer.Ordinal));
            var filtered = run(["refs", repo, "--collections", "org.example.Other"]).Ok("refs --collections ID");
            var view = string.Join('\n', WithoutTimes(run(["summary", repo, "--view"]).Ok("summary --view")));

            // The metadata commit summary -u made: an empty tree bound to the collection, made now.
            var metadata = string.Join('\n', run(["show", repo, "ostree-metadata"]).Ok("show ostree-metadata").Split('\n').Where(l => !l.StartsWith("commit ", StringComparison.Ordinal) && !l.StartsWith("Date:", StringComparison.Ordinal)))
                + run(["show", repo, "--print-metadata-key=ostree.collection-binding", "ostree-metadata"]).Ok("binding")
                + run(["ls", repo, "-R", "ostree-metadata"]).Ok("ls");
            views[tool] = $"{listing}\n--\n{filtered}\n--\n{view}\n--\n{metadata}";
            run(["refs", repo, "--collections", "--delete", "org.example.Other"]).Ok("refs --collections --delete");
            views[tool] += "\n--\n" + string.Join('\n', run(["refs", repo, "--collections"]).Ok("refs after delete").Split('\n').Order(StringComparer.Ordinal));
        }

        Assert.Equal(views["theirs"], views["ours"]);
        Assert.Contains("(org.example.Main, ostree-metadata)", views["ours"]);
        Assert.Contains("(org.example.Other, mirror-1)", views["ours"]);
        Assert.Contains("Collection Map (ostree.summary.collection-map): (printed above)", views["ours"]);
    }
}
