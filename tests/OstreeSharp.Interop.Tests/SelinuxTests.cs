using System.Security.Cryptography;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.SELinux;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// A Debian root with a compiled SELinux policy (<c>bench/make-os-tree.sh --packages selinux-policy-default</c>),
/// built once and kept under /var/tmp keyed by the script's hash; <c>OSTREE_SHARP_SELINUX_ROOT</c> names one.
/// </summary>
public sealed class SelinuxRootFixture
{
    private static readonly Lazy<string> Shared = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public SelinuxRootFixture()
    {
        Root = Shared.Value;
    }

    /// <summary>The root, built on first use (other fixtures share it: the delta tests upgrade a package of it).</summary>
    public static string SharedRoot => Shared.Value;

    private static string Build()
    {
        if (Environment.GetEnvironmentVariable("OSTREE_SHARP_SELINUX_ROOT") is { Length: > 0 } given && Directory.Exists(given))
        {
            return given;
        }

        var repoRoot = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(repoRoot, "OstreeSharp.slnx")))
        {
            repoRoot = Path.GetDirectoryName(repoRoot) ?? throw new InvalidOperationException("cannot find the repository root");
        }

        var script = Path.Combine(repoRoot, "bench", "make-os-tree.sh");
        var key = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(script)))[..12];
        var cache = "/var/tmp/ostree-sharp-test-cache";
        var root = Path.Combine(cache, "debian-selinux-" + key);
        if (Directory.Exists(root))
        {
            return root;
        }

        Directory.CreateDirectory(cache);
        var building = root + ".building";
        FileUtil.DeleteAny(building);
        Tools.Run("bash", [script, "--layout", "ostree", "--packages", "selinux-policy-default", building]).Ok("make-os-tree.sh with selinux-policy-default");
        Directory.Move(building, root);
        return root;
    }

    public string Root { get; }

    public string PolicyRoot => Path.Combine(Root, "usr/etc/selinux/default");
}

