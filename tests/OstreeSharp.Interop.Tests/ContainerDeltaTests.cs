using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OstreeSharp.Interop.Tests;

/// <summary>Container deltas in an OCI layout: used when sound, and a bad delta costs only the full layer.</summary>
public sealed class ContainerDeltaTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>
    /// v1 as layout tags v1 and stable, a client that pulled stable, v2 as stable, and the delta v1 -> stable.
    /// Returns the layout, the client, the image reference, the v2 commit and the delta's JSON.
    /// </summary>
    private (string Layout, string Client, string ImgRef, string V2, JsonElement Delta) Setup(int maxLayers = 0, Func<byte[], byte[]>? rewriteV2Layer = null)
    {
        var tree = _tmp["tree"];
        TestTrees.WriteTricky(tree, withOwners: true);
        var big = new byte[400_000];
        new Random(3).NextBytes(big);
        Directory.CreateDirectory(Path.Combine(tree, "usr/lib"));
        File.WriteAllBytes(Path.Combine(tree, "usr/lib/libbig.so.1"), big);
        var repo = _tmp["repo"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + repo, "-b", "os", tree).Ok("commit v1");
        big[1234] ^= 0xff;
        File.WriteAllBytes(Path.Combine(tree, "usr/lib/libbig.so.1"), big);
        File.WriteAllText(Path.Combine(tree, "README"), "v2\n");
        var v2 = Tools.Ours("commit", "--repo=" + repo, "-b", "os", tree).Ok("commit v2").Trim();
        var layout = _tmp["layout"];
        string[] chunking = maxLayers > 0 ? ["--max-layers=" + maxLayers] : [];
        Tools.Ours(["container", "encapsulate", "--repo=" + repo, .. chunking, "os^", $"oci:{layout}:v1"]).Ok("encapsulate v1");
        Tools.Ours(["container", "encapsulate", "--repo=" + repo, .. chunking, "os^", $"oci:{layout}:stable"]).Ok("encapsulate v1 as stable");
        var client = _tmp["client"];
        Tools.Ours("init", "--repo=" + client, "--mode=bare-user").Ok("init client");
        var imgref = $"ostree-unverified-image:oci:{layout}:stable";
        Tools.Ours("container", "image", "pull", client, imgref).Ok("pull v1");
        Tools.Ours(["container", "encapsulate", "--repo=" + repo, .. chunking, "os", $"oci:{layout}:stable"]).Ok("encapsulate v2 as stable");
        if (rewriteV2Layer is not null)
        {
            RewriteLayer(layout, "stable", rewriteV2Layer);
        }

        var delta = JsonDocument.Parse(Tools.Ours("container", "delta", "generate", "--json", $"oci:{layout}:v1", $"oci:{layout}:stable").Ok("delta generate")).RootElement;
        return (layout, client, imgref, v2, delta);
    }

    // Replaces the first layer of the image tagged `tag` with `rewrite` of its tar: a new blob, diff-id, config and manifest.
    private static void RewriteLayer(string layout, string tag, Func<byte[], byte[]> rewrite)
    {
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!.AsObject();
        var entry = index["manifests"]!.AsArray().Select(m => m!.AsObject()).Single(m => m["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag);
        JsonObject Blob(string digest) => JsonNode.Parse(File.ReadAllBytes(BlobPath(layout, digest)))!.AsObject();
        (string Digest, long Size) Put(byte[] bytes)
        {
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            File.WriteAllBytes(BlobPath(layout, digest), bytes);
            return (digest, bytes.Length);
        }

        var manifest = Blob(entry["digest"]!.GetValue<string>());
        var layer = manifest["layers"]![0]!;
        var tar = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(File.OpenRead(BlobPath(layout, layer["digest"]!.GetValue<string>())), System.IO.Compression.CompressionMode.Decompress))
        {
            gz.CopyTo(tar);
        }

        var rewritten = rewrite(tar.ToArray());
        var packed = new MemoryStream();
        using (var gz = new System.IO.Compression.GZipStream(packed, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(rewritten);
        }

        (layer["digest"], layer["size"]) = Put(packed.ToArray());
        var oldDiffId = Blob(manifest["config"]!["digest"]!.GetValue<string>())["rootfs"]!["diff_ids"]![0]!.GetValue<string>();
        var newDiffId = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(rewritten));
        var configText = File.ReadAllText(BlobPath(layout, manifest["config"]!["digest"]!.GetValue<string>())).Replace(oldDiffId, newDiffId, StringComparison.Ordinal);
        (manifest["config"]!["digest"], manifest["config"]!["size"]) = Put(System.Text.Encoding.UTF8.GetBytes(configText));
        (entry["digest"], entry["size"]) = Put(System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString()));
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToJsonString());
    }

    private static string BlobPath(string layout, string digest) => Path.Combine(layout, "blobs", "sha256", digest["sha256:".Length..]);

    [Fact]
    public void A_sound_delta_rebuilds_the_layer_and_a_corrupt_one_falls_back_to_it()
    {
        var (layout, client, imgref, v2, delta) = Setup();
        var layer = Assert.Single(delta.GetProperty("layers").EnumerateArray());
        var blob = BlobPath(layout, layer.GetProperty("delta").GetString()!);
        // The image is labelled with its commit: the delta carries only the entries of objects v1 lacks (version 2), so
        // the tar it rebuilds is a small part of the layer's.
        Assert.Equal(2, layer.GetProperty("version").GetInt32());
        using (var records = OstreeSharp.Deltas.Xz.OpenDecompressing(File.OpenRead(blob), blob))
        {
            var head = new byte[9];
            records.ReadExactly(head);
            Assert.Equal((byte)2, head[8]);
        }

        var fullTar = Tools.Run("sh", ["-c", $"gzip -dc < {BlobPath(layout, layer.GetProperty("targetLayer").GetString()!)} | wc -c"]).Ok("layer size");
        Assert.True(layer.GetProperty("tarSize").GetInt64() * 4 < long.Parse(fullTar.Trim(), System.Globalization.CultureInfo.InvariantCulture), $"rebuilt {layer.GetProperty("tarSize")} of {fullTar.Trim()} bytes");

        // A copy of the client pulls through the delta.
        var good = _tmp["client-good"];
        Tools.Run("cp", ["-a", client, good]).Ok("cp");
        var pulled = JsonDocument.Parse(Tools.Ours("container", "image", "pull", good, imgref, "--json").Ok("pull through the delta")).RootElement;
        Assert.Equal(1, pulled.GetProperty("layersFromDeltas").GetInt32());
        Assert.Equal(layer.GetProperty("deltaSize").GetInt64(), pulled.GetProperty("bytesFetched").GetInt64());
        Assert.True(File.Exists(Path.Combine(good, "objects", v2[..2], v2[2..] + ".commit")), "the rebuilt layer imports as v2's commit");
        Tools.Ostree("fsck", "--repo=" + good).Ok("fsck");

        // Corrupt the delta: the pull says so, fetches the layer and ends with the same image.
        var bytes = File.ReadAllBytes(blob);
        bytes[bytes.Length / 2] ^= 0x5a;
        File.WriteAllBytes(blob, bytes);
        var run = Tools.Ours("container", "image", "pull", client, imgref);
        var text = run.Ok("pull past a corrupt delta");
        Assert.Contains("not used", text, StringComparison.Ordinal);
        Assert.Contains("Fetching ostree chunk", text, StringComparison.Ordinal);
        Assert.Equal(pulled.GetProperty("mergeCommit").GetString(), text.Trim().Split(" => ")[^1]);
        Tools.Ostree("fsck", "--repo=" + client).Ok("fsck after the fallback");
    }

    [Fact]
    public void A_version_2_delta_leaves_out_entries_as_the_tar_reader_reads_them()
    {
        // Hard links whose size field is not 0 carry no data for tar readers (ours among them): the checkout's links
        // to the objects get a size field of 1000, and the headers of the entries after them must still be found.
        var (_, client, imgref, v2, delta) = Setup(rewriteV2Layer: tar =>
        {
            var copy = (byte[])tar.Clone();
            for (int at = 0; at + 512 <= copy.Length;)
            {
                var header = copy.AsSpan(at, 512);
                if (header.IndexOfAnyExcept((byte)0) < 0)
                {
                    break;
                }

                long size = Convert.ToInt64(System.Text.Encoding.ASCII.GetString(header.Slice(124, 11)).Trim('\0', ' ') is { Length: > 0 } f ? f : "0", 8);
                bool link = header[156] == (byte)'1';
                if (link)
                {
                    System.Text.Encoding.ASCII.GetBytes("00000001750\0", header[124..]);
                    header.Slice(148, 8).Fill((byte)' ');
                    int sum = 0;
                    foreach (var b in header)
                    {
                        sum += b;
                    }

                    System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ", header[148..]);
                }

                at += 512 + (link || header[156] is (byte)'5' or (byte)'2' ? 0 : (int)((size + 511) & ~511L));
            }

            return copy;
        });
        Assert.Equal(2, Assert.Single(delta.GetProperty("layers").EnumerateArray()).GetProperty("version").GetInt32());
        var pulled = JsonDocument.Parse(Tools.Ours("container", "image", "pull", client, imgref, "--json").Ok("pull through the delta")).RootElement;
        Assert.Equal(1, pulled.GetProperty("layersFromDeltas").GetInt32());
        Assert.True(File.Exists(Path.Combine(client, "objects", v2[..2], v2[2..] + ".commit")));
        Tools.Ostree("fsck", "--repo=" + client).Ok("fsck");
    }

    [Fact]
    public void A_client_missing_an_object_the_delta_needs_fetches_the_layer()
    {
        var (_, client, imgref, v2, _) = Setup();
        // Lose the object the delta patches against (v1's libbig.so.1, 400,000 bytes as bare-user keeps it).
        var source = Directory.EnumerateFiles(Path.Combine(client, "objects"), "*.file", SearchOption.AllDirectories).Single(f => new FileInfo(f).Length == 400_000);
        File.Delete(source);
        var pulled = JsonDocument.Parse(Tools.Ours("container", "image", "pull", client, imgref, "--json").Ok("pull with an object missing")).RootElement;
        Assert.Equal(0, pulled.GetProperty("layersFromDeltas").GetInt32());
        Assert.True(File.Exists(Path.Combine(client, "objects", v2[..2], v2[2..] + ".commit")));
    }

    [Fact]
    public void A_delta_that_rebuilds_another_commit_than_the_config_label_names_is_not_used()
    {
        var (layout, client, imgref, v2, _) = Setup();
        var v1 = Tools.Ours("rev-parse", "--repo=" + _tmp["repo"], "os^").Ok("rev-parse v1").Trim();
        // Image "stable" becomes v2 with its ostree.commit label naming v1 (a new config and manifest), and the
        // delta manifest is moved over to it (a new subject and its sha256-HEX referrers tag).
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(layout, "index.json")))!.AsObject();
        var manifests = index["manifests"]!.AsArray();
        JsonObject Tagged(string tag) => manifests.Select(m => m!.AsObject()).Single(m => m["annotations"]?["org.opencontainers.image.ref.name"]?.GetValue<string>() == tag);
        JsonObject Blob(string digest) => JsonNode.Parse(File.ReadAllBytes(BlobPath(layout, digest)))!.AsObject();
        (string Digest, long Size) Put(JsonNode node)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(node.ToJsonString());
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
            File.WriteAllBytes(BlobPath(layout, digest), bytes);
            return (digest, bytes.Length);
        }

        var stable = Tagged("stable");
        var oldDigest = stable["digest"]!.GetValue<string>();
        var manifest = Blob(oldDigest);
        var config = Blob(manifest["config"]!["digest"]!.GetValue<string>());
        Assert.Equal(v2, config["config"]!["Labels"]!["ostree.commit"]!.GetValue<string>());
        config["config"]!["Labels"]!["ostree.commit"] = v1;
        (manifest["config"]!["digest"], manifest["config"]!["size"]) = Put(config);
        var (newDigest, newSize) = Put(manifest);
        (stable["digest"], stable["size"]) = (newDigest, newSize);

        var referrersTag = Tagged("sha256-" + oldDigest["sha256:".Length..]);
        var referrers = Blob(referrersTag["digest"]!.GetValue<string>());
        foreach (var entry in referrers["manifests"]!.AsArray())
        {
            var deltaManifest = Blob(entry!["digest"]!.GetValue<string>());
            (deltaManifest["subject"]!["digest"], deltaManifest["subject"]!["size"]) = (newDigest, newSize);
            (entry["digest"], entry["size"]) = Put(deltaManifest);
        }

        (referrersTag["digest"], referrersTag["size"]) = Put(referrers);
        referrersTag["annotations"]!["org.opencontainers.image.ref.name"] = "sha256-" + newDigest["sha256:".Length..];
        File.WriteAllText(Path.Combine(layout, "index.json"), index.ToJsonString());

        var run = Tools.Ours("container", "image", "pull", client, imgref);
        var text = run.Ok("pull past a delta to another commit than the label's");
        Assert.Contains($"rebuilds commit {v2}, the config's ostree.commit label says {v1}", text, StringComparison.Ordinal);
        Assert.Contains("Fetching ostree chunk", text, StringComparison.Ordinal);
        Tools.Ostree("fsck", "--repo=" + client).Ok("fsck after the fallback");
    }

    [Fact]
    public void Chunked_images_get_a_delta_for_each_changed_chunk()
    {
        var (_, client, imgref, v2, delta) = Setup(maxLayers: 4);
        var layers = delta.GetProperty("layers").EnumerateArray().ToList();
        Assert.NotEmpty(layers);
        // Chunk layers rebuild their whole tar (version 1): a chunk's membership is only known from it.
        Assert.Contains(layers, l => l.GetProperty("version").GetInt32() == 1);
        var pulled = JsonDocument.Parse(Tools.Ours("container", "image", "pull", client, imgref, "--json").Ok("pull chunked through deltas")).RootElement;
        Assert.Equal(layers.Count, pulled.GetProperty("layersFromDeltas").GetInt32());
        Assert.True(File.Exists(Path.Combine(client, "objects", v2[..2], v2[2..] + ".commit")));
        Tools.Ostree("fsck", "--repo=" + client).Ok("fsck");
    }

    [Fact]
    public void A_registry_with_the_referrers_API_lists_the_delta_itself()
    {
        using var registry = RegistryServer.Start(RegistryAuth.None);
        using var proxy = ReferrersProxy(registry);
        var tree = _tmp["tree"];
        TestTrees.WriteTricky(tree, withOwners: false);
        var repo = _tmp["repo"];
        Tools.Ours("init", "--repo=" + repo, "--mode=archive").Ok("init");
        Tools.Ours("commit", "--repo=" + repo, "-b", "os", tree).Ok("commit v1");
        File.WriteAllText(Path.Combine(tree, "README"), "v2\n");
        Tools.Ours("commit", "--repo=" + repo, "-b", "os", tree).Ok("commit v2");
        var name = $"{proxy.Address}/os/sample";
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--tls-verify=false", "os^", $"docker://{name}:v1").Ok("encapsulate v1");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--tls-verify=false", "os^", $"docker://{name}:stable").Ok("encapsulate v1 as stable");
        var client = _tmp["client"];
        Tools.Ours("init", "--repo=" + client, "--mode=bare-user").Ok("init");
        var imgref = $"ostree-unverified-registry:{name}:stable";
        Tools.Ours("container", "image", "pull", client, imgref, "--tls-verify=false").Ok("pull v1");
        Tools.Ours("container", "encapsulate", "--repo=" + repo, "--tls-verify=false", "os", $"docker://{name}:stable").Ok("encapsulate v2");
        Tools.Ours("container", "delta", "generate", "--tls-verify=false", $"docker://{name}:v1", $"docker://{name}:stable").Ok("delta generate");

        // The registry indexes the delta through its subject: no sha256-HEX tag is written.
        Assert.DoesNotContain("sha256-", Tools.Run("skopeo", ["list-tags", "--tls-verify=false", $"docker://{name}"]).Ok("list-tags"), StringComparison.Ordinal);
        var pulled = JsonDocument.Parse(Tools.Ours("container", "image", "pull", client, imgref, "--tls-verify=false", "--json").Ok("pull v2")).RootElement;
        Assert.Equal(1, pulled.GetProperty("layersFromDeltas").GetInt32());
        lock (proxy.Requests)
        {
            Assert.Contains(proxy.Requests, r => r.StartsWith("GET /v2/os/sample/referrers/sha256:", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// A registry with the OCI 1.1 referrers API: a proxy in front of distribution 2.8 (which has none) that indexes the
    /// manifests pushed with a subject and answers <c>GET /v2/NAME/referrers/DIGEST</c>.
    /// </summary>
    private static FakeRegistry ReferrersProxy(RegistryServer upstream)
    {
        var referrers = new Dictionary<string, List<JsonObject>>();
        var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        return new FakeRegistry(ctx =>
        {
            var path = ctx.Request.Url!.PathAndQuery;
            var parts = ctx.Request.Url.AbsolutePath.Split('/');
            if (ctx.Request.HttpMethod == "GET" && parts.Length == 6 && parts[4] == "referrers")
            {
                List<JsonObject> list;
                lock (referrers)
                {
                    list = referrers.GetValueOrDefault(parts[5]) ?? [];
                }

                var index = new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["manifests"] = new JsonArray([.. list.Select(d => d.DeepClone())]) };
                FakeRegistry.Reply(ctx, 200, System.Text.Encoding.UTF8.GetBytes(index.ToJsonString()), "application/vnd.oci.image.index.v1+json");
                return true;
            }

            var body = new MemoryStream();
            ctx.Request.InputStream.CopyTo(body);
            using var req = new HttpRequestMessage(new HttpMethod(ctx.Request.HttpMethod), $"http://{upstream.Address}{path}");
            if (body.Length > 0 || ctx.Request.HttpMethod is "PUT" or "PATCH" or "POST")
            {
                req.Content = new ByteArrayContent(body.ToArray());
                if (ctx.Request.ContentType is { } ct)
                {
                    req.Content.Headers.TryAddWithoutValidation("Content-Type", ct);
                }
            }

            foreach (var key in ctx.Request.Headers.AllKeys)
            {
                if (key is not null and not "Host" and not "Content-Type" and not "Content-Length")
                {
                    req.Headers.TryAddWithoutValidation(key, ctx.Request.Headers[key]);
                }
            }

            using var resp = http.Send(req);
            var answer = resp.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
            if (ctx.Request.HttpMethod == "PUT" && parts.Length == 6 && parts[4] == "manifests" && resp.IsSuccessStatusCode
                && JsonNode.Parse(body.ToArray()) is JsonObject m && m["subject"]?["digest"]?.GetValue<string>() is { } subject)
            {
                var descriptor = new JsonObject
                {
                    ["mediaType"] = m["mediaType"]?.GetValue<string>() ?? "application/vnd.oci.image.manifest.v1+json",
                    ["digest"] = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body.ToArray())),
                    ["size"] = body.Length,
                    ["artifactType"] = m["artifactType"]?.GetValue<string>(),
                    ["annotations"] = m["annotations"]?.DeepClone(),
                };
                lock (referrers)
                {
                    if (!referrers.TryGetValue(subject, out var list))
                    {
                        referrers[subject] = list = [];
                    }

                    list.Add(descriptor);
                }
            }

            ctx.Response.StatusCode = (int)resp.StatusCode;
            foreach (var h in resp.Headers.Concat(resp.Content.Headers))
            {
                if (h.Key is not "Content-Length" and not "Transfer-Encoding" and not "Connection")
                {
                    ctx.Response.Headers[h.Key] = string.Join(",", h.Value);
                }
            }

            if (ctx.Request.HttpMethod != "HEAD")
            {
                ctx.Response.ContentLength64 = answer.Length;
                ctx.Response.OutputStream.Write(answer);
            }
            else if (resp.Content.Headers.ContentLength is long len)
            {
                ctx.Response.ContentLength64 = len;
            }

            ctx.Response.Close();
            return true;
        });
    }
}
