using OstreeSharp.GVariant;
using OstreeSharp.Objects;

namespace OstreeSharp.Tests;

public class GVariantVectorTests
{
    public static TheoryData<string> MetadataObjects => Vectors.ObjectIds("archive", o => o.Str("type") != "filez");

    [Theory]
    [MemberData(nameof(MetadataObjects))]
    public void Metadata_objects_round_trip_byte_for_byte(string id)
    {
        var o = Vectors.Find("archive", id);
        var bytes = o.Hex("hex");
        var v = GVariantValue.Parse(o.Str("gvariant_type"), bytes);
        Assert.Equal(Convert.ToHexStringLower(bytes), Convert.ToHexStringLower(v.ToBytes()));
        Assert.Equal(o.Str("sha256_of_bytes"), Checksum.Compute(bytes).ToHex());
        var onDisk = File.ReadAllBytes(Path.Combine(Vectors.ArchiveRepo, o.Str("path")));
        Assert.Equal(bytes, onDisk);
    }

    [Theory]
    [MemberData(nameof(MetadataObjects))]
    public void Metadata_objects_print_as_glib_does(string id)
    {
        var o = Vectors.Find("archive", id);
        var v = GVariantValue.Parse(o.Str("gvariant_type"), o.Hex("hex"));
        var decoded = o.GetProperty("decoded");
        switch (o.Str("type"))
        {
            case "commit":
                Assert.Equal(decoded.Str("metadata"), v[0].Print());
                Assert.Equal(decoded.Str("related"), v[2].Print());
                break;
            case "commitmeta" or "tombstone-commit":
                Assert.Equal(decoded.Str("text"), v.Print());
                break;
        }
    }

    [Fact]
    public void Commits_rebuild_from_their_fields()
    {
        foreach (var o in Vectors.Objects("archive").Where(o => o.Str("type") == "commit"))
        {
            var d = o.GetProperty("decoded");
            var meta = GVariantTextParser.Parse(d.Str("metadata"), GVariantType.VarDict);
            var parent = d.Str("parent");
            var commit = new Commit(
                meta,
                parent.Length == 0 ? null : Checksum.Parse(parent),
                d.Str("subject"),
                d.Str("body"),
                (ulong)d.GetProperty("timestamp").GetInt64(),
                Checksum.Parse(d.Str("root_dirtree")),
                Checksum.Parse(d.Str("root_dirmeta")));
            Assert.Equal(o.Str("checksum"), Checksum.Compute(commit.ToBytes()).ToHex());
            var parsed = Commit.Parse(o.Hex("hex"));
            Assert.Equal(d.Str("subject"), parsed.Subject);
            Assert.Equal((ulong)d.GetProperty("timestamp").GetInt64(), parsed.Timestamp);
        }
    }

    [Fact]
    public void Content_checksum_of_the_c2_tree_matches_ostree_show()
    {
        var c2 = Commit.Parse(Vectors.Find("archive", Vectors.Manifest.GetProperty("commits").Str("c2") + ".commit").Hex("hex"));
        Assert.Equal("b889162c82b59d839e5470c64196f245ec9dfffb4a72dcd011c9619f79d771c5", c2.ContentChecksum.ToHex());
    }

    [Fact]
    public void Dirtrees_and_dirmetas_rebuild_from_their_fields()
    {
        foreach (var o in Vectors.Objects("archive").Where(o => o.Str("type") is "dirtree" or "dirmeta"))
        {
            var bytes = o.Hex("hex");
            byte[] again = o.Str("type") == "dirtree"
                ? new DirTree(DirTree.Parse(bytes).Files.Reverse(), DirTree.Parse(bytes).Dirs.Reverse()).ToBytes()
                : DirMeta.Parse(bytes).ToBytes();
            Assert.Equal(bytes, again);
        }
    }
}