/// <summary>Labels from a policy, as libselinux and libostree give them.</summary>
public sealed class SelinuxTests(SelinuxRootFixture fixture) : IClassFixture<SelinuxRootFixture>, IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static IEnumerable<(string Path, uint Mode)> Walk(string root)
    {
        yield return ("/", Native.LStat(root).Mode);
        var stack = new Stack<(string Dir, string Rel)>([(root, string.Empty)]);
        while (stack.Count > 0)
        {
            var (dir, rel) = stack.Pop();
            foreach (var e in Directory.EnumerateFileSystemEntries(dir))
            {
                var r = rel + "/" + Path.GetFileName(e);
                var st = Native.LStat(e);
                yield return (r, st.Mode);
                if (st.Type == UnixMode.Directory)
                {
                    stack.Push((e, r));
                }
            }
        }
    }

    [Fact]
    public void Every_path_of_the_Debian_tree_gets_the_label_matchpathcon_gives()
    {
        var contexts = SePolicy.Load(fixture.Root).Contexts!;
        var paths = Walk(fixture.Root).ToList();
        Assert.True(paths.Count > 5000, $"only {paths.Count} paths");
        var types = new Dictionary<uint, string>
        {
            [UnixMode.Regular] = "file", [UnixMode.Directory] = "dir", [UnixMode.Symlink] = "lnk_file",
            [UnixMode.CharDevice] = "chr_file", [UnixMode.BlockDevice] = "blk_file", [UnixMode.Fifo] = "pipe", [UnixMode.Socket] = "sock_file",
        };
        var theirs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var group in paths.GroupBy(p => p.Mode & UnixMode.TypeMask))
        {
            foreach (var chunk in group.Chunk(2000))
            {
                var output = Tools.Run("matchpathcon", ["-P", fixture.PolicyRoot, "-m", types[group.Key], .. chunk.Select(c => c.Path)]).Ok("matchpathcon");
                foreach (var line in output.Split('\n'))
                {
                    var tab = line.IndexOf('\t', StringComparison.Ordinal);
                    theirs[line[..tab]] = line[(tab + 1)..];
                }
            }
        }

        var differences = paths.Select(p => (p.Path, Ours: contexts.Lookup(p.Path, p.Mode) ?? "<<none>>", Theirs: theirs[p.Path]))
            .Where(d => d.Ours != d.Theirs).Take(10).ToList();
        Assert.True(differences.Count == 0, string.Join('\n', differences.Select(d => $"{d.Path}: ours {d.Ours}, matchpathcon {d.Theirs}")));
        Assert.Contains(theirs.Values, v => v.Contains("modules_object_t", StringComparison.Ordinal));
        Assert.Contains(theirs.Values, v => v == "<<none>>");
    }

    [Fact]
    public void A_commit_labelled_from_the_policy_has_the_checksum_ostree_gives_it()
    {
        string a = _tmp["a"], b = _tmp["b"];
        Tools.Ostree("init", "--repo=" + a, "--mode=bare-user").Ok("init a");
        Tools.Ours("init", "--repo=" + b, "--mode=bare-user").Ok("init b");
        var theirs = Tools.Ostree("commit", "--repo=" + a, "-b", "os", "--timestamp=2024-01-01", "--no-bindings", "--selinux-policy=" + fixture.Root, "--tree=dir=" + fixture.Root).Ok("ostree commit --selinux-policy");
        var ours = Tools.Ours("commit", "--repo=" + b, "-b", "os", "--timestamp=2024-01-01", "--no-bindings", "--selinux-policy=" + fixture.Root, "--tree=dir=" + fixture.Root).Ok("our commit --selinux-policy");
        Assert.Equal(theirs, ours);
        var fromBase = Tools.Ours("commit", "--repo=" + b, "-b", "os2", "--timestamp=2024-01-01", "--no-bindings", "-P", "--tree=dir=" + fixture.Root).Ok("-P from the tree");
        Assert.Equal(theirs, fromBase);

        // -P with a commit as the first tree: the policy is read out of the commit.
        var plain = Tools.Ours("commit", "--repo=" + b, "-b", "plain", "--timestamp=2024-01-01", "--no-bindings", "--tree=dir=" + fixture.Root).Ok("unlabelled commit");
        Assert.NotEqual(theirs, plain);
        Assert.Equal(theirs, Tools.Ours("commit", "--repo=" + b, "-b", "relabelled", "--timestamp=2024-01-01", "--no-bindings", "-P", "--tree=ref=" + plain).Ok("-P from a commit"));
        var shadow = Tools.Ostree("ls", "--repo=" + b, "-X", "os", "/usr/etc/shadow", "/usr/bin/ls").Ok("ls -X");
        Assert.Contains("system_u:object_r:etc_t:s0", shadow, StringComparison.Ordinal);
        Assert.Contains("system_u:object_r:bin_t:s0", shadow, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkout_with_a_policy_labels_what_it_writes_as_ostree_does()
    {
        var repo = "--repo=" + _tmp["repo"];
        Tools.Ostree("init", repo, "--mode=bare").Ok("init");
        Directory.CreateDirectory(_tmp["in/usr/bin"]);
        Directory.CreateDirectory(_tmp["in/etc"]);
        File.WriteAllText(_tmp["in/usr/bin/tool"], "x\n");
        File.WriteAllText(_tmp["in/etc/passwd"], "root\n");
        File.CreateSymbolicLink(_tmp["in/usr/bin/alias"], "tool");
        Tools.Ostree("commit", repo, "-b", "m", _tmp["in"]).Ok("commit");
        string[][] variants = [[], ["--subpath=/usr"], ["--subpath=/usr/bin", "--selinux-prefix=/usr/bin"]];
        foreach (var extra in variants)
        {
            var name = string.Join('_', extra).Replace('/', '-');
            Tools.Ostree(["checkout", repo, "--selinux-policy=" + fixture.Root, .. extra, "m", _tmp["theirs" + name]]).Ok("ostree checkout --selinux-policy " + name);
            Tools.Ours(["checkout", repo, "--selinux-policy=" + fixture.Root, .. extra, "m", _tmp["ours" + name]]).Ok("our checkout --selinux-policy " + name);
            var theirs = Tools.Describe(_tmp["theirs" + name]);
            Assert.Equal(theirs, Tools.Describe(_tmp["ours" + name]));
            Assert.Contains(theirs.Values, v => v.Contains("security.selinux=", StringComparison.Ordinal));
        }

        // Labels need copies: a policy with -H is refused, as ostree refuses it.
        Assert.NotEqual(0, Tools.Ours("checkout", repo, "--selinux-policy=" + fixture.Root, "-H", "m", _tmp["hl"]).ExitCode);
        Assert.Contains("--selinux-prefix without --selinux-policy", Tools.Ours("checkout", repo, "--selinux-prefix=/x", "m", _tmp["p"]).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_is_sorted_among_the_other_xattrs_as_ostree_2026_sorts_it()
    {
        // 2022.7 appends security.selinux after the file's own xattrs (here user.z): a file header 2026.4 sorts,
        // so the checksums differ and 2026.4's fsck calls 2022.7's object corrupt. We sort, as 2026.4 does.
        var tree = _tmp["xattr-tree"];
        Directory.CreateDirectory(Path.Combine(tree, "usr/bin"));
        Tools.Run("cp", ["-a", Path.Combine(fixture.Root, "usr/etc"), Path.Combine(tree, "usr/etc")]).Ok("cp");
        File.WriteAllText(Path.Combine(tree, "usr/bin/tool"), "tool\n");
        Native.SetXattr(Path.Combine(tree, "usr/bin/tool"), "user.z", "1"u8);
        var args = new[] { "-b", "x", "--timestamp=2024-01-01", "--no-bindings", "--selinux-policy=" + tree, tree };
        var commits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            Tools.Peer(peer, "init", "--repo=" + _tmp[peer], "--mode=bare-user").Ok("init");
            commits[peer] = Tools.Peer(peer, ["commit", "--repo=" + _tmp[peer], .. args]).Ok($"ostree {peer} commit --selinux-policy");
        }

        Tools.Ours("init", "--repo=" + _tmp["ours"], "--mode=bare-user").Ok("init");
        var ours = Tools.Ours(["commit", "--repo=" + _tmp["ours"], .. args]).Ok("our commit --selinux-policy");
        Assert.NotEqual(commits[Tools.V2022], commits[Tools.V2026]);
        Assert.Equal(commits[Tools.V2026], ours);
        var fsck = Tools.Peer(Tools.V2026, "fsck", "--repo=" + _tmp[Tools.V2022]);
        Assert.True(fsck.ExitCode == 1 && fsck.Stderr.Contains("Corrupted file object", StringComparison.Ordinal), fsck.Stderr);
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + _tmp["ours"]);
    }

    private string LabelledImage(out string commit)
    {
        // A small root: the policy plus a few files in the places the policy labels differently.
        var tree = _tmp["small"];
        foreach (var rel in new[] { "usr/etc/selinux", "usr/bin/ls", "usr/etc/shadow", "usr/lib/os-release", "usr/bin/passwd" })
        {
            var src = Path.Combine(fixture.Root, rel);
            var dst = Path.Combine(tree, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
            Tools.Run("cp", ["-a", src, dst]).Ok("cp");
        }

        var repo = _tmp["build"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        commit = Tools.Ours("commit", "--repo=" + repo, "-b", "os", "--timestamp=2024-01-01", "--selinux-policy=" + tree, tree).Ok("commit");
        var layout = _tmp["layout"];
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "os", $"oci:{layout}:base").Ok("encapsulate");
        return layout;
    }

    [Fact]
    public void Labels_survive_encapsulate_and_pull_and_derived_layers_are_labelled_from_the_base_policy()
    {
        var layout = LabelledImage(out var commit);
        var host = _tmp["host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init host");
        Assert.Equal($"Imported: {commit}", Tools.Ours("container", "unencapsulate", "--repo=" + host, $"ostree-unverified-image:oci:{layout}:base").Ok("unencapsulate"));
        Assert.Contains("passwd_exec_t", Tools.Ostree("ls", "--repo=" + host, "-X", commit, "/usr/bin/passwd").Ok("ls -X"), StringComparison.Ordinal);

        // A Containerfile-style layer with no xattrs at all: the merge commit labels it from the policy inside.
        var (gz, diffId) = ContainerBridgeTests.DerivedLayer(
        [
            ("usr/", null), ("etc/", null), ("etc/shadow-", "backup\n"), ("usr/bin/", null), ("usr/bin/tool", "tool"),
        ]);
        OstreeSharp.TestSupport.TestImages.AddLayer(layout, "base", "derived", gz, diffId);
        var pulled = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:derived").Ok("pull derived");
        var merge = pulled.Split('\n')[^1].Split(" => ")[1];
        var labels = Tools.Ostree("ls", "--repo=" + host, "-X", merge, "/usr/bin/tool", "/usr/etc/shadow-", "/usr/bin/passwd", "/usr/bin/ls").Ok("ls -X merge");
        var lines = labels.Split('\n');
        Assert.Contains("bin_t", lines.Single(l => l.EndsWith("/usr/bin/tool", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("etc_t", lines.Single(l => l.EndsWith("/usr/etc/shadow-", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("passwd_exec_t", lines.Single(l => l.EndsWith("/usr/bin/passwd", StringComparison.Ordinal)), StringComparison.Ordinal);
        Tools.Ostree("fsck", "--repo=" + host).Ok("fsck");
    }

    [Fact]
    public void A_podman_style_image_is_labelled_from_the_policy_inside_it_and_its_layers_share_the_labelled_objects()
    {
        // Layer 1: the small root as a container has it (/etc, not /usr/etc), policy included; layer 2: a RUN step.
        var root = _tmp["plain-root"];
        foreach (var rel in new[] { "etc/selinux", "usr/bin/ls", "etc/shadow", "usr/lib/os-release", "usr/bin/passwd" })
        {
            var from = Path.Combine(fixture.Root, rel.StartsWith("etc/", StringComparison.Ordinal) ? "usr/" + rel : rel);
            var to = Path.Combine(root, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            Tools.Run("cp", ["-a", from, to]).Ok("cp");
        }

        var layout = _tmp["plain-layout"];
        PlainImages.AddLayer(layout, null, "base", root);
        var run = _tmp["plain-run"];
        Directory.CreateDirectory(Path.Combine(run, "usr/bin"));
        Directory.CreateDirectory(Path.Combine(run, "etc"));
        File.WriteAllText(Path.Combine(run, "usr/bin/tool"), "tool");
        File.WriteAllText(Path.Combine(run, "etc/shadow-"), "backup\n");
        PlainImages.AddLayer(layout, "base", "derived", run);

        var host = _tmp["plain-host"];
        Tools.Ours("init", "--repo=" + host, "--mode=bare-user").Ok("init host");
        var pulled = Tools.Ours("container", "image", "pull", host, $"ostree-unverified-image:oci:{layout}:derived").Ok("pull");
        Assert.Contains("Relabelled 2 layer(s) with the image's SELinux policy", pulled, StringComparison.Ordinal);
        var merge = pulled.Split('\n')[^1].Split(" => ")[1];
        var lines = Tools.Ostree("ls", "--repo=" + host, "-X", merge, "/usr/bin/tool", "/usr/bin/passwd").Ok("ls -X merge").Split('\n');
        Assert.Contains(":bin_t:", lines.Single(l => l.EndsWith("/usr/bin/tool", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains(":passwd_exec_t:", lines.Single(l => l.EndsWith("/usr/bin/passwd", StringComparison.Ordinal)), StringComparison.Ordinal);

        // Every path has the label the real ostree gives the merged tree from its own policy.
        // (a checkout from an archive copy: files of their own, without the bare-user repository's xattrs)
        var checkout = _tmp["plain-checkout"];
        var real = _tmp["plain-real"];
        Tools.Ostree("init", "--repo=" + real, "--mode=archive").Ok("init real");
        Tools.Ostree("pull-local", "--repo=" + real, host, merge).Ok("pull-local");
        Tools.Ostree("checkout", "--repo=" + real, "-U", merge, checkout).Ok("checkout");
        var relabelled = Tools.Ostree("commit", "--repo=" + real, "-b", "x", "--selinux-policy=" + checkout, "--tree=dir=" + checkout).Ok("ostree commit --selinux-policy");
        static IEnumerable<string> Labels(string ls) => ls.Split('\n').Select(l => l[(l.IndexOf('{', StringComparison.Ordinal))..]);
        Assert.Equal(Labels(Tools.Ostree("ls", "--repo=" + real, "-R", "-X", relabelled).Ok("ls real")), Labels(Tools.Ostree("ls", "--repo=" + host, "-R", "-X", merge).Ok("ls ours")));

        // The layer commits carry the same labels (so the same objects), and nothing unlabelled is left behind.
        var baseLayer = Tools.Ours("refs", "--repo=" + host).Ok("refs").Split('\n').Where(r => r.StartsWith("ostree/container/blob/", StringComparison.Ordinal))
            .Single(r => Tools.Ostree("ls", "--repo=" + host, r, "/usr/bin").ExitCode == 0 && Tools.Ostree("ls", "--repo=" + host, r, "/usr/bin/passwd").ExitCode == 0);
        Assert.Contains("passwd_exec_t", Tools.Ostree("ls", "--repo=" + host, "-X", baseLayer, "/usr/bin/passwd").Ok("ls -X layer"), StringComparison.Ordinal);
        Assert.Contains("No unreachable objects", Tools.Ostree("prune", "--repo=" + host, "--refs-only", "--no-prune").Ok("prune --no-prune"), StringComparison.Ordinal);
        Tools.Ostree("fsck", "--repo=" + host).Ok("fsck");
    }

    [Fact]
    public void A_malformed_file_contexts_line_is_named_by_file_and_line()
    {
        var root = _tmp["broken"];
        var files = Path.Combine(root, "etc/selinux/default/contexts/files");
        Directory.CreateDirectory(files);
        File.WriteAllText(Path.Combine(root, "etc/selinux/config"), "SELINUX=permissive\nSELINUXTYPE=default\n");
        File.WriteAllText(Path.Combine(files, "file_contexts"), "/usr(/.*)?\tsystem_u:object_r:usr_t:s0\n/bin/(x\tsystem_u:object_r:bin_t:s0\n");
        Directory.CreateDirectory(_tmp["tree/usr"]);
        Tools.Ours("init", "--repo=" + _tmp["repo"], "--mode=archive").Ok("init");
        var r = Tools.Ours("commit", "--repo=" + _tmp["repo"], "-b", "x", "--selinux-policy=" + root, _tmp["tree"]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"error: {Path.Combine(files, "file_contexts")}:2: invalid regular expression '/bin/(x'", r.Stderr.Trim(), StringComparison.Ordinal);
        Assert.Empty(Tools.Ours("refs", "--repo=" + _tmp["repo"]).Ok("refs"));
    }
}
