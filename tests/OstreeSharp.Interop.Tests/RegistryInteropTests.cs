using System.Text.Json;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Transports;
using OstreeSharp.TestSupport;

namespace OstreeSharp.Interop.Tests;

/// <summary>Three registries shared by the registry tests: anonymous, htpasswd basic auth, and bearer tokens.</summary>
public sealed class RegistryFixture : IDisposable
{
    public RegistryFixture()
    {
        Plain = RegistryServer.Start(RegistryAuth.None);
        Basic = RegistryServer.Start(RegistryAuth.Htpasswd);
        Issuer = new TokenIssuer();
        Token = RegistryServer.Start(RegistryAuth.Token, Issuer);
    }

    internal RegistryServer Plain { get; }

    internal RegistryServer Basic { get; }

    internal RegistryServer Token { get; }

    internal TokenIssuer Issuer { get; }

    public void Dispose()
    {
        Plain.Dispose();
        Basic.Dispose();
        Token.Dispose();
        Issuer.Dispose();
    }
}

[CollectionDefinition("registries")]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>;

[Collection("registries")]
public sealed class RegistryInteropTests(RegistryFixture registries) : IDisposable
{
    private const string Creds = RegistryServer.User + ":" + RegistryServer.Password;
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private static RegistryOptions Insecure(RegistryCredential? creds = null) => new() { TlsVerify = false, Credentials = creds, NoCredentials = creds is null, RetryDelay = TimeSpan.FromMilliseconds(100) };

    private static RegistryCredential Good => new(RegistryServer.User, RegistryServer.Password);

    private static string Sha256File(string path)
    {
        using var f = File.OpenRead(path);
        return "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(f));
    }

    [Fact]
    public void Our_layout_goes_to_the_registry_and_skopeo_brings_it_back_identical()
    {
        var digest = TestImages.WriteSmallLayout(_tmp["ours"], "v1", files: 5);
        var reference = $"docker://{registries.Plain.Address}/interop/ours:v1";
        Tools.Ours("image", "copy", "--tls-verify=false", $"oci:{_tmp["ours"]}:v1", reference).Ok("image copy to registry");
        Tools.Run("skopeo", ["copy", "--src-tls-verify=false", reference, $"oci:{_tmp["back"]}:v1"]).Ok("skopeo copy back");
        using var index = JsonDocument.Parse(File.ReadAllText(_tmp["back/index.json"]));
        Assert.Equal(digest.ToString(), index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString());
        foreach (var blob in Directory.GetFiles(_tmp["ours/blobs/sha256"]))
        {
            Assert.Equal(File.ReadAllBytes(blob), File.ReadAllBytes(_tmp["back/blobs/sha256/" + Path.GetFileName(blob)]));
        }
    }

    [Fact]
    public void Skopeo_pushes_and_we_pull_a_umoci_layout_and_inspect_agrees_with_skopeo()
    {
        var rootfs = _tmp["rootfs"];
        Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
        File.WriteAllText(Path.Combine(rootfs, "etc/os-release"), "ID=test\n");
        Tools.Run("umoci", ["init", "--layout", _tmp["umoci"]]).Ok("umoci init");
        Tools.Run("umoci", ["new", "--image", _tmp["umoci"] + ":t"]).Ok("umoci new");
        Tools.Run("umoci", ["insert", "--image", _tmp["umoci"] + ":t", Path.Combine(rootfs, "etc"), "/etc"]).Ok("umoci insert");
        Tools.Run("umoci", ["config", "--image", _tmp["umoci"] + ":t", "--config.label", "org.example=umoci", "--config.env", "FOO=bar"]).Ok("umoci config");
        var reference = $"docker://{registries.Plain.Address}/interop/umoci:t";
        Tools.Run("skopeo", ["copy", "--dest-tls-verify=false", $"oci:{_tmp["umoci"]}:t", reference]).Ok("skopeo push");
        Tools.Ours("image", "copy", "--tls-verify=false", reference, $"oci:{_tmp["pulled"]}:t").Ok("our pull");
        Tools.Run("umoci", ["unpack", "--rootless", "--image", _tmp["pulled"] + ":t", _tmp["bundle"]]).Ok("umoci unpack of what we pulled");
        Assert.Equal("ID=test\n", File.ReadAllText(_tmp["bundle/rootfs/etc/os-release"]));

        foreach (var refText in new[] { reference, $"oci:{_tmp["pulled"]}:t" })
        {
            using var theirs = JsonDocument.Parse(Tools.Run("skopeo", ["inspect", "--tls-verify=false", refText]).Ok("skopeo inspect"));
            using var ours = JsonDocument.Parse(Tools.Ours("image", "inspect", "--tls-verify=false", refText).Ok("image inspect"));
            foreach (var field in new[] { "Name", "Digest", "RepoTags", "Created", "DockerVersion", "Labels", "Architecture", "Os", "Layers", "Env" })
            {
                var has = theirs.RootElement.TryGetProperty(field, out var t);
                Assert.Equal(has, ours.RootElement.TryGetProperty(field, out var o));
                if (has)
                {
                    Assert.Equal(t.GetRawText().Replace(" ", string.Empty, StringComparison.Ordinal).ReplaceLineEndings(string.Empty), o.GetRawText().Replace(" ", string.Empty, StringComparison.Ordinal).ReplaceLineEndings(string.Empty));
                }
            }
        }

        Assert.Equal(Tools.Run("skopeo", ["inspect", "--raw", "--tls-verify=false", reference]).Ok("skopeo raw"), Tools.Ours("image", "inspect", "--raw", "--tls-verify=false", reference).Ok("our raw"));
    }

