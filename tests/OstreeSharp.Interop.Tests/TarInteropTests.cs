using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>The ostree-ext tar stream and plain tarballs, against GNU tar and the real ostree.</summary>
public class TarInteropTests
{
    private static (TempDir T, string Repo, string Commit) Committed(string peer, string mode, bool withOwners = true)
    {
        var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners);
        Directory.CreateDirectory(t["in/usr/etc"]);
        File.WriteAllText(t["in/usr/etc/os-release"], "ID=test\n");
        Directory.CreateDirectory(t["in/sysroot"]);
        Tools.Peer(peer, "init", "--repo=" + t["repo"], "--mode=" + mode).Ok("init");
        var c = Tools.Peer(peer, "commit", "--repo=" + t["repo"], "-b", "x", "--add-detached-metadata-string=sig=fake", t["in"]).Ok("ostree commit");
        return (t, t["repo"], c);
    }

    public static TheoryData<string, string> Modes => Tools.PeersWith("archive", "bare-user");

    [Theory]
    [MemberData(nameof(Modes))]
    public void Export_then_import_gives_the_same_commit_and_ostree_accepts_it(string peer, string mode)
    {
        var (t, repo, commit) = Committed(peer, mode);
        using var _ = t;
        Tools.Ours("tar", "export", "--repo=" + repo, "x", "-o", t["a.tar"]).Ok("export");
        Tools.Ours("tar", "export", "--repo=" + repo, "x", "-o", t["b.tar"]).Ok("export again");
        Assert.Equal(SHA256.HashData(File.ReadAllBytes(t["a.tar"])), SHA256.HashData(File.ReadAllBytes(t["b.tar"])));
        Tools.Ours("init", "--repo=" + t["fresh"], "--mode=" + mode).Ok("init");
        var imported = Tools.Ours("tar", "import", "--repo=" + t["fresh"], t["a.tar"], "--write-ref=y").Ok("import");
        Assert.Equal(commit, imported);
        Assert.Equal(commit, Tools.Peer(peer, "rev-parse", "--repo=" + t["fresh"], "y").Out);
        Tools.Peer(peer, "fsck", "--repo=" + t["fresh"]).Ok("ostree fsck of the imported repo");
        Assert.Equal("'fake'", Tools.Peer(peer, "show", "--repo=" + t["fresh"], "y", "--print-detached-metadata-key=sig").Out);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Gnu_tar_lists_and_extracts_the_export_as_the_commit_tree(string peer)
    {
        var (t, repo, _) = Committed(peer, "bare-user");
        using var _ = t;
        Tools.Ours("tar", "export", "--repo=" + repo, "x", "-o", t["a.tar"]).Ok("export");
        var list = Tools.Run("tar", ["-tf", t["a.tar"]]).Ok("tar -t");
        Assert.Contains("sysroot/ostree/repo/config", list);
        Assert.Contains("etc/os-release", list);
        Directory.CreateDirectory(t["x"]);
        Tools.Run("tar", ["-xpf", t["a.tar"], "-C", t["x"], "--numeric-owner"]).Ok("tar -x");
        Tools.Peer(peer, "checkout", "--repo=" + repo, "x", t["co"]).Ok("ostree checkout");
        Directory.Move(t["co/usr/etc"], t["co/etc"]);
        var expected = Tools.Describe(t["co"], xattrs: false).Where(kv => !kv.Key.StartsWith("/sysroot", StringComparison.Ordinal));
        var actual = Tools.Describe(t["x"], xattrs: false).Where(kv => !kv.Key.StartsWith("/sysroot", StringComparison.Ordinal) && !kv.Key.StartsWith("/var", StringComparison.Ordinal));
        Assert.Equal(expected, actual);
        Assert.Equal("[core]\nrepo_version=1\nmode=bare-split-xattrs\n", File.ReadAllText(t["x/sysroot/ostree/repo/config"]));
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Plain_tarballs_from_gnu_tar_in_every_format_and_ostree_export_commit_like_ostree(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true, withSpecialModes: true);
        Tools.Peer(peer, "init", "--repo=" + t["theirs"], "--mode=bare-user").Ok("init");
        Tools.Ours("init", "--repo=" + t["ours"], "--mode=bare-user").Ok("init");
        var tars = new List<string>();
        foreach (var format in new[] { "gnu", "posix", "ustar" })
        {
            var args = new List<string> { "--format=" + format, "-C", t["in"], "-cf", t[format + ".tar"] };
            if (format == "posix")
            {
                args.InsertRange(0, ["--xattrs", "--xattrs-include=user.*"]);
            }

            args.Add(".");
            var r = Tools.Run("tar", args);
            if (format == "ustar")
            {
                // ustar cannot hold the >255-byte path: GNU tar says so and skips it, which is the point of the format.
                Assert.Contains("file name is too long", r.Stderr);
            }
            else
            {
                r.Ok("tar " + format);
            }

            tars.Add(t[format + ".tar"]);
        }

        foreach (var format in new[] { "pax", "gnutar" })
        {
            Tools.Run("bsdtar", ["--format=" + format, "-C", t["in"], "-cf", t["bsd-" + format + ".tar"], "."]).Ok("bsdtar " + format);
            tars.Add(t["bsd-" + format + ".tar"]);
        }

        Tools.Peer(peer, "commit", "--repo=" + t["theirs"], "-b", "src", t["in"]).Ok("commit for export");
        var export = Tools.Run("sh", ["-c", $"'{Tools.PeerCommand(peer)}' export --repo={t["theirs"]} src > {t["ostree-export.tar"]}"]);
        export.Ok("ostree export");
        tars.Add(t["ostree-export.tar"]);

        foreach (var tar in tars)
        {
            var args = new[] { "-b", Path.GetFileNameWithoutExtension(tar), "--timestamp=2024-02-02", "--tree=tar=" + tar };
            var theirs = Tools.Peer(peer, ["commit", "--repo=" + t["theirs"], .. args]);
            var ours = Tools.Ours(["commit", "--repo=" + t["ours"], .. args]).Ok("our commit " + tar);
            if (tar != t["bsd-pax.tar"])
            {
                Assert.True(theirs.Ok("ostree commit " + tar) == ours, $"checksums differ for {Path.GetFileName(tar)}");
            }
            else if (peer == Tools.V2022)
            {
                // bsdtar's pax format records every xattr twice (LIBARCHIVE.xattr.* and SCHILY.xattr.*) and libarchive
                // reports both: 2022.7 writes both copies, a dirmeta 2026.4 calls corrupt. We write one (see below).
                Assert.NotEqual(theirs.Ok("ostree commit " + tar), ours);
                var fsck = Tools.Peer(Tools.V2026, "fsck", "--repo=" + t["theirs"]);
                Assert.True(fsck.ExitCode == 1 && fsck.Stderr.Contains("Duplicate xattr name", StringComparison.Ordinal), fsck.Stderr);
            }
            else
            {
                // 2026.4 refuses the repeated name outright.
                Assert.True(theirs.ExitCode == 1 && theirs.Stderr.Contains("Duplicate xattr name", StringComparison.Ordinal), theirs.Stderr);
            }
        }

        // Ours of the bsdtar pax archive: each xattr once, the tree of GNU tar's pax archive of the same folder.
        string Content(string branch) => Tools.Ours("show", "--repo=" + t["ours"], branch).Ok("show").Split('\n').Single(l => l.StartsWith("ContentChecksum:", StringComparison.Ordinal));
        Assert.Equal(Content("posix"), Content("bsd-pax"));
        Tools.Peer(peer, "fsck", "--repo=" + t["ours"]).Ok("ostree fsck");
    }

    [Fact]
    public void Tarball_xattrs_out_of_name_order_are_sorted_as_ostree_2026_sorts_them()
    {
        // libarchive lists a directory's xattr records last first: 2022.7 writes them so (user.b, user.a), a dirmeta
        // 2026.4 refuses to fsck or pull; 2026.4 sorts them, and so do we.
        using var t = new TempDir();
        File.WriteAllBytes(t["x.tar"], BuildTar(w =>
        {
            var dir = new OstreeSharp.Tar.TarEntry { Name = "d", Type = OstreeSharp.Tar.TarType.Directory, Mode = 0x1ED };
            dir.Xattrs.Add(OstreeSharp.Objects.Xattr.Create("user.a", "1"u8.ToArray()));
            dir.Xattrs.Add(OstreeSharp.Objects.Xattr.Create("user.b", "2"u8.ToArray()));
            w.WriteEntry(dir);
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "d/f", Mode = 0x1A4 }, "f"u8);
        }));
        var args = new[] { "-b", "x", "--timestamp=2024-02-02", "--tar-autocreate-parents", "--tree=tar=" + t["x.tar"] };
        var commits = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var peer in new[] { Tools.V2022, Tools.V2026 })
        {
            Tools.Peer(peer, "init", "--repo=" + t[peer], "--mode=archive").Ok("init");
            commits[peer] = Tools.Peer(peer, ["commit", "--repo=" + t[peer], .. args]).Ok($"ostree {peer} commit");
        }

        Tools.Ours("init", "--repo=" + t["ours"], "--mode=archive").Ok("init");
        var ours = Tools.Ours(["commit", "--repo=" + t["ours"], .. args]).Ok("our commit");
        Assert.NotEqual(commits[Tools.V2022], commits[Tools.V2026]);
        Assert.Equal(commits[Tools.V2026], ours);
        var fsck = Tools.Peer(Tools.V2026, "fsck", "--repo=" + t[Tools.V2022]);
        Assert.True(fsck.ExitCode == 1 && fsck.Stderr.Contains("Incorrectly sorted xattr name", StringComparison.Ordinal), fsck.Stderr);
        Tools.EveryPeerOk("fsck", "fsck", "--repo=" + t["ours"]);
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Format_version_0_streams_import_with_the_same_commit(string peer)
    {
        var (t, repo, commit) = Committed(peer, "archive");
        using var _ = t;
        Tools.Ours("tar", "export", "--repo=" + repo, "x", "-o", t["v1.tar"]).Ok("export");

        // Rewrite the v1 stream the way version 0 laid it out: xattr blobs in repo/xattrs/<sum>,
        // `.file.xattrs` hard links, no binding for objects without xattrs, type bits in modes.
        var emptyXattrs = Convert.ToHexStringLower(SHA256.HashData([]));
        var v0 = BuildTar(w =>
        {
            using var r = new OstreeSharp.Tar.TarReader(File.OpenRead(t["v1.tar"]));
            OstreeSharp.Tar.TarEntry? e;
            while ((e = r.GetNextEntry()) is not null)
            {
                var name = e.Name;
                if (name.EndsWith(".file-xattrs", StringComparison.Ordinal))
                {
                    var parts = name.Split('/');
                    var sum = parts[^2] + parts[^1][..62];
                    e.Name = "sysroot/ostree/repo/xattrs/" + sum;
                }
                else if (name.EndsWith(".file-xattrs-link", StringComparison.Ordinal))
                {
                    var target = e.LinkName.Split('/');
                    var sum = target[^2] + target[^1][..62];
                    if (sum == emptyXattrs)
                    {
                        continue;
                    }

                    e.Name = name.Replace(".file-xattrs-link", ".file.xattrs", StringComparison.Ordinal);
                    e.LinkName = "sysroot/ostree/repo/xattrs/" + sum;
                }
                else if (name.EndsWith(".file", StringComparison.Ordinal))
                {
                    e.Mode |= e.Type == OstreeSharp.Tar.TarType.Symlink ? 0xA000u : 0x8000u;
                }
                else if (name == "sysroot/ostree/repo/config")
                {
                    e.Name = "sysroot/config";
                }

                w.WriteEntry(e, r.DataStream);
            }
        });
        File.WriteAllBytes(t["v0.tar"], v0);
        Tools.Ours("init", "--repo=" + t["fresh"], "--mode=bare-user").Ok("init");
        Assert.Equal(commit, Tools.Ours("tar", "import", "--repo=" + t["fresh"], t["v0.tar"]).Ok("import v0"));
        Tools.Peer(peer, "fsck", "--repo=" + t["fresh"]).Ok("ostree fsck");
    }

    private static byte[] BuildTar(Action<OstreeSharp.Tar.TarWriter> body, bool finish = true)
    {
        var ms = new MemoryStream();
        using (var w = new OstreeSharp.Tar.TarWriter(ms, leaveOpen: true))
        {
            body(w);
            if (finish)
            {
                w.Finish();
            }
        }

        return ms.ToArray();
    }

    public static TheoryData<string> HostileCases => new()
    {
        "dotdot", "absolute-object", "symlink-then-file", "missing-hardlink", "truncated", "mismatched-object",
        "out-of-order", "huge-pax", "commit-without-objects", "empty", "device-node", "fifo",
    };

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void Hostile_streams_are_refused_with_one_line_and_nothing_left_behind(string kind)
    {
        var (t, repo, commit) = Committed(Tools.V2022, "archive", withOwners: false); // ostree only makes the input
        using var _ = t;
        Tools.Ours("tar", "export", "--repo=" + repo, "x", "-o", t["good.tar"]).Ok("export");
        var good = File.ReadAllBytes(t["good.tar"]);
        string verb = "import";
        byte[] bad;
        switch (kind)
        {
            case "dotdot":
                verb = "commit";
                bad = BuildTar(w => w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "usr/../../etc/passwd", Mode = 0x1A4 }, "x"u8));
                break;
            case "absolute-object":
                bad = BuildTar(w => w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "/sysroot/ostree/repo/objects/../../../../etc/x.commit", Mode = 0x1A4 }, "x"u8));
                break;
            case "symlink-then-file":
                verb = "commit";
                bad = BuildTar(w =>
                {
                    w.WriteEntry(new OstreeSharp.Tar.TarEntry { Name = "usr", Type = OstreeSharp.Tar.TarType.Directory, Mode = 0x1ED });
                    w.WriteEntry(new OstreeSharp.Tar.TarEntry { Name = "usr/lnk", Type = OstreeSharp.Tar.TarType.Symlink, LinkName = "/etc", Mode = 0x1FF });
                    w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "usr/lnk/passwd", Mode = 0x1A4 }, "pwned"u8);
                });
                break;
            case "missing-hardlink":
                verb = "commit";
                bad = BuildTar(w => w.WriteEntry(new OstreeSharp.Tar.TarEntry { Name = "a", Type = OstreeSharp.Tar.TarType.HardLink, LinkName = "nowhere", Mode = 0x1A4 }));
                break;
            case "truncated":
                bad = good[..(good.Length / 2)];
                break;
            case "mismatched-object":
                {
                    // Flip a byte inside the data of the first content object (README's text).
                    bad = (byte[])good.Clone();
                    int at = Encoding.ASCII.GetString(bad).IndexOf("Hello, OSTree!", StringComparison.Ordinal);
                    Assert.True(at > 0);
                    bad[at] ^= 0x20;
                    break;
                }

            case "out-of-order":
                bad = BuildTar(w =>
                {
                    var dirtree = Directory.GetFiles(Path.Combine(repo, "objects"), "*.dirtree", SearchOption.AllDirectories)[0];
                    var rel = Path.GetRelativePath(repo, dirtree).Replace('\\', '/');
                    w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "sysroot/ostree/repo/" + rel, Mode = 0x1A4 }, File.ReadAllBytes(dirtree));
                });
                break;
            case "huge-pax":
                bad = BuildTar(w =>
                {
                    var e = new OstreeSharp.Tar.TarEntry { Name = "x", Mode = 0x1A4 };
                    e.PaxRecords.Add(new("comment", new byte[2 * 1024 * 1024]));
                    w.WriteFile(e, "x"u8);
                });
                break;
            case "commit-without-objects":
                bad = BuildTar(w =>
                {
                    var hex = commit;
                    w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = $"sysroot/ostree/repo/objects/{hex[..2]}/{hex[2..]}.commit", Mode = 0x1A4 }, File.ReadAllBytes(Path.Combine(repo, "objects", hex[..2], hex[2..] + ".commit")));
                });
                break;
            case "device-node" or "fifo":
                verb = "commit";
                bad = BuildTar(w => w.WriteEntry(new OstreeSharp.Tar.TarEntry
                {
                    Name = "dev-or-fifo",
                    Type = kind == "fifo" ? OstreeSharp.Tar.TarType.Fifo : OstreeSharp.Tar.TarType.CharDevice,
                    Mode = 0x1B6,
                    DevMajor = 1,
                    DevMinor = 3,
                }));
                break;
            default:
                bad = [];
                break;
        }

        File.WriteAllBytes(t["bad.tar"], bad);
        Tools.Ours("init", "--repo=" + t["fresh"], "--mode=archive").Ok("init");
        var r = verb == "import"
            ? Tools.Ours("tar", "import", "--repo=" + t["fresh"], t["bad.tar"], "--write-ref=y")
            : Tools.Ours("commit", "--repo=" + t["fresh"], "-b", "y", "--tar-autocreate-parents", "--tree=tar=" + t["bad.tar"]);
        Assert.NotEqual(0, r.ExitCode);
        var lines = r.Stderr.Trim().Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal), r.Stderr);
        Assert.Empty(Directory.GetFiles(Path.Combine(t["fresh"], "objects"), "*", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(Path.Combine(t["fresh"], "refs"), "*", SearchOption.AllDirectories));
    }

    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Container_layer_filtering_follows_the_spec_example(string peer)
    {
        using var t = new TempDir();
        var tar = BuildTar(w =>
        {
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "etc/someconfig.conf", Mode = 0x1A4 }, "x=1\n"u8);
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "var/log/foo.log", Mode = 0x1A4 }, "foo"u8);
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "var/log/bar.log", Mode = 0x1A4 }, "bar"u8);
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "run/somefile", Mode = 0x1A4 }, "run"u8);
            w.WriteFile(new OstreeSharp.Tar.TarEntry { Name = "opt/tool", Mode = 0x1ED }, "opt"u8);
        });
        File.WriteAllBytes(t["layer.tar"], tar);
        Tools.Ours("init", "--repo=" + t["repo"], "--mode=archive").Ok("init");
        var r = Tools.Ours("commit", "--repo=" + t["repo"], "-b", "layer", "--tar-autocreate-parents", "--filter-container-layer", "--tree=tar=" + t["layer.tar"]);
        r.Ok("filtered commit");
        Assert.Contains("Image contains non-ostree compatible file paths: opt: 1 somefile: 1", r.Stderr);
        var ls = Tools.Peer(peer, "ls", "--repo=" + t["repo"], "-R", "layer").Ok("ls");
        Assert.Contains("/usr/etc/someconfig.conf", ls);
        Assert.Contains("/var/log/foo.log", ls);
        Assert.DoesNotContain("/run/somefile", ls);
        Assert.DoesNotContain("/opt", ls);
    }

    // libostree reads cpio archives through libarchive. GNU cpio writes a multiply-linked file's data with its last name
    // only (the earlier names have size 0); libostree gives that data to every name. Entries are written sorted, so the
    // archives do not depend on directory order.
    [Theory]
    [MemberData(nameof(Modes))]
    public void Cpio_archives_from_gnu_cpio_commit_like_ostree(string peer, string mode)
    {
        using var t = new TempDir();
        var root = t["in"];
        TestTrees.WriteTricky(root, withOwners: true);
        Directory.CreateDirectory(Path.Combine(root, "sub/deeper"));
        File.WriteAllText(Path.Combine(root, "sub/multi"), "three names\n");
        Assert.True(OstreeSharp.Internal.Native.TryLink(Path.Combine(root, "sub/multi"), Path.Combine(root, "bin/multi-2")));
        Assert.True(OstreeSharp.Internal.Native.TryLink(Path.Combine(root, "sub/multi"), Path.Combine(root, "sub/deeper/multi-3")));
        File.WriteAllText(Path.Combine(root, "sub/empty-linked"), string.Empty);
        Assert.True(OstreeSharp.Internal.Native.TryLink(Path.Combine(root, "sub/empty-linked"), Path.Combine(root, "empty-linked-2")));
        File.CreateSymbolicLink(Path.Combine(root, "sub/sl"), "multi");
        Assert.True(OstreeSharp.Internal.Native.TryLink(Path.Combine(root, "sub/sl"), Path.Combine(root, "sub/deeper/sl-hardlink")));
        foreach (var format in new[] { "newc", "crc", "odc" })
        {
            Tools.Run("sh", ["-c", $"cd '{root}' && find . | sort | cpio --quiet -o -H {format} > '{t[format + ".cpio"]}'"]).Ok("cpio -H " + format);
        }

        Tools.Run("sh", ["-c", $"gzip -c '{t["newc.cpio"]}' > '{t["newc.cpio.gz"]}'"]).Ok("gzip");
        File.WriteAllText(t["statoverride"], "2048 /bin/multi-2\n");
        // The skipped name is the one GNU cpio gives the data: the other names stay empty, as with ostree.
        File.WriteAllText(t["skiplist"], "/sub/multi\n");
        string[][] variants =
        [
            [],
            ["--statoverride=" + t["statoverride"], "--skip-list=" + t["skiplist"]],
            ["--tar-autocreate-parents", "--tar-pathname-filter=^sub/,renamed/"],
        ];
        Tools.Peer(peer, "init", "--repo=" + t["theirs"], "--mode=" + mode).Ok("init");
        Tools.Ours("init", "--repo=" + t["ours"], "--mode=" + mode).Ok("init");
        // Orphan commits (no parent, no ref binding), so that the formats can be compared.
        var commits = new List<HashSet<string>>();
        foreach (var variant in variants)
        {
            commits.Add(new HashSet<string>(StringComparer.Ordinal));
            foreach (var archive in new[] { "newc.cpio", "crc.cpio", "odc.cpio", "newc.cpio.gz" })
            {
                string[] args = ["commit", "--orphan", "--timestamp=2024-02-02", "--tree=tar=" + t[archive], .. variant];
                var theirs = Tools.Peer(peer, ["--repo=" + t["theirs"], .. args]).Ok($"ostree commit {archive}");
                var ours = Tools.Ours(["--repo=" + t["ours"], .. args]).Ok($"our commit {archive}");
                Assert.True(theirs == ours, $"checksums differ for {archive} with [{string.Join(' ', variant)}]");
                commits[^1].Add(ours);
            }
        }

        // odc stores the data with every name, so skipping the name newc gives it leaves the others their content there.
        Assert.Equal(2, commits[1].Count);
        Assert.Single(commits[0]);
        Assert.Single(commits[2]);
        Assert.NotEqual(commits[0].Single(), commits[2].Single());
        Tools.Peer(peer, "fsck", "--repo=" + t["ours"]).Ok("ostree fsck");
        var ls = Tools.Peer(peer, "ls", "--repo=" + t["ours"], "-R", commits[1].First()).Ok("ls");
        Assert.Contains("/bin/multi-2", ls);
        Assert.DoesNotContain("/sub/multi\n", ls);
    }

    // libostree makes an entry's path relative before --tar-pathname-filter sees it: '^bin/' matches GNU tar's ./bin/tool.
    [Theory]
    [MemberData(nameof(Tools.Peers), MemberType = typeof(Tools))]
    public void Pathname_filters_see_relative_paths_as_in_ostree(string peer)
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true);
        Tools.Run("tar", ["-C", t["in"], "-cf", t["x.tar"], "."]).Ok("tar");
        Tools.Peer(peer, "init", "--repo=" + t["theirs"], "--mode=archive").Ok("init");
        Tools.Ours("init", "--repo=" + t["ours"], "--mode=archive").Ok("init");
        foreach (var filter in new[] { "^bin/,sbin/", "^,prefix/", "^data/hard,data/soft" })
        {
            string[] args = ["commit", "--orphan", "--timestamp=2024-02-02", "--tar-autocreate-parents", "--tar-pathname-filter=" + filter, "--tree=tar=" + t["x.tar"]];
            var theirs = Tools.Peer(peer, ["--repo=" + t["theirs"], .. args]).Ok("ostree commit " + filter);
            Assert.Equal(theirs, Tools.Ours(["--repo=" + t["ours"], .. args]).Ok("our commit " + filter));
            if (filter.StartsWith("^bin/", StringComparison.Ordinal))
            {
                var ls = Tools.Ours("ls", "--repo=" + t["ours"], "-R", theirs).Ok("ls");
                Assert.Contains("/sbin/tool", ls);
                Assert.DoesNotContain("/bin/tool", ls.Replace("/sbin/tool", string.Empty, StringComparison.Ordinal));
            }
        }
    }

    // libarchive finds a tarball's compression from its first bytes; we read gzip, zstd and xz the same way (we read
    // a .tar.gz as raw tar headers before: "base-256 checksum field too large").
    [Fact]
    public void Commit_reads_gzip_zstd_and_xz_tarballs_as_ostree_does()
    {
        using var t = new TempDir();
        TestTrees.WriteTricky(t["in"], withOwners: true);
        Tools.Run("tar", ["--format=pax", "--xattrs", "--xattrs-include=user.*", "-C", t["in"], "-cf", t["x.tar"], "."]).Ok("tar");
        var tar = File.ReadAllBytes(t["x.tar"]);
        using (var gz = new System.IO.Compression.GZipStream(File.Create(t["x.tgz"]), System.IO.Compression.CompressionLevel.Fastest))
        {
            gz.Write(tar);
        }

        File.WriteAllBytes(t["x.tzst"], new ZstdSharp.Compressor(3).Wrap(tar).ToArray());
        File.WriteAllBytes(t["x.txz"], OstreeSharp.Deltas.Xz.Compress(tar, 1));
        // The same branch name in fresh repositories: a commit binds its branch's name.
        var commits = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in new[] { "x.tar", "x.tgz", "x.tzst", "x.txz" })
        {
            var args = new[] { "-b", "x", "--timestamp=2024-02-02", "--tree=tar=" + t[name] };
            Tools.Ostree("init", "--repo=" + t["theirs-" + name], "--mode=archive").Ok("init");
            commits.Add(Tools.Ostree(["commit", "--repo=" + t["theirs-" + name], .. args]).Ok("ostree commit " + name));
            Tools.Ours("init", "--repo=" + t["ours-" + name], "--mode=archive").Ok("init");
            commits.Add(Tools.Ours(["commit", "--repo=" + t["ours-" + name], .. args]).Ok("our commit " + name));
        }

        Assert.Single(commits);

        // Corrupt compressed data: one line naming the file, no commit.
        var zst = File.ReadAllBytes(t["x.tzst"]);
        zst.AsSpan(20, 16).Clear();
        File.WriteAllBytes(t["bad.tzst"], zst);
        var ours = t["ours-x.tar"];
        var r = Tools.Ours("commit", "--repo=" + ours, "-b", "bad", "--tree=tar=" + t["bad.tzst"]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"error: {t["bad.tzst"]}: corrupt zstd data", r.Stderr);
        File.WriteAllBytes(t["x.tbz"], "BZh91AY&SY"u8.ToArray());
        r = Tools.Ours("commit", "--repo=" + ours, "-b", "bad", "--tree=tar=" + t["x.tbz"]);
        Assert.Equal($"error: {t["x.tbz"]}: bzip2-compressed tarballs are not supported (gzip, zstd and xz are)", r.Stderr.Trim());
        Assert.Equal("x", Tools.Ours("refs", "--repo=" + ours).Out);
    }
}
