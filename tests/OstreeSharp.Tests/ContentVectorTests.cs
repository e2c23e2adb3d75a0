using System.Text;
using OstreeSharp.Objects;

namespace OstreeSharp.Tests;

public class ContentVectorTests
{
    public static TheoryData<string> ContentObjects => Vectors.ObjectIds("archive", o => o.Str("type") == "filez");

    private static FileHeader HeaderOf(System.Text.Json.JsonElement o) => new(
        (uint)o.GetProperty("uid").GetInt32(),
        (uint)o.GetProperty("gid").GetInt32(),
        (uint)o.GetProperty("mode").GetInt32(),
        o.Str("symlink_target"),
        Xattrs.Create(o.GetProperty("xattrs").EnumerateArray().Reverse().Select(x =>
        {
            var name = x.Hex("name_hex");
            return new Xattr(name[..^1], x.Hex("value_hex"));
        })));

    [Theory]
    [MemberData(nameof(ContentObjects))]
    public void File_header_and_checksum_match_libostree(string id)
    {
        var o = Vectors.Find("archive", id);
        var h = HeaderOf(o);
        Assert.Equal(o.Str("file_header_hex"), Convert.ToHexStringLower(h.ToFileHeaderBytes()));
        Assert.Equal(o.Str("archive_header_hex"), Convert.ToHexStringLower(h.ToArchiveHeaderBytes((ulong)o.GetProperty("content_size").GetInt64())));
        var content = o.Hex("content_hex");
        var input = h.ToContentStreamPrefix().Concat(content).ToArray();
        Assert.Equal(o.Str("checksum_input_hex"), Convert.ToHexStringLower(input));
        Assert.Equal(o.Str("expected_content_checksum"), h.ComputeChecksum(content).ToHex());
    }

    [Theory]
    [MemberData(nameof(ContentObjects))]
    public void Archive_headers_parse_back(string id)
    {
        var o = Vectors.Find("archive", id);
        var (h, size) = FileHeader.ParseArchiveHeader(o.Hex("archive_header_hex"));
        Assert.Equal(HeaderOf(o), h with { Xattrs = h.Xattrs });
        Assert.Equal((ulong)o.GetProperty("archive_header_size_field").GetInt64(), size);
        Assert.Equal(HeaderOf(o).Xattrs, h.Xattrs);
    }

    [Fact]
    public void Bare_user_ostreemeta_matches_libostree()
    {
        foreach (var o in Vectors.Objects("bare_user").Where(o => o.Str("type") == "file"))
        {
            var archive = Vectors.Find("archive", o.Str("checksum") + ".filez");
            var h = HeaderOf(archive);
            var meta = new DirMeta(h.Uid, h.Gid, h.Mode, h.Xattrs).ToBytes();
            Assert.Equal(o.GetProperty("xattrs_on_disk").Str("user.ostreemeta"), Convert.ToHexStringLower(meta));
            if (h.IsSymlink)
            {
                Assert.Equal(Encoding.UTF8.GetBytes(h.SymlinkTarget + "\0"), o.Hex("data_hex"));
            }
        }
    }
}
