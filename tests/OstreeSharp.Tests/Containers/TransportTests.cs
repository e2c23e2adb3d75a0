using OstreeSharp.Containers;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;
using OstreeSharp.TestSupport;

namespace OstreeSharp.Tests.Containers;

public sealed class TransportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ostree-sharp-oci-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static async Task<byte[]> ReadBlobAsync(IImageSource s, Descriptor d)
    {
        await using var stream = await s.GetBlobAsync(d, 0, CancellationToken.None);
        using var ms = new MemoryStream();
        await stream.CopyToAsync(ms);
        return ms.ToArray();
    }

    [Fact]
    public async Task Images_survive_layout_archive_and_dir_round_trips_byte_for_byte()
    {
        var digest = TestImages.WriteSmallLayout(P("a"), "v1");
        TestImages.Copy($"oci:{P("a")}:v1", $"oci-archive:{P("a.tar")}:v1");
        TestImages.Copy($"oci-archive:{P("a.tar")}:v1", $"dir:{P("d")}");
        var result = TestImages.Copy($"dir:{P("d")}", $"oci:{P("b")}:other");
        Assert.Equal(digest, result.ManifestDigest);
        await using var a = ImageTransports.OpenSource(ImageReference.Parse($"oci:{P("a")}:v1"));
        await using var b = ImageTransports.OpenSource(ImageReference.Parse($"oci:{P("b")}:other"));
        var ma = await a.GetManifestAsync(null, CancellationToken.None);
        var mb = await b.GetManifestAsync(null, CancellationToken.None);
        Assert.Equal(ma.Bytes, mb.Bytes);
        foreach (var layer in ma.AsManifest().Layers)
        {
            Assert.Equal(await ReadBlobAsync(a, layer), await ReadBlobAsync(b, layer));
        }

        Assert.Equal(DirLayout.Version, File.ReadAllText(P("d/version")));
        Assert.Equal(["other"], await b.ListTagsAsync(CancellationToken.None));
    }

    [Fact]
    public void Tags_in_one_layout_replace_their_own_entry_only()
    {
        TestImages.WriteSmallLayout(P("a"), "one", seed: 1);
        TestImages.WriteSmallLayout(P("a"), "two", seed: 2);
        var again = TestImages.WriteSmallLayout(P("a"), "one", seed: 3);
        var src = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{P("a")}:one"));
        Assert.Equal(2, src.Index.Manifests.Count);
        Assert.Equal(again.ToString(), src.ResolveTop().Digest);
        var untagged = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{P("a")}"));
        Assert.Equal(OstreeErrorCode.InvalidArgument, Assert.Throws<ContainerException>(() => untagged.ResolveTop()).ErrorCode);
        var nope = Assert.Throws<ContainerException>(() => OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{P("a")}:nope")).ResolveTop());
        Assert.Equal(OstreeErrorCode.ImageNotFound, nope.ErrorCode);
        Assert.Contains($"oci:{P("a")}:nope", nope.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupt_blob_fails_the_copy_names_the_digest_and_lands_nowhere()
    {
        TestImages.WriteSmallLayout(P("a"), "v1");
        var src = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{P("a")}:v1"));
        var layer = (await src.GetManifestAsync(null, CancellationToken.None)).AsManifest().Layers[0];
        var path = P("a/blobs/sha256/" + layer.GetDigest().Hex);
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0xff;
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<DigestMismatchException>(() => TestImages.Copy($"oci:{P("a")}:v1", $"oci:{P("b")}:v1"));
        Assert.Contains(layer.Digest, e.Message, StringComparison.Ordinal);
        Assert.Contains($"oci:{P("a")}:v1", e.Message, StringComparison.Ordinal);
        // The copy created the layout, so a failed copy removes all of it.
        Assert.False(Directory.Exists(P("b")));
    }

    [Fact]
    public async Task A_failed_copy_into_an_existing_layout_leaves_its_index_alone()
    {
        TestImages.WriteSmallLayout(P("b"), "keep");
        var before = File.ReadAllBytes(P("b/index.json"));
        TestImages.WriteSmallLayout(P("a"), "v1", seed: 9);
        var src = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{P("a")}:v1"));
        var layer = (await src.GetManifestAsync(null, CancellationToken.None)).AsManifest().Layers[0];
        File.WriteAllBytes(P("a/blobs/sha256/" + layer.GetDigest().Hex), [1, 2, 3]);
        Assert.Throws<DigestMismatchException>(() => TestImages.Copy($"oci:{P("a")}:v1", $"oci:{P("b")}:keep"));
        Assert.Equal(before, File.ReadAllBytes(P("b/index.json")));
    }

    [Fact]
    public async Task An_index_without_the_platform_is_a_one_line_error_naming_the_reference()
    {
        TestImages.WriteSmallLayout(P("a"), "v1");
        var src = OciLayoutSource.OpenDirectory(ImageReference.Parse($"oci:{P("a")}:v1"));
        var desc = src.ResolveTop();
        desc.Platform = new OstreeSharp.Containers.Oci.Platform { Os = "linux", Architecture = "s390x" };
        var index = new ImageIndex { MediaType = MediaTypes.OciIndex, Manifests = [desc] };
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Writer.ImageIndex);
        var dest = new OciLayoutDestination(ImageReference.Parse($"oci:{P("a")}:multi"));
        await dest.PutManifestAsync(new ManifestBlob(bytes, MediaTypes.OciIndex, "t"), true, CancellationToken.None);
        await dest.CommitAsync(CancellationToken.None);

        var e = Assert.Throws<ManifestException>(() => TestImages.Copy($"oci:{P("a")}:multi", $"oci:{P("b")}:x", copy: new CopyOptions { Architecture = "amd64" }));
        Assert.Equal($"oci:{P("a")}:multi: no image in the index for linux/amd64; it has linux/s390x", e.Message);
        var all = TestImages.Copy($"oci:{P("a")}:multi", $"oci:{P("b")}:x", copy: new CopyOptions { All = true });
        Assert.Equal(MediaTypes.OciIndex, all.MediaType);
        var picked = TestImages.Copy($"oci:{P("a")}:multi", $"oci:{P("c")}:x", copy: new CopyOptions { Architecture = "s390x" });
        Assert.Equal(desc.Digest, picked.ManifestDigest.ToString());
    }

    [Fact]
    public void Containers_storage_and_writing_docker_archives_are_clear_errors()
    {
        var e = Assert.Throws<ImageReferenceException>(() => ImageTransports.OpenSource(ImageReference.Parse("containers-storage:localhost/x")));
        Assert.Contains("containers-storage: transport is not supported", e.Message, StringComparison.Ordinal);
        Assert.Contains("docker-archive: can be read, not written", Assert.Throws<ImageReferenceException>(() => ImageTransports.OpenDestination(ImageReference.Parse("docker-archive:/tmp/x.tar"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dir_destination_refuses_a_foreign_non_empty_directory()
    {
        Directory.CreateDirectory(P("busy"));
        File.WriteAllText(P("busy/precious"), "x");
        Assert.Throws<ContainerException>(() => new DirDestination(ImageReference.Parse($"dir:{P("busy")}")));
        Assert.True(File.Exists(P("busy/precious")));
    }

    [Fact]
    public async Task Archives_are_read_in_place_and_resume_from_an_offset()
    {
        TestImages.WriteSmallLayout(P("a"), "v1");
        TestImages.Copy($"oci:{P("a")}:v1", $"oci-archive:{P("a.tar")}");
        await using var s = OciLayoutSource.OpenArchive(ImageReference.Parse($"oci-archive:{P("a.tar")}"));
        var layer = (await s.GetManifestAsync(null, CancellationToken.None)).AsManifest().Layers[0];
        var whole = await ReadBlobAsync(s, layer);
        await using var tail = await s.GetBlobAsync(layer, 10, CancellationToken.None);
        using var ms = new MemoryStream();
        await tail.CopyToAsync(ms);
        Assert.Equal(whole[10..], ms.ToArray());
    }
}