    [Fact]
    public void Skopeo_written_archives_and_dirs_are_read_and_ours_are_read_by_skopeo()
    {
        TestImages.WriteSmallLayout(_tmp["src"], "v1");
        Tools.Run("skopeo", ["copy", $"oci:{_tmp["src"]}:v1", $"docker-archive:{_tmp["d.tar"]}:example/img:v1"]).Ok("skopeo docker-archive");
        Tools.Run("skopeo", ["copy", $"oci:{_tmp["src"]}:v1", $"dir:{_tmp["skopeodir"]}"]).Ok("skopeo dir");
        Tools.Run("skopeo", ["copy", $"oci:{_tmp["src"]}:v1", $"oci-archive:{_tmp["s.ociarchive"]}:v1"]).Ok("skopeo oci-archive");

        Tools.Ours("image", "copy", $"docker-archive:{_tmp["d.tar"]}", $"docker://{registries.Plain.Address}/interop/fromarchive:v1", "--tls-verify=false").Ok("docker-archive to registry");
        Tools.Ours("image", "copy", $"dir:{_tmp["skopeodir"]}", $"oci:{_tmp["fromdir"]}:v1").Ok("dir to oci");
        Tools.Ours("image", "copy", $"oci-archive:{_tmp["s.ociarchive"]}:v1", $"oci-archive:{_tmp["ours.ociarchive"]}:v1").Ok("oci-archive to oci-archive");
        Tools.Ours("image", "copy", $"oci:{_tmp["src"]}:v1", $"dir:{_tmp["ourdir"]}").Ok("oci to dir");

        var digest = Tools.Run("skopeo", ["inspect", "--format", "{{.Digest}}", $"oci:{_tmp["src"]}:v1"]).Ok("inspect src");
        Assert.Equal(digest, Tools.Run("skopeo", ["inspect", "--format", "{{.Digest}}", $"oci:{_tmp["fromdir"]}:v1"]).Ok("inspect fromdir"));
        Assert.Equal(digest, Tools.Run("skopeo", ["inspect", "--format", "{{.Digest}}", $"oci-archive:{_tmp["ours.ociarchive"]}:v1"]).Ok("skopeo reads our oci-archive"));
        Assert.Equal(digest, Tools.Run("skopeo", ["inspect", "--format", "{{.Digest}}", $"dir:{_tmp["ourdir"]}"]).Ok("skopeo reads our dir"));
        Tools.Run("skopeo", ["copy", "--src-tls-verify=false", $"docker://{registries.Plain.Address}/interop/fromarchive:v1", $"oci:{_tmp["check"]}:v1"]).Ok("skopeo pulls what we pushed from a docker-archive");
    }

    [Fact]
    public async Task Basic_auth_works_with_creds_and_authfile_and_fails_clearly_without()
    {
        TestImages.WriteSmallLayout(_tmp["src"], "v1");
        var reference = $"docker://{registries.Basic.Address}/secure/img:v1";
        Tools.Ours("image", "copy", "--tls-verify=false", "--dest-creds", Creds, $"oci:{_tmp["src"]}:v1", reference).Ok("push with creds");

        var noCreds = Tools.OursEnv(new Dictionary<string, string> { ["REGISTRY_AUTH_FILE"] = _tmp["none.json"], ["HOME"] = _tmp.Path }, "image", "copy", "--tls-verify=false", reference, $"oci:{_tmp["x"]}:v1");
        Assert.Equal(1, noCreds.ExitCode);
        var line = Assert.Single(noCreds.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("401", line, StringComparison.Ordinal);
        Assert.Contains("no credentials", line, StringComparison.Ordinal);
        Assert.Contains("secure/img", line, StringComparison.Ordinal);

        var wrong = Tools.Ours("image", "inspect", "--tls-verify=false", "--creds", "tester:wrong", reference);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("rejected", wrong.Stderr, StringComparison.Ordinal);

        File.WriteAllText(_tmp["auth.json"], "{\"auths\":{\"" + registries.Basic.Address + "\":{\"auth\":\"" + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Creds)) + "\"}}}");
        Tools.OursEnv(new Dictionary<string, string> { ["REGISTRY_AUTH_FILE"] = _tmp["auth.json"] }, "image", "copy", "--tls-verify=false", reference, $"oci:{_tmp["viaenv"]}:v1").Ok("pull with REGISTRY_AUTH_FILE");
        Tools.Ours("image", "copy", "--tls-verify=false", "--authfile", _tmp["auth.json"], reference, $"oci:{_tmp["viafile"]}:v1").Ok("pull with --authfile");
        Tools.Run("skopeo", ["inspect", "--tls-verify=false", "--creds", Creds, reference]).Ok("skopeo sees our push");

