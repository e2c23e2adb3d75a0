using System.Text;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Tests.Containers;

public class OciModelTests
{
    [Fact]
    public void Digests_parse_sha256_and_sha512_and_refuse_others()
    {
        var d = Digest.Parse("sha256:" + new string('a', 64));
        Assert.Equal("sha256", d.Algorithm);
        Assert.Equal("sha512", Digest.Parse("sha512:" + new string('0', 128)).Algorithm);
        Assert.False(Digest.TryParse("sha256:" + new string('A', 64), out _));
        Assert.False(Digest.TryParse("md5:" + new string('a', 32), out _));
        Assert.False(Digest.TryParse("sha256:abc", out _));
        Assert.Equal("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Digest.Sha256("hello"u8).ToString());
        var s512 = Digest.Parse("sha512:" + new string('0', 128)).Recompute("hello"u8);
        Assert.Equal("sha512", s512.Algorithm);
        Assert.StartsWith("9b71d224bd62f378", s512.Hex, StringComparison.Ordinal);
    }

    [Fact]
    public void Manifest_media_types_come_from_the_field_the_header_or_the_shape()
    {
        var oci = """{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"""u8.ToArray();
        Assert.Equal(MediaTypes.OciManifest, new ManifestBlob(oci, null, "t").MediaType);
        Assert.Equal(MediaTypes.DockerManifest, new ManifestBlob(oci, MediaTypes.DockerManifest, "t").MediaType);
        var index = """{"schemaVersion":2,"manifests":[]}"""u8.ToArray();
        Assert.True(new ManifestBlob(index, "application/json", "t").IsIndex);
        var docker = """{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"""u8.ToArray();
        Assert.Equal(MediaTypes.DockerManifestList, new ManifestBlob(docker, MediaTypes.OciManifest, "t").MediaType);
    }

    [Fact]
    public void Manifest_bytes_are_kept_as_given()
    {
        var bytes = Encoding.UTF8.GetBytes("{ \"schemaVersion\" : 2, \"layers\": [], \"config\": {\"mediaType\":\"x\",\"digest\":\"sha256:" + new string('b', 64) + "\",\"size\":1} }");
        var m = new ManifestBlob(bytes, null, "t");
        Assert.Same(bytes, m.Bytes);
        Assert.Equal(Digest.Sha256(bytes), m.Digest);
        Assert.Equal(new string('b', 64), m.AsManifest().Config.GetDigest().Hex);
    }

    [Theory]
    [InlineData("""{"schemaVersion":1,"name":"x","fsLayers":[]}""", "schema 1")]
    [InlineData("""[1,2]""", "not a JSON object")]
    [InlineData("""{"schemaVersion":2,"mediaType":"text/plain"}""", "Unsupported manifest type text/plain")]
    [InlineData("""{"schemaVersion":2""", "Malformed manifest of t")]
    public void Bad_manifests_are_refused(string json, string message)
    {
        var e = Assert.Throws<ManifestException>(() => new ManifestBlob(Encoding.UTF8.GetBytes(json), null, "t"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_manifests_and_wrong_digests_are_refused()
    {
        var big = new byte[ManifestBlob.MaxSize + 1];
        Assert.Contains("over the limit", Assert.Throws<ManifestException>(() => new ManifestBlob(big, null, "docker://x/y:z")).Message, StringComparison.Ordinal);
        var m = new ManifestBlob("""{"schemaVersion":2,"manifests":[]}"""u8.ToArray(), null, "docker://x/y:z");
        var wrong = Digest.Sha256("other"u8);
        var e = Assert.Throws<DigestMismatchException>(() => m.Verify(wrong));
        Assert.Contains("docker://x/y:z", e.Message, StringComparison.Ordinal);
        Assert.Contains(wrong.ToString(), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verifying_stream_fails_on_wrong_digest_short_and_long_blobs()
    {
        var data = "hello world"u8.ToArray();
        var d = Digest.Sha256(data);
        static void Drain(Stream s) => s.CopyTo(Stream.Null);
        Drain(new VerifyingStream(new MemoryStream(data), d, data.Length, "x"));
        Assert.Contains("has digest", Assert.Throws<DigestMismatchException>(() => Drain(new VerifyingStream(new MemoryStream("hello worle"u8.ToArray()), d, data.Length, "x"))).Message, StringComparison.Ordinal);
        Assert.Contains("ended after 5 bytes", Assert.Throws<DigestMismatchException>(() => Drain(new VerifyingStream(new MemoryStream(data, 0, 5), d, data.Length, "x"))).Message, StringComparison.Ordinal);
        Assert.Contains("longer than", Assert.Throws<DigestMismatchException>(() => Drain(new VerifyingStream(new MemoryStream(data), d, 4, "x"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Platform_selection_picks_the_matching_entry_or_names_what_is_offered()
    {
        var index = new ImageIndex
        {
            Manifests =
            [
                new Descriptor { MediaType = MediaTypes.OciManifest, Digest = "sha256:" + new string('1', 64), Size = 1, Platform = new OstreeSharp.Containers.Oci.Platform { Os = "linux", Architecture = "arm64", Variant = "v8" } },
                new Descriptor { MediaType = MediaTypes.OciManifest, Digest = "sha256:" + new string('2', 64), Size = 1, Platform = new OstreeSharp.Containers.Oci.Platform { Os = "linux", Architecture = "amd64" } },
            ],
        };
        Assert.EndsWith("2", PlatformSelector.Choose(index, "linux", "amd64", null, "r").Digest, StringComparison.Ordinal);
        Assert.EndsWith("1", PlatformSelector.Choose(index, "linux", "arm64", null, "r").Digest, StringComparison.Ordinal);
        var e = Assert.Throws<ManifestException>(() => PlatformSelector.Choose(index, "linux", "s390x", null, "docker://h/r:t"));
        Assert.Equal("docker://h/r:t: no image in the index for linux/s390x; it has linux/arm64/v8, linux/amd64", e.Message);
    }

    [Fact]
    public void Docker_manifests_convert_to_oci_media_types()
    {
        var m = new ImageManifest
        {
            MediaType = MediaTypes.DockerManifest,
            Config = Descriptor.Create(MediaTypes.DockerConfig, Digest.Sha256("c"u8), 1),
            Layers = [Descriptor.Create(MediaTypes.DockerLayerGzip, Digest.Sha256("l"u8), 1)],
        };
        var converted = ImageCopier.ConvertToOci(m, "t").AsManifest();
        Assert.Equal(MediaTypes.OciManifest, converted.MediaType);
        Assert.Equal(MediaTypes.OciConfig, converted.Config.MediaType);
        Assert.Equal(MediaTypes.OciLayerGzip, converted.Layers[0].MediaType);
        Assert.Equal(m.Layers[0].Digest, converted.Layers[0].Digest);
    }

    [Theory]
    [InlineData("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:samalba/my-app:pull,push\"", "Bearer", "realm", "https://auth.docker.io/token")]
    [InlineData("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\",scope=\"repository:samalba/my-app:pull,push\"", "Bearer", "scope", "repository:samalba/my-app:pull,push")]
    [InlineData("Basic realm=\"test-registry\"", "Basic", "realm", "test-registry")]
    [InlineData("basic realm=unquoted", "basic", "realm", "unquoted")]
    [InlineData("Bearer realm=\"http://h/t\", error=\"invalid_token\", error_description=\"a \\\"quoted\\\" thing\"", "Bearer", "error_description", "a \"quoted\" thing")]
    public void Www_authenticate_headers_parse(string header, string scheme, string key, string value)
    {
        var c = AuthChallenge.Parse(header, "http://h/v2/")[0];
        Assert.Equal(scheme, c.Scheme);
        Assert.Equal(value, c[key]);
    }

    [Theory]
    [InlineData("Bearer realm=\"https://x/token")]
    [InlineData("Bearer service=\"x\"")]
    [InlineData("Bearer realm=\"not a url\"")]
    [InlineData("=== garbage")]
    [InlineData("Bearer realm=")]
    [InlineData("")]
    public void Malformed_www_authenticate_headers_name_the_url(string header)
    {
        var e = Assert.Throws<RegistryAuthException>(() => AuthChallenge.Parse(header, "http://reg:5000/v2/foo/manifests/t"));
        Assert.Contains("http://reg:5000/v2/foo/manifests/t", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }
}
