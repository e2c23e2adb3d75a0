using System.Net;
using System.Text;
using System.Text.Json;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Transports;
using OstreeSharp.TestSupport;

namespace OstreeSharp.Interop.Tests;

/// <summary>Registries that misbehave: bad digests and sizes, broken auth headers, huge manifests, 5xx, dropped connections, a crash mid-push.</summary>
public sealed class RegistryFaultTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>A small image: config, one layer and the manifest, as bytes.</summary>
    private sealed class Image
    {
        public Image(string arch = "amd64")
        {
            (Layer, var diff) = TestImages.Layer([("a/file", 5000)]);
            Config = JsonSerializer.SerializeToUtf8Bytes(new ImageConfig { Architecture = arch, Os = "linux", RootFs = new RootFs { DiffIds = [diff.ToString()] } }, OciJsonContext.Writer.ImageConfig);
            var m = new ImageManifest
            {
                MediaType = MediaTypes.OciManifest,
                Config = Descriptor.Create(MediaTypes.OciConfig, Digest.Sha256(Config), Config.Length),
                Layers = [Descriptor.Create(MediaTypes.OciLayerGzip, Digest.Sha256(Layer), Layer.Length)],
            };
            Manifest = JsonSerializer.SerializeToUtf8Bytes(m, OciJsonContext.Writer.ImageManifest);
        }

        public byte[] Layer { get; }

        public byte[] Config { get; }

        public byte[] Manifest { get; }

        public string LayerDigest => Digest.Sha256(Layer).ToString();

        /// <summary>Serves the image under repository "bad/img", tag v1, letting <paramref name="blob"/> answer blob requests first.</summary>
        public bool Serve(HttpListenerContext ctx, Func<HttpListenerContext, byte[], bool>? blob = null)
        {
            var path = ctx.Request.Url!.AbsolutePath;
            if (path == "/v2/bad/img/manifests/v1" || path == "/v2/bad/img/manifests/" + Digest.Sha256(Manifest))
            {
                FakeRegistry.Reply(ctx, 200, ctx.Request.HttpMethod == "HEAD" ? [] : Manifest, MediaTypes.OciManifest, Manifest.Length);
                return true;
            }

            foreach (var b in new[] { Config, Layer })
            {
                if (path == "/v2/bad/img/blobs/" + Digest.Sha256(b))
                {
                    if (blob is not null && blob(ctx, b))
                    {
                        return true;
                    }

                    FakeRegistry.Reply(ctx, 200, b, "application/octet-stream");
                    return true;
                }
            }

            return false;
        }
    }

    // The one error line of a failed pull, of the kind expected; returned without its "error OSTREEnnnn: " prefix.
    private static string ErrorLine(RunResult r, OstreeErrorCode code)
    {
        r.FailsWith(code, "image copy", progressBefore: true);
        return r.Stderr.Trim().Split('\n')[^1][$"error {OstreeErrorCodes.Format(code)}: ".Length..];
    }

    private RunResult Pull(FakeRegistry fake, string reference = "bad/img:v1", params string[] extra) =>
        Tools.OursCoded(["image", "copy", "--tls-verify=false", "--retry-times=2", .. extra, $"docker://{fake.Address}/{reference}", $"oci:{_tmp["out"]}:v1"]);

    [Fact]
    public void A_manifest_whose_bytes_do_not_match_the_digest_asked_for_is_refused()
    {
        var image = new Image();
        var claimed = Digest.Sha256("something else"u8).ToString();
        using var fake = new FakeRegistry(ctx =>
        {
            if (ctx.Request.Url!.AbsolutePath == "/v2/bad/img/manifests/" + claimed)
            {
                FakeRegistry.Reply(ctx, 200, image.Manifest, MediaTypes.OciManifest);
                return true;
            }

            return image.Serve(ctx);
        });
        var line = ErrorLine(Pull(fake, "bad/img@" + claimed), OstreeErrorCode.DigestMismatch);
        Assert.Contains($"docker://{fake.Address}/bad/img@{claimed}", line, StringComparison.Ordinal);
        Assert.Contains("expected " + claimed, line, StringComparison.Ordinal);
        Assert.False(File.Exists(_tmp["out/index.json"]));
    }

    [Theory]
    [InlineData("digest")]
    [InlineData("short")]
    [InlineData("long")]
    public void A_blob_with_the_wrong_digest_or_size_is_refused_and_not_stored(string fault)
    {
        var image = new Image();
        using var fake = new FakeRegistry(ctx => image.Serve(ctx, (c, bytes) =>
        {
            if (!ReferenceEquals(bytes, image.Layer))
            {
                return false;
            }

            var bad = fault switch
            {
                "digest" => [.. bytes[..^1], (byte)(bytes[^1] ^ 1)],
                "short" => bytes[..^100],
                _ => [.. bytes, 0, 0, 0],
            };
            FakeRegistry.Reply(c, 200, bad, "application/octet-stream");
            return true;
        }));
        var line = ErrorLine(Pull(fake), OstreeErrorCode.DigestMismatch);
        Assert.Contains(image.LayerDigest, line, StringComparison.Ordinal);
        Assert.Contains($"docker://{fake.Address}/bad/img:v1", line, StringComparison.Ordinal);
        Assert.Contains(fault switch { "digest" => "has digest", "short" => "ended after", _ => "longer than" }, line, StringComparison.Ordinal);
        Assert.False(File.Exists(_tmp["out/blobs/sha256/" + image.LayerDigest[7..]]));
        Assert.False(File.Exists(_tmp["out/index.json"]));
    }

    [Theory]
    [InlineData("Bearer realm=")]
    [InlineData("Bearer realm=\"unterminated")]
    [InlineData("Bearer service=\"no-realm\"")]
    [InlineData("")]
    public void A_malformed_www_authenticate_header_is_a_clear_error(string header)
    {
        using var fake = new FakeRegistry(ctx =>
        {
            ctx.Response.StatusCode = 401;
            if (header.Length > 0)
            {
                ctx.Response.AddHeader("WWW-Authenticate", header);
            }

            ctx.Response.Close();
            return true;
        });
        var line = ErrorLine(Pull(fake), OstreeErrorCode.RegistryUnauthorized);
        Assert.Contains($"http://{fake.Address}/v2/", line, StringComparison.Ordinal);
        Assert.Contains("WWW-Authenticate", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void An_oversized_manifest_is_refused_without_reading_it_all(bool announced)
    {
        var huge = Encoding.UTF8.GetBytes("{\"schemaVersion\":2,\"layers\":[],\"annotations\":{\"x\":\"" + new string('a', 5 << 20) + "\"}}");
        using var fake = new FakeRegistry(ctx =>
        {
            if (!ctx.Request.Url!.AbsolutePath.StartsWith("/v2/bad/img/manifests/", StringComparison.Ordinal))
            {
                return false;
            }

            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = MediaTypes.OciManifest;
            if (announced)
            {
                ctx.Response.ContentLength64 = huge.Length;
            }
            else
            {
                ctx.Response.SendChunked = true;
            }

            try
            {
                ctx.Response.OutputStream.Write(huge);
                ctx.Response.Close();
            }
            catch (HttpListenerException)
            {
            }

            return true;
        });
        var line = ErrorLine(Pull(fake), OstreeErrorCode.ManifestInvalid);
        Assert.Contains("over the limit", line, StringComparison.Ordinal);
        Assert.Contains("bad/img", line, StringComparison.Ordinal);
    }

    // The registry's own error list (OCI distribution spec, "Error Codes") decides the kind of failure and is quoted;
    // an error body that is huge, not JSON, or not the expected shape is left out, never a crash or a second line.
    [Theory]
    [InlineData(404, """{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}""", OstreeErrorCode.ImageNotFound, "(MANIFEST_UNKNOWN: manifest unknown)")]
    [InlineData(404, """{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}""", OstreeErrorCode.ImageNotFound, "(NAME_UNKNOWN: repository name not known to registry)")]
    [InlineData(403, """{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}""", OstreeErrorCode.RegistryUnauthorized, "(DENIED: requested access to the resource is denied)")]
    [InlineData(400, """{"errors":[{"code":"TAG_INVALID","message":"manifest tag did not match URI"}]}""", OstreeErrorCode.ImageReferenceInvalid, "(TAG_INVALID: manifest tag did not match URI)")]
    [InlineData(400, """{"errors":[{"code":7,"message":["x"]},{"code":"UNSUPPORTED","message":"line one\nline two"}]}""", OstreeErrorCode.NotSupported, "(UNSUPPORTED: line one line two)")]
    [InlineData(400, """{"errors":{"code":"DENIED"}}""", OstreeErrorCode.RegistryFailed, "400 Bad Request")]
    [InlineData(400, "<html>not json</html>", OstreeErrorCode.RegistryFailed, "400 Bad Request")]
    [InlineData(400, "huge", OstreeErrorCode.RegistryFailed, "400 Bad Request")]
    [InlineData(404, "", OstreeErrorCode.ImageNotFound, "404 Not Found")]
    public void A_registry_error_answer_gives_the_kind_of_failure_and_its_own_words(int status, string body, OstreeErrorCode code, string quoted)
    {
        byte[] bytes = body == "huge"
            ? Encoding.UTF8.GetBytes("{\"errors\":[{\"code\":\"DENIED\",\"message\":\"" + new string('a', 1 << 20) + "\"}]}")
            : Encoding.UTF8.GetBytes(body);
        using var fake = new FakeRegistry(ctx =>
        {
            if (!ctx.Request.Url!.AbsolutePath.StartsWith("/v2/bad/img/manifests/", StringComparison.Ordinal))
            {
                return false;
            }

            FakeRegistry.Reply(ctx, status, ctx.Request.HttpMethod == "HEAD" ? [] : bytes, "application/json", ctx.Request.HttpMethod == "HEAD" ? 0 : bytes.Length);
            return true;
        });
        var line = ErrorLine(Pull(fake), code);
        Assert.Contains($"http://{fake.Address}/v2/bad/img/manifests/v1: ", line, StringComparison.Ordinal);
        Assert.EndsWith(quoted, line, StringComparison.Ordinal);
        Assert.True(line.Length < 1024, line);
    }

    [Fact]
    public void An_index_without_this_platform_names_the_reference_and_what_it_has()
    {
        var image = new Image("s390x");
        var index = JsonSerializer.SerializeToUtf8Bytes(
            new ImageIndex
            {
                MediaType = MediaTypes.OciIndex,
                Manifests = [new Descriptor { MediaType = MediaTypes.OciManifest, Digest = Digest.Sha256(image.Manifest).ToString(), Size = image.Manifest.Length, Platform = new OstreeSharp.Containers.Oci.Platform { Os = "linux", Architecture = "s390x" } }],
            },
            OciJsonContext.Writer.ImageIndex);
        using var fake = new FakeRegistry(ctx =>
        {
            if (ctx.Request.Url!.AbsolutePath == "/v2/bad/img/manifests/multi")
            {
                FakeRegistry.Reply(ctx, 200, index, MediaTypes.OciIndex);
                return true;
            }

            return image.Serve(ctx);
        });
        var line = ErrorLine(Pull(fake, "bad/img:multi", "--override-arch", "amd64"), OstreeErrorCode.ManifestInvalid);
        Assert.Equal($"docker://{fake.Address}/bad/img:multi: no image in the index for linux/amd64; it has linux/s390x", line);
        Tools.Ours("image", "copy", "--tls-verify=false", "--override-arch", "s390x", $"docker://{fake.Address}/bad/img:multi", $"oci:{_tmp["s390x"]}:v1").Ok("pick s390x");
    }

    [Fact]
    public void A_manifest_request_left_unanswered_and_a_download_that_stalls_are_retried_after_the_read_timeout()
    {
        var image = new Image();
        int manifestCalls = 0, layerCalls = 0;
        using var release = new ManualResetEventSlim();
        using var fake = new FakeRegistry(ctx =>
        {
            if (ctx.Request.Url!.AbsolutePath == "/v2/bad/img/manifests/v1" && Interlocked.Increment(ref manifestCalls) == 1)
            {
                release.Wait(TimeSpan.FromSeconds(60)); // no answer at all
                return false;
            }

            return image.Serve(ctx, (c, bytes) =>
            {
                if (!ReferenceEquals(bytes, image.Layer))
                {
                    return false;
                }

                if (Interlocked.Increment(ref layerCalls) == 1)
                {
                    // Promise everything, send half, then nothing more (the connection stays open).
                    c.Response.StatusCode = 200;
                    c.Response.ContentLength64 = bytes.Length;
                    c.Response.OutputStream.Write(bytes, 0, bytes.Length / 2);
                    c.Response.OutputStream.Flush();
                    release.Wait(TimeSpan.FromSeconds(60));
                    c.Response.Abort();
                    return true;
                }

                var range = c.Request.Headers["Range"];
                Assert.NotNull(range);
                long from = long.Parse(range!["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
                c.Response.AddHeader("Content-Range", $"bytes {from}-{bytes.Length - 1}/{bytes.Length}");
                FakeRegistry.Reply(c, 206, bytes[(int)from..], "application/octet-stream");
                return true;
            });
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = Pull(fake, "bad/img:v1", "--read-timeout=1");
        release.Set();
        r.Ok("pull through an unanswered request and a stalled download");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Equal(2, manifestCalls);
        Assert.Contains(fake.Requests, q => q.Contains("Range:bytes=", StringComparison.Ordinal));
        Assert.Equal(image.Layer, File.ReadAllBytes(_tmp["out/blobs/sha256/" + image.LayerDigest[7..]]));
    }

    [Fact]
    public void A_registry_that_never_answers_fails_the_pull_in_bounded_time_with_one_line()
    {
        using var release = new ManualResetEventSlim();
        using var fake = new FakeRegistry(ctx =>
        {
            release.Wait(TimeSpan.FromSeconds(60));
            return false;
        });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var r = Pull(fake, "bad/img:v1", "--read-timeout=1");
        release.Set();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.Contains($"http://{fake.Address}/v2/: no answer within 1 s", ErrorLine(r, OstreeErrorCode.RegistryFailed), StringComparison.Ordinal);
    }

    [Fact]
    public void Answers_429_and_503_are_retried_and_a_dropped_download_resumes_with_range()
    {
        var image = new Image();
        int manifestCalls = 0, layerCalls = 0;
        using var fake = new FakeRegistry(ctx =>
        {
            var path = ctx.Request.Url!.AbsolutePath;
            if (path == "/v2/bad/img/manifests/v1" && Interlocked.Increment(ref manifestCalls) <= 2)
            {
                ctx.Response.StatusCode = manifestCalls == 1 ? 503 : 429;
                if (manifestCalls == 2)
                {
                    ctx.Response.AddHeader("Retry-After", "1");
                }

                ctx.Response.Close();
                return true;
            }

            return image.Serve(ctx, (c, bytes) =>
            {
                if (!ReferenceEquals(bytes, image.Layer))
                {
                    return false;
                }

                if (Interlocked.Increment(ref layerCalls) == 1)
                {
                    // Promise everything, send half, drop the connection.
                    c.Response.StatusCode = 200;
                    c.Response.ContentLength64 = bytes.Length;
                    c.Response.OutputStream.Write(bytes, 0, bytes.Length / 2);
                    c.Response.OutputStream.Flush();
                    c.Response.Abort();
                    return true;
                }

                var range = c.Request.Headers["Range"];
                Assert.NotNull(range);
                long from = long.Parse(range!["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture);
                c.Response.StatusCode = 206;
                c.Response.AddHeader("Content-Range", $"bytes {from}-{bytes.Length - 1}/{bytes.Length}");
                FakeRegistry.Reply(c, 206, bytes[(int)from..], "application/octet-stream");
                return true;
            });
        });
        Pull(fake).Ok("pull through 503, 429 and a dropped connection");
        Assert.Equal(3, manifestCalls);
        Assert.Contains(fake.Requests, r => r.Contains("Range:bytes=", StringComparison.Ordinal));
        Assert.Equal(image.Layer, File.ReadAllBytes(_tmp["out/blobs/sha256/" + image.LayerDigest[7..]]));
    }

    [Fact]
    public async Task A_registry_killed_mid_push_and_restarted_gets_the_whole_blob_and_no_bad_one()
    {
        using var registry = RegistryServer.Start(RegistryAuth.None);
        var (path, layer) = MakeBlob(_tmp["blob"], 192L << 20);
        var options = new RegistryOptions { TlsVerify = false, NoCredentials = true, ChunkSize = 8L << 20, RetryTimes = 8, RetryDelay = TimeSpan.FromMilliseconds(200) };
        await using var dest = new RegistryDestination(ImageReference.Parse($"docker://{registry.Address}/crash/img:v1"), options);
        int killed = 0;
        Task? restart = null;
        var progress = new InlineProgress(n =>
        {
            if (n > (64L << 20) && Interlocked.Exchange(ref killed, 1) == 0)
            {
                registry.Kill();
                restart = Task.Run(() =>
                {
                    Thread.Sleep(1500);
                    registry.Launch();
                });
            }
        });
        await dest.PutBlobAsync(layer, (offset, _) => Task.FromResult<Stream>(RegistryInteropTests.OpenAt(path, offset)), progress, CancellationToken.None);
        Assert.Equal(1, killed);
        await restart!;
        Assert.True(await dest.Client.BlobExistsAsync("crash/img", layer, CancellationToken.None));
        Assert.Empty(registry.BlobsWithWrongDigest());
    }

    [Fact]
    public async Task A_registry_that_stays_down_fails_the_push_with_a_clear_error()
    {
        using var registry = RegistryServer.Start(RegistryAuth.None);
        var (path, layer) = MakeBlob(_tmp["blob"], 48L << 20);
        var options = new RegistryOptions { TlsVerify = false, NoCredentials = true, ChunkSize = 4L << 20, RetryTimes = 2, RetryDelay = TimeSpan.FromMilliseconds(100) };
        await using var dest = new RegistryDestination(ImageReference.Parse($"docker://{registry.Address}/crash/img:v1"), options);
        int killed = 0;
        var progress = new InlineProgress(n =>
        {
            if (n > (8L << 20) && Interlocked.Exchange(ref killed, 1) == 0)
            {
                registry.Kill();
            }
        });
        var e = await Assert.ThrowsAnyAsync<RegistryException>(() => dest.PutBlobAsync(layer, (offset, _) => Task.FromResult<Stream>(RegistryInteropTests.OpenAt(path, offset)), progress, CancellationToken.None));
        Assert.Contains(registry.Address, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Empty(registry.BlobsWithWrongDigest());
    }

    [Fact]
    public async Task A_push_whose_source_lies_about_its_digest_is_refused_by_the_registry_check()
    {
        using var registry = RegistryServer.Start(RegistryAuth.None);
        var (path, layer) = MakeBlob(_tmp["blob"], 1L << 20);
        var liar = Descriptor.Create(layer.MediaType, Digest.Sha256("not these bytes"u8), layer.Size);
        await using var dest = new RegistryDestination(ImageReference.Parse($"docker://{registry.Address}/lie/img:v1"), new RegistryOptions { TlsVerify = false, NoCredentials = true });
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => dest.PutBlobAsync(liar, (offset, _) => Task.FromResult<Stream>(RegistryInteropTests.OpenAt(path, offset)), null, CancellationToken.None));
        Assert.Contains(liar.Digest, e.Message, StringComparison.Ordinal);
        Assert.False(await dest.Client.BlobExistsAsync("lie/img", liar, CancellationToken.None));
        Assert.Empty(registry.BlobsWithWrongDigest());
    }

    private static (string Path, Descriptor Layer) MakeBlob(string path, long size)
    {
        using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var buf = new byte[4 << 20];
            ulong state = (ulong)size | 1;
            for (long n = 0; n < size; n += buf.Length)
            {
                TestImages.Fill(buf, ref state);
                f.Write(buf, 0, (int)Math.Min(buf.Length, size - n));
            }
        }

        using var r = File.OpenRead(path);
        var digest = Digest.FromHash("sha256", System.Security.Cryptography.SHA256.HashData(r));
        return (path, Descriptor.Create(MediaTypes.OciLayerGzip, digest, size));
    }

    private sealed class InlineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