        await using var src = new RegistrySource(ImageReference.Parse(reference), Insecure(Good));
        Assert.Contains("v1", await src.ListTagsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Bearer_tokens_are_fetched_cached_and_refreshed()
    {
        TestImages.WriteSmallLayout(_tmp["src"], "v1", files: 4);
        var reference = $"docker://{registries.Token.Address}/tok/img:v1";
        Tools.Ours("image", "copy", "--tls-verify=false", "--creds", Creds, $"oci:{_tmp["src"]}:v1", reference).Ok("push with token auth");
        Tools.Run("skopeo", ["copy", "--src-tls-verify=false", "--src-creds", Creds, reference, $"oci:{_tmp["skopeo"]}:v1"]).Ok("skopeo pulls with tokens");
        Tools.Ours("image", "copy", "--tls-verify=false", "--creds", Creds, reference, $"docker://{registries.Token.Address}/tok/mounted:v1").Ok("cross-repository copy");

        var anonymous = Tools.Ours("image", "inspect", "--tls-verify=false", "--no-creds", reference);
        Assert.Equal(1, anonymous.ExitCode);
        Assert.Contains("refused anonymous access", anonymous.Stderr, StringComparison.Ordinal);
        Assert.Single(anonymous.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));

        // One client: the token for a scope is fetched once and reused...
        using var client = new RegistryClient(DockerReference.Parse($"{registries.Token.Address}/tok/img"), Insecure(Good));
        int before = registries.Issuer.Requests;
        for (int i = 0; i < 3; i++)
        {
            Assert.Contains("v1", await client.ListTagsAsync("tok/img", CancellationToken.None));
        }

        Assert.Equal(before + 1, registries.Issuer.Requests);

        // ...and fetched again once it expires.
        registries.Issuer.ExpiresIn = 2;
        try
        {
            using var shortLived = new RegistryClient(DockerReference.Parse($"{registries.Token.Address}/tok/img"), Insecure(Good));
            before = registries.Issuer.Requests;
            await shortLived.ListTagsAsync("tok/img", CancellationToken.None);
            await shortLived.ListTagsAsync("tok/img", CancellationToken.None);
            Assert.Equal(before + 2, registries.Issuer.Requests);
        }
        finally
        {
            registries.Issuer.ExpiresIn = 300;
        }

        var digest = Tools.Ours("image", "delete", "--tls-verify=false", "--creds", Creds, reference).Ok("delete");
        Assert.StartsWith("sha256:", digest, StringComparison.Ordinal);
        var gone = Tools.Ours("image", "inspect", "--tls-verify=false", "--creds", Creds, reference);
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains("MANIFEST_UNKNOWN", gone.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Tags_are_listed_like_skopeo_list_tags()
    {
        TestImages.WriteSmallLayout(_tmp["src"], "v1");
        foreach (var tag in new[] { "a", "b", "c" })
        {
            Tools.Ours("image", "copy", "--tls-verify=false", $"oci:{_tmp["src"]}:v1", $"docker://{registries.Plain.Address}/interop/tags:{tag}").Ok("push " + tag);
        }

        using var ours = JsonDocument.Parse(Tools.Ours("image", "tags", "--tls-verify=false", $"docker://{registries.Plain.Address}/interop/tags").Ok("tags"));
        using var theirs = JsonDocument.Parse(Tools.Run("skopeo", ["list-tags", "--tls-verify=false", $"docker://{registries.Plain.Address}/interop/tags"]).Ok("skopeo list-tags"));
        Assert.Equal(theirs.RootElement.GetProperty("Repository").GetString(), ours.RootElement.GetProperty("Repository").GetString());
        Assert.Equal(theirs.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()).Order(), ours.RootElement.GetProperty("Tags").EnumerateArray().Select(t => t.GetString()).Order());
    }

    [Fact]
    public async Task A_one_gigabyte_layer_is_pushed_in_chunks_and_verified_by_the_registry()
    {
        const long size = 1L << 30;
        var blobPath = _tmp["big.blob"];
        using (var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256))
        using (var f = new FileStream(blobPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buf = new byte[8 << 20];
            ulong state = 0x9E3779B97F4A7C15;
            for (long written = 0; written < size; written += buf.Length)
            {
                TestImages.Fill(buf, ref state);
                hash.AppendData(buf);
                f.Write(buf);
            }
        }

        var digest = Digest.Parse(Sha256File(blobPath));
        var layer = Descriptor.Create(MediaTypes.OciLayerGzip, digest, size);
        var options = Insecure() with { ChunkSize = 64L << 20 };
        var reference = ImageReference.Parse($"docker://{registries.Plain.Address}/interop/big:v1");
        await using var dest = new RegistryDestination(reference, options);
        long maxReported = 0;
        await dest.PutBlobAsync(layer, (offset, _) => Task.FromResult<Stream>(OpenAt(blobPath, offset)), new Progress<long>(n => maxReported = Math.Max(maxReported, n)), CancellationToken.None);
        Assert.True(await dest.Client.BlobExistsAsync("interop/big", layer, CancellationToken.None));
        Assert.Empty(registries.Plain.BlobsWithWrongDigest());
        var stored = Path.Combine(registries.Plain.Storage, "docker/registry/v2/blobs/sha256", digest.Hex[..2], digest.Hex, "data");
        Assert.Equal(size, new FileInfo(stored).Length);
    }

    [Fact]
    public void Tls_registries_are_trusted_through_cert_dir_and_refused_without_it()
    {
        using var registry = RegistryServer.Start(RegistryAuth.None, tls: true);
        Directory.CreateDirectory(_tmp["certs"]);
        File.WriteAllText(_tmp["certs/ca.crt"], registry.CaPem);
        TestImages.WriteSmallLayout(_tmp["src"], "v1");
        var reference = $"docker://{registry.Address}/tls/img:v1";

        var refused = Tools.Ours("image", "copy", $"oci:{_tmp["src"]}:v1", reference);
        Assert.Equal(1, refused.ExitCode);
        var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains($"https://{registry.Address}/v2/", line, StringComparison.Ordinal);

        Tools.Ours("image", "copy", "--cert-dir", _tmp["certs"], $"oci:{_tmp["src"]}:v1", reference).Ok("push trusting the CA from --cert-dir");
        Tools.Ours("image", "copy", "--tls-verify=false", reference, $"oci:{_tmp["insecure"]}:v1").Ok("pull without verification");
        Tools.Run("skopeo", ["inspect", "--cert-dir", _tmp["certs"], reference]).Ok("skopeo trusts the same CA");
    }

    [Fact]
    public void Skopeo_pushes_our_layout_and_we_copy_skopeo_layouts_with_json_progress()
    {
        var digest = TestImages.WriteSmallLayout(_tmp["ours"], "v1", files: 6);
        var reference = $"docker://{registries.Plain.Address}/interop/skopeo-pushed:v1";
        Tools.Run("skopeo", ["copy", "--dest-tls-verify=false", $"oci:{_tmp["ours"]}:v1", reference]).Ok("skopeo pushes our layout");
        Tools.Run("skopeo", ["copy", "--src-tls-verify=false", reference, $"oci:{_tmp["skopeo"]}:v1"]).Ok("skopeo pulls it back");
        var copy = Tools.Ours("image", "copy", "--progress=json", "--json", $"oci:{_tmp["skopeo"]}:v1", $"oci:{_tmp["again"]}:v1");
        copy.Ok("we copy skopeo's layout");
        using (var result = JsonDocument.Parse(copy.Stdout))
        {
            Assert.Equal(digest.ToString(), result.RootElement.GetProperty("digest").GetString());
        }

        var events = copy.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l)).ToList();
        Assert.Contains(events, e => e.RootElement.GetProperty("stage").GetString() == "blobDone");
        Assert.Contains(events, e => e.RootElement.GetProperty("stage").GetString() == "manifestWritten");
        Assert.All(events, e => Assert.Equal("copy", e.RootElement.GetProperty("task").GetString()));

        // Same registry, another repository: the blobs are mounted, not uploaded again.
        var mounted = Tools.Ours("image", "copy", "--tls-verify=false", "--json", reference, $"docker://{registries.Plain.Address}/interop/mounted:v1").Ok("cross-repository copy");
        using var m = JsonDocument.Parse(mounted);
        Assert.Equal(0, m.RootElement.GetProperty("blobsCopied").GetInt32());
        Assert.Equal(2, m.RootElement.GetProperty("blobsSkipped").GetInt32());
        Tools.Run("skopeo", ["inspect", "--tls-verify=false", $"docker://{registries.Plain.Address}/interop/mounted:v1"]).Ok("the mounted image is whole");
    }

    internal static FileStream OpenAt(string path, long offset)
    {
        var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.Asynchronous | FileOptions.SequentialScan);
        f.Position = offset;
        return f;
    }
}
