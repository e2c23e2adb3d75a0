using System.Text;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// composefs against ostree 2026.4 (the forky peers, see scripts/forky-peers.sh): the commit
/// metadata of <c>commit --generate-composefs-metadata</c> and the deployment's <c>.ostree.cfs</c>
/// of <c>admin deploy</c>, byte for byte; on a filesystem with fs-verity too. The real
/// <c>admin deploy</c> freezes the filesystem holding /boot, so it runs inside <c>unshare -m</c>
/// on a private tmpfs or loop-mounted image.
/// </summary>
public sealed class ComposefsInteropTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    internal static string ForkyBin => Environment.GetEnvironmentVariable("OSTREE_SHARP_FORKY_BIN") is { Length: > 0 } d ? d : "/var/tmp/forky-peers/bin";

    internal static string OstreeForky => Path.Combine(ForkyBin, "ostree-forky");

    /// <summary>An OS tree with the cases composefs cares about, and a prepare-root.conf with <paramref name="enabled"/>.</summary>
    private string WriteTree(string enabled)
    {
        var tree = _tmp["tree"];
        SysrootTests.WriteOsTree(tree, 1);
        TestTrees.WriteTricky(Path.Combine(tree, "usr/share/tricky"), withOwners: true);
        Directory.CreateDirectory(Path.Combine(tree, "usr/lib/ostree"));
        File.WriteAllText(Path.Combine(tree, "usr/lib/ostree/prepare-root.conf"), $"[composefs]\nenabled = {enabled}\n");
        File.WriteAllBytes(Path.Combine(tree, "usr/share/inline-sized"), new byte[4000]);
        File.WriteAllBytes(Path.Combine(tree, "usr/share/one-block"), Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray());
        for (int i = 0; i < 400; i++)
        {
            File.WriteAllText(Path.Combine(tree, "usr/share", $"many-{i:D3}-{new string('n', i % 200)}"), $"file {i}\n");
        }

        File.CreateSymbolicLink(Path.Combine(tree, "usr/share/long-link"), new string('t', 1000));
        return tree;
    }

    /// <summary>
    /// Runs <paramref name="body"/> with both tools on fresh sysroots real/ and ours/ under a
    /// private mount (tmpfs, or an ext4 image with the verity feature) at $W, inside unshare -m.
    /// </summary>
    private string RunInPrivateMount(string body, bool verityFilesystem)
    {
        var work = _tmp["w"];
        var outDir = _tmp["out"];
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(outDir);
        var mount = verityFilesystem
            ? $"truncate -s 400M {_tmp["fs.img"]}; mkfs.ext4 -q -b 4096 -O verity {_tmp["fs.img"]}; mount -o loop {_tmp["fs.img"]} \"$W\""
            : "mount -t tmpfs tmpfs \"$W\"";
        var script = $$"""
            set -eu
            W='{{work}}'; OUT='{{outDir}}'; TREE='{{_tmp["tree"]}}'
            REAL='{{OstreeForky}}'; OURS() { {{Tools.OursShell}} "$@"; }
            {{mount}}
            for t in real ours; do
              if [ $t = real ]; then T="$REAL"; else T=OURS; fi
              mkdir -p "$W/$t"; $T admin init-fs "$W/$t" >/dev/null
              $T admin os-init --sysroot="$W/$t" exampleos >/dev/null
            done
            {{body}}
            """;
        var r = Tools.Run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script]);
        Assert.True(r.ExitCode == 0, $"script failed ({r.ExitCode}):\n{r.Stderr}\n{r.Stdout}");
        return outDir;
    }

    private const string CommitArgs = "--branch=exampleos/stable --tree=dir=\"$TREE\" --owner-uid=0 --owner-gid=0 --bootable --timestamp=@1700000000 --add-metadata-string=version=1.0";

    [Fact]
    public void Commit_composefs_metadata_and_the_deployment_image_equal_ostree_2026()
    {
        WriteTree("true");
        var outDir = RunInPrivateMount($$"""
            "$REAL" commit --repo="$W/real/ostree/repo" {{CommitArgs}} --subject=cfs --generate-composefs-metadata > "$OUT/real.commit"
            OURS commit --repo="$W/ours/ostree/repo" {{CommitArgs}} --subject=cfs --generate-composefs-metadata > "$OUT/ours.commit"
            "$REAL" admin deploy --sysroot="$W/real" --os=exampleos --karg=root=LABEL=root exampleos/stable
            OURS admin deploy --sysroot="$W/ours" --os=exampleos --karg=root=LABEL=root exampleos/stable
            C=$(cat "$OUT/real.commit")
            cp "$W/real/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" "$OUT/real.cfs"
            cp "$W/ours/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" "$OUT/ours.cfs"
            stat -c %a "$W/ours/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" > "$OUT/ours.mode"
            "$REAL" show --repo="$W/real/ostree/repo" --print-metadata-key=ostree.composefs.digest.v0 "$C" > "$OUT/real.digest"
            # checkout --composefs (every digest, checked against the commit) and --composefs-noverity.
            "$REAL" checkout --repo="$W/real/ostree/repo" --composefs "$C" "$OUT/real-checkout.cfs"
            OURS checkout --repo="$W/ours/ostree/repo" --composefs "$C" "$OUT/ours-checkout.cfs"
            "$REAL" checkout --repo="$W/real/ostree/repo" --composefs-noverity "$C" "$OUT/real-noverity.cfs"
            OURS checkout --repo="$W/ours/ostree/repo" --composefs-noverity "$C" "$OUT/ours-noverity.cfs"
            # Tree options go with a checkout, not with its composefs image (ostree ignores -U; we refuse it).
            if OURS checkout --repo="$W/ours/ostree/repo" --composefs -U "$C" "$OUT/u.cfs" 2> "$OUT/u.err"; then echo accepted >> "$OUT/u.err"; fi
            """, verityFilesystem: false);

        // Same metadata, so the same commit id.
        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "real.commit")).Trim(), File.ReadAllText(Path.Combine(outDir, "ours.commit")).Trim());
        Assert.StartsWith("[byte 0x", File.ReadAllText(Path.Combine(outDir, "real.digest")), StringComparison.Ordinal);
        AssertSameImage(outDir, "real.cfs", "ours.cfs");
        Assert.Equal("644", File.ReadAllText(Path.Combine(outDir, "ours.mode")).Trim());
        AssertSameImage(outDir, "real-checkout.cfs", "ours-checkout.cfs");
        AssertSameImage(outDir, "real-noverity.cfs", "ours-noverity.cfs");
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(outDir, "ours-checkout.cfs")), File.ReadAllBytes(Path.Combine(outDir, "ours-noverity.cfs")));
        Assert.Equal("error: Specified options are incompatible with --composefs", File.ReadAllText(Path.Combine(outDir, "u.err")).Trim());
        Assert.False(File.Exists(Path.Combine(outDir, "u.cfs")));
    }

    [Fact]
    public void A_podman_style_image_deploys_with_the_composefs_image_ostree_2026_writes_for_its_merge_commit()
    {
        // The tree as a container root has it (/etc), in two plain layers, composefs on.
        var tree = WriteTree("true");
        Directory.Move(Path.Combine(tree, "usr/etc"), Path.Combine(tree, "etc"));
        var layout = _tmp["layout"];
        PlainImages.AddLayer(layout, null, "base", tree);
        var run = _tmp["run"];
        Directory.CreateDirectory(Path.Combine(run, "usr/bin"));
        File.WriteAllText(Path.Combine(run, "usr/bin/tool"), "added by a RUN step\n");
        PlainImages.AddLayer(layout, "base", "v1", run);
        var outDir = RunInPrivateMount($$"""
            OURS container image deploy --sysroot="$W/ours" --stateroot=exampleos --imgref="ostree-unverified-image:oci:{{layout}}:v1" > /dev/null
            C=$(basename "$(ls -d "$W"/ours/ostree/deploy/exampleos/deploy/*.0)" .0)
            "$REAL" pull-local --repo="$W/real/ostree/repo" "$W/ours/ostree/repo" "$C" > /dev/null
            "$REAL" admin deploy --sysroot="$W/real" --os=exampleos "$C"
            cp "$W/real/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" "$OUT/real.cfs"
            cp "$W/ours/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" "$OUT/ours.cfs"
            """, verityFilesystem: false);
        AssertSameImage(outDir, "real.cfs", "ours.cfs");
        var dump = Tools.Run(Path.Combine(ForkyBin, "composefs-info"), ["ls", Path.Combine(outDir, "ours.cfs")]).Ok("composefs-info ls");
        Assert.Contains("/usr/bin/tool", dump, StringComparison.Ordinal);
    }

    [Fact]
    public void Post_copy_refuses_or_skips_a_filesystem_without_fs_verity_as_ostree_2026_does()
    {
        // (This machine's kernel has no fs-verity at all; the VM test shows post-copy enabling it.)
        WriteTree("true");
        var outDir = RunInPrivateMount($$"""
            for t in real ours; do
              if [ $t = real ]; then T="$REAL"; else T=OURS; fi
              $T commit --repo="$W/$t/ostree/repo" {{CommitArgs}} --subject=cfs > /dev/null
              $T admin deploy --sysroot="$W/$t" --os=exampleos exampleos/stable > /dev/null
              rc=0; $T admin post-copy --sysroot="$W/$t" || rc=$?; echo "none=$rc" >> "$OUT/$t.exit"
              $T config --repo="$W/$t/ostree/repo" set ex-integrity.fsverity maybe
              rc=0; $T admin post-copy --sysroot="$W/$t" || rc=$?; echo "maybe=$rc" >> "$OUT/$t.exit"
              $T config --repo="$W/$t/ostree/repo" set ex-integrity.fsverity yes
              rc=0; $T admin post-copy --sysroot="$W/$t" 2> "$OUT/$t.err" || rc=$?; echo "yes=$rc" >> "$OUT/$t.exit"
            done
            """, verityFilesystem: false);
        Assert.Equal("none=0\nmaybe=0\nyes=1\n", File.ReadAllText(Path.Combine(outDir, "real.exit")));
        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "real.exit")), File.ReadAllText(Path.Combine(outDir, "ours.exit")));
        Assert.Contains("fsverity required but filesystem does not support it", File.ReadAllText(Path.Combine(outDir, "real.err")), StringComparison.Ordinal);
        Assert.Contains("fsverity required but filesystem does not support it", File.ReadAllText(Path.Combine(outDir, "ours.err")), StringComparison.Ordinal);
    }

    [Fact]
    public void Verity_mode_records_every_digest_and_checks_the_commit_as_ostree_2026_does()
    {
        // enabled = verity: the image carries the fs-verity digest of every file, computed from the
        // content where the kernel keeps none, and must match the commit's recorded digest.
        WriteTree("verity");
        var outDir = RunInPrivateMount($$"""
            "$REAL" commit --repo="$W/real/ostree/repo" {{CommitArgs}} --subject=cfs --generate-composefs-metadata > "$OUT/real.commit"
            OURS commit --repo="$W/ours/ostree/repo" {{CommitArgs}} --subject=cfs --generate-composefs-metadata > "$OUT/ours.commit"
            "$REAL" admin deploy --sysroot="$W/real" --os=exampleos --karg=root=LABEL=root exampleos/stable
            OURS admin deploy --sysroot="$W/ours" --os=exampleos --karg=root=LABEL=root exampleos/stable
            C=$(cat "$OUT/real.commit")
            cp "$W/real/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" "$OUT/real.cfs"
            cp "$W/ours/ostree/deploy/exampleos/deploy/$C.0/.ostree.cfs" "$OUT/ours.cfs"
            # A commit whose recorded digest does not match its tree is refused, by both.
            BAD='[byte 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f]'
            "$REAL" commit --repo="$W/real/ostree/repo" {{CommitArgs}} --add-metadata=ostree.composefs.digest.v0="$BAD" --subject=bad > /dev/null
            OURS commit --repo="$W/ours/ostree/repo" {{CommitArgs}} --add-metadata=ostree.composefs.digest.v0="$BAD" --subject=bad > /dev/null
            for t in real ours; do
              if [ $t = real ]; then T="$REAL"; else T=OURS; fi
              if $T admin deploy --sysroot="$W/$t" --os=exampleos exampleos/stable 2> "$OUT/$t.bad"; then echo deployed >> "$OUT/$t.bad"; fi
            done
            """, verityFilesystem: false);

        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "real.commit")).Trim(), File.ReadAllText(Path.Combine(outDir, "ours.commit")).Trim());
        AssertSameImage(outDir, "real.cfs", "ours.cfs");
        var dump = Tools.Run(Path.Combine(ForkyBin, "composefs-info"), ["dump", Path.Combine(outDir, "ours.cfs")]).Ok("composefs-info dump");
        Assert.Matches(@"/usr/share/one-block 4096 100644 1 0 0 0 0\.0 [0-9a-f]{2}/[0-9a-f]{62}\.file - [0-9a-f]{64}", dump);
        const string Mismatch = "doesn't match expected digest (000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f)";
        Assert.Contains(Mismatch, File.ReadAllText(Path.Combine(outDir, "real.bad")), StringComparison.Ordinal);
        var bad = File.ReadAllText(Path.Combine(outDir, "ours.bad"));
        Assert.Contains(Mismatch, bad, StringComparison.Ordinal);
        Assert.Single(bad.Trim().Split('\n'));
    }

    [Fact]
    public void Fsverity_in_the_repository_config_on_ext4_behaves_as_ostree_2026()
    {
        // ex-integrity.fsverity: "yes" needs fs-verity from the kernel and the filesystem (ext4 with
        // the verity feature); "maybe" uses it when there. The kernel of the test machine decides
        // which of the two outcomes both tools must show; the VM boot test covers a kernel with it.
        WriteTree("true");
        var outDir = RunInPrivateMount($$"""
            echo probe > "$W/probe"
            if fsverity enable "$W/probe" 2>/dev/null; then echo yes > "$OUT/kernel"; else echo no > "$OUT/kernel"; fi
            for t in real ours; do
              if [ $t = real ]; then T="$REAL"; else T=OURS; fi
              $T config --repo="$W/$t/ostree/repo" set ex-integrity.fsverity yes
              if $T commit --repo="$W/$t/ostree/repo" {{CommitArgs}} > "$OUT/$t.yes" 2>&1; then echo ok >> "$OUT/$t.yes"; fi
              $T config --repo="$W/$t/ostree/repo" set ex-integrity.fsverity maybe
              $T commit --repo="$W/$t/ostree/repo" {{CommitArgs}} > "$OUT/$t.commit"
              n=0; v=0
              for f in $(find "$W/$t/ostree/repo/objects" -type f -name '*.file'); do
                n=$((n+1)); if fsverity measure "$f" >/dev/null 2>&1; then v=$((v+1)); fi
              done
              echo "$n $v" > "$OUT/$t.objects"
            done
            """, verityFilesystem: true);

        bool kernel = File.ReadAllText(Path.Combine(outDir, "kernel")).Trim() == "yes";
        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "real.commit")), File.ReadAllText(Path.Combine(outDir, "ours.commit")));
        var objects = File.ReadAllText(Path.Combine(outDir, "ours.objects")).Trim().Split(' ');
        Assert.Equal(File.ReadAllText(Path.Combine(outDir, "real.objects")), File.ReadAllText(Path.Combine(outDir, "ours.objects")));
        Assert.True(int.Parse(objects[0], System.Globalization.CultureInfo.InvariantCulture) > 400);
        Assert.Equal(kernel ? objects[0] : "0", objects[1]);
        var realYes = File.ReadAllText(Path.Combine(outDir, "real.yes"));
        var oursYes = File.ReadAllText(Path.Combine(outDir, "ours.yes"));
        if (kernel)
        {
            Assert.EndsWith("ok\n", realYes, StringComparison.Ordinal);
            Assert.EndsWith("ok\n", oursYes, StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains("fsverity required but filesystem does not support it", realYes, StringComparison.Ordinal);
            Assert.Contains("fsverity required but filesystem does not support it", oursYes, StringComparison.Ordinal);
            Assert.DoesNotContain("ok\n", oursYes, StringComparison.Ordinal);
        }
    }

    private static void AssertSameImage(string outDir, string expected, string actual)
    {
        var a = File.ReadAllBytes(Path.Combine(outDir, expected));
        var b = File.ReadAllBytes(Path.Combine(outDir, actual));
        if (!a.AsSpan().SequenceEqual(b))
        {
            var dumpA = Tools.Run(Path.Combine(ForkyBin, "composefs-info"), ["dump", Path.Combine(outDir, expected)]).Stdout;
            var dumpB = Tools.Run(Path.Combine(ForkyBin, "composefs-info"), ["dump", Path.Combine(outDir, actual)]).Stdout;
            Assert.Equal(dumpA, dumpB);
            Assert.Fail($"{expected} and {actual} differ ({a.Length} and {b.Length} bytes, first at {a.AsSpan().CommonPrefixLength(b)}) with equal dumps");
        }

        Assert.True(a.Length > 4096, Encoding.ASCII.GetString(a.AsSpan(0, Math.Min(a.Length, 64))));
    }
}
