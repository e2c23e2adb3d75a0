using System.IO.Compression;
using System.Text.Json;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Tar;

namespace OstreeSharp.TestSupport;

/// <summary>Builds small OCI images with the library, for tests.</summary>
internal static class TestImages
{
    /// <summary>A fast deterministic filler (xorshift), so big blobs do not cost a CSPRNG.</summary>
    public static void Fill(Span<byte> buffer, ref ulong state)
    {
        for (int i = 0; i + 8 <= buffer.Length; i += 8)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            BitConverter.TryWriteBytes(buffer[i..], state);
        }
    }

    /// <summary>A gzip tar layer holding <paramref name="files"/> (path, size) of pseudo-random bytes.</summary>
    public static (byte[] Gz, Digest DiffId) Layer(IEnumerable<(string Path, int Size)> files, ulong seed = 1)
    {
        using var tarBytes = new MemoryStream();
        using (var tar = new TarWriter(tarBytes, leaveOpen: true))
        {
            ulong state = seed | 1;
            foreach (var (path, size) in files)
            {
                var data = new byte[size];
                Fill(data, ref state);
                tar.WriteFile(new TarEntry { Name = path, Type = TarType.Regular, Mode = 0x1a4, Size = size, Mtime = 1_700_000_000 }, data);
            }

            tar.Finish();
        }

        var diffId = Digest.Sha256(tarBytes.ToArray());
        using var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(tarBytes.ToArray());
        }

        return (gz.ToArray(), diffId);
    }

    /// <summary>Writes a one-layer image into the OCI layout <paramref name="layout"/> under <paramref name="tag"/>; returns the manifest digest.</summary>
    public static Digest WriteLayout(string layout, string tag, byte[] layer, Digest diffId, Dictionary<string, string>? labels = null, string architecture = "amd64")
    {
        var config = new ImageConfig
        {
            Created = "2024-01-01T00:00:00Z",
            Architecture = architecture,
            Os = "linux",
            Config = new ContainerConfig { Env = ["PATH=/usr/bin"], Labels = labels ?? new() { ["org.example.test"] = "yes" } },
            RootFs = new RootFs { DiffIds = [diffId.ToString()] },
            History = [new HistoryEntry { Created = "2024-01-01T00:00:00Z", CreatedBy = "TestImages" }],
        };
        var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Writer.ImageConfig);
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = Descriptor.Create(MediaTypes.OciConfig, Digest.Sha256(configBytes), configBytes.Length),
            Layers = [Descriptor.Create(MediaTypes.OciLayerGzip, Digest.Sha256(layer), layer.Length)],
        };
        var manifestBytes = JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest);
        var dest = new OciLayoutDestination(ImageReference.Parse("oci:" + layout + ":" + tag));
        Put(dest, manifest.Config, configBytes);
        Put(dest, manifest.Layers[0], layer);
        var blob = new ManifestBlob(manifestBytes, MediaTypes.OciManifest, layout);
        dest.PutManifestAsync(blob, topLevel: true, CancellationToken.None).GetAwaiter().GetResult();
        dest.CommitAsync(CancellationToken.None).GetAwaiter().GetResult();
        return blob.Digest;
    }

    /// <summary>Writes a one-layer image with a layer of <paramref name="files"/> small files.</summary>
    public static Digest WriteSmallLayout(string layout, string tag, int files = 3, ulong seed = 1)
    {
        var (gz, diff) = Layer(Enumerable.Range(0, files).Select(i => ($"usr/share/f{i}", 1000 + (i * 37))), seed);
        return WriteLayout(layout, tag, gz, diff);
    }

    /// <summary>Adds a layer on top of the image tagged <paramref name="fromTag"/> in a layout, as <paramref name="toTag"/>; returns the layer digest.</summary>
    public static Digest AddLayer(string layout, string fromTag, string toTag, byte[] layer, Digest diffId)
    {
        var src = OciLayoutSource.OpenDirectory(ImageReference.Parse("oci:" + layout + ":" + fromTag));
        var manifestBlob = src.GetManifestAsync(null, CancellationToken.None).GetAwaiter().GetResult();
        var manifest = manifestBlob.AsManifest();
        var configBytes = File.ReadAllBytes(Path.Combine(layout, "blobs", "sha256", manifest.Config.GetDigest().Hex));
        var config = JsonSerializer.Deserialize(configBytes, OciJsonContext.Default.ImageConfig)!;
        config.RootFs.DiffIds.Add(diffId.ToString());
        config.History ??= [];
        config.History.Add(new HistoryEntry { Created = "2024-01-02T00:00:00Z", CreatedBy = "RUN derive" });
        var newConfig = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Writer.ImageConfig);
        var layerDesc = Descriptor.Create(MediaTypes.OciLayerGzip, Digest.Sha256(layer), layer.Length);
        manifest.Layers.Add(layerDesc);
        manifest.Config = Descriptor.Create(MediaTypes.OciConfig, Digest.Sha256(newConfig), newConfig.Length);
        var dest = new OciLayoutDestination(ImageReference.Parse("oci:" + layout + ":" + toTag));
        Put(dest, layerDesc, layer);
        Put(dest, manifest.Config, newConfig);
        dest.PutManifestAsync(new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest), MediaTypes.OciManifest, layout), topLevel: true, CancellationToken.None).GetAwaiter().GetResult();
        dest.CommitAsync(CancellationToken.None).GetAwaiter().GetResult();
        return layerDesc.GetDigest();
    }

    private static void Put(OciLayoutDestination dest, Descriptor d, byte[] bytes) =>
        dest.PutBlobAsync(d, (_, _) => Task.FromResult<Stream>(new MemoryStream(bytes)), null, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Copies between two references with default options.</summary>
    public static CopyResult Copy(string from, string to, OstreeSharp.Containers.Registry.RegistryOptions? options = null, CopyOptions? copy = null)
    {
        var src = ImageTransports.OpenSource(ImageReference.Parse(from), options);
        var dst = ImageTransports.OpenDestination(ImageReference.Parse(to), options);
        try
        {
            return ImageCopier.CopyAsync(src, dst, copy).GetAwaiter().GetResult();
        }
        finally
        {
            dst.DisposeAsync().AsTask().GetAwaiter().GetResult();
            src.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}
