using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Rechunk;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Tar;
using OstreeSharp.TestSupport;

namespace OstreeSharp.Tests.Containers;

public sealed class RechunkTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ostree-sharp-rechunk-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (byte[] Gz, Digest DiffId) Layer(Action<TarWriter> write)
    {
        var tar = new MemoryStream();
        using (var w = new TarWriter(tar, leaveOpen: true))
        {
            write(w);
            w.Finish();
        }

        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(tar.ToArray());
        }

        return (gz.ToArray(), Digest.FromHash("sha256", SHA256.HashData(tar.ToArray())));
    }

    private static void File(TarWriter w, string name, string text, uint uid = 0) =>
        w.WriteFile(new TarEntry { Name = name, Mode = 0x1A4, Uid = uid, Mtime = 1700000000 }, Encoding.UTF8.GetBytes(text));

    [Fact]
    public async Task Layers_merge_with_whiteouts_opaque_folders_and_hard_links_to_lower_layers()
    {
        var layout = Path.Combine(_dir, "layout");
        var (l1, d1) = Layer(w =>
        {
            w.WriteEntry(new TarEntry { Name = "usr/", Type = TarType.Directory, Mode = 0x1ED });
            w.WriteEntry(new TarEntry { Name = "usr/bin/", Type = TarType.Directory, Mode = 0x1ED });
            File(w, "usr/a", "a");
            File(w, "usr/b", "b", uid: 42);
            File(w, "etc/old", "old");
            File(w, "etc/sub/deep", "deep");
        });
        var (l2, d2) = Layer(w =>
        {
            File(w, "usr/.wh.a", string.Empty);
            File(w, "etc/new", "new");
            File(w, "etc/.wh..wh..opq", string.Empty);
            w.WriteEntry(new TarEntry { Name = "usr/c", Type = TarType.HardLink, LinkName = "usr/b" });
            w.WriteEntry(new TarEntry { Name = "bin", Type = TarType.Symlink, LinkName = "usr/bin", Mode = 0x1FF });
        });
        TestImages.WriteLayout(layout, "1", l1, d1);
        TestImages.AddLayer(layout, "1", "2", l2, d2);
        await using var source = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{layout}:2"));
        var manifest = (await source.GetManifestAsync(null, CancellationToken.None)).AsManifest();
        var tree = await RootTree.FromImageAsync(source, manifest, Path.Combine(_dir, "spool"));

        Assert.Equal(["", "bin", "etc", "etc/new", "usr", "usr/b", "usr/bin", "usr/c"], tree.Entries.Select(e => e.Path));
        var b = tree["usr/b"]!;
        var c = tree["usr/c"]!;
        Assert.True(b.LinkGroup >= 0);
        Assert.Equal(b.LinkGroup, c.LinkGroup);
        Assert.Equal(42u, c.Uid);
        using (var s = RootTree.OpenRead(c))
        {
            Assert.Equal("b", new StreamReader(s).ReadToEnd());
        }

        Assert.Equal("usr/bin/ls", tree.ResolveParents("bin/ls"));
        Assert.Null(tree.ResolveParents("missing/dir/x"));
    }

    [Fact]
    public async Task A_hard_link_to_a_missing_file_names_the_layer()
    {
        var layout = Path.Combine(_dir, "bad");
        var (l1, d1) = Layer(w => w.WriteEntry(new TarEntry { Name = "usr/c", Type = TarType.HardLink, LinkName = "usr/nothing" }));
        TestImages.WriteLayout(layout, "1", l1, d1);
        await using var source = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{layout}:1"));
        var manifest = (await source.GetManifestAsync(null, CancellationToken.None)).AsManifest();
        var e = await Assert.ThrowsAsync<ContainerException>(() => RootTree.FromImageAsync(source, manifest, Path.Combine(_dir, "spool")));
        Assert.Contains(manifest.Layers[0].Digest, e.Message, StringComparison.Ordinal);
        Assert.Contains("usr/nothing", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Tue, 13 Feb 2024 18:23:33 +0100", "2024-02-13T17:23:33+00:00")]
    [InlineData("Sat, 1 Jun 2024 09:00:00 -0500", "2024-06-01T14:00:00+00:00")]
    public void Changelog_dates_parse_as_rfc2822(string text, string utc) =>
        Assert.Equal(DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture), Components.ParseRfc2822(text));

    [Theory]
    [InlineData("not a date")]
    [InlineData("Tue, 13 Feb 2024 18:23:33 +9900")]
    [InlineData("Tue, 31 Feb 2024 18:23:33 +0000")]
    public void Malformed_changelog_dates_are_skipped(string text) => Assert.Null(Components.ParseRfc2822(text));

    [Theory]
    [InlineData("usr/bin/ls", "/usr/bin")]
    [InlineData("usr/local/bin/x", "/usr/local")]
    [InlineData("etc/passwd", "/etc")]
    [InlineData("usr", "/")]
    public void Unowned_paths_group_by_their_first_two_folders(string path, string component) => Assert.Equal(component, Components.Folder(path));
}
