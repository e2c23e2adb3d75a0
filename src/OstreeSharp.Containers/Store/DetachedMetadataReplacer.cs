// Re-signing an encapsulated image without re-encapsulating it (ostree-container-format.md 2.9):
// the ostree layer's stream is rewritten with new (or no) commitmeta right after the commit, the
// layer recompressed, and the config and manifest updated to match.
using System.IO.Compression;
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Store;

/// <summary>Replaces the detached metadata (signatures) of the commit inside an image.</summary>
public static class DetachedMetadataReplacer
{
    /// <summary>
    /// Rewrites an ostree-ext tar stream: entries are copied up to and including the first regular
    /// <c>.commit</c>; then <paramref name="commitmeta"/> (when given) is inserted as its <c>.commitmeta</c>, and a
    /// <c>.commitmeta</c> that followed the commit is dropped; everything else is copied.
    /// </summary>
    /// <exception cref="ContainerException">The stream has no commit object.</exception>
    public static void Rewrite(Stream input, Stream output, byte[]? commitmeta)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        using var reader = new TarReader(input, leaveOpen: true);
        using var writer = new TarWriter(output, leaveOpen: true);
        int state = 0; // 0: before the commit, 1: right after it, 2: the rest
        while (reader.GetNextEntry() is { } e)
        {
            if (state == 1)
            {
                state = 2;
                if (e.Name.EndsWith(".commitmeta", StringComparison.Ordinal))
                {
                    continue;
                }
            }

            writer.WriteEntry(e.Clone(), e.IsRegular ? reader.DataStream : null);
            if (state == 0 && e.IsRegular && e.Name.EndsWith(".commit", StringComparison.Ordinal))
            {
                state = 1;
                if (commitmeta is not null)
                {
                    writer.WriteFile(new TarEntry { Name = e.Name[..^".commit".Length] + ".commitmeta", Mode = 0x1A4 }, commitmeta);
                }
            }
        }

        if (state == 0)
        {
            throw new ContainerException(OstreeErrorCode.ObjectNotFound, "Missing commit object");
        }

        writer.Finish();
    }

    /// <summary>
    /// Copies <paramref name="source"/> to <paramref name="destination"/> with the ostree layer's detached metadata
    /// replaced (or removed when <paramref name="commitmeta"/> is null); returns the new manifest digest.
    /// </summary>
    public static async Task<Digest> ReplaceAsync(ImageReference source, ImageReference destination, byte[]? commitmeta, RegistryOptions? registry = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        await using var src = ImageTransports.OpenSource(source, registry);
        var layout = await Unencapsulator.FetchLayoutAsync(src, cancellationToken).ConfigureAwait(false);
        var manifest = layout.Parsed;
        var layer0 = manifest.Layers[0];
        var tmp = Path.Combine(Path.GetTempPath(), ".ostree-sharp-resign-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            Digest digest, diffId;
            long size;
            await using (var blob = await src.GetBlobAsync(layer0, 0, cancellationToken).ConfigureAwait(false))
            {
                using var decompressed = LayerStreams.Decompress(blob, layer0.MediaType);
                using var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                using var compressedHash = new HashingWriteStream(file, leaveOpen: true);
                using (var gzip = new ParallelGzipStream(compressedHash, CompressionLevel.Optimal, leaveOpen: true))
                {
                    using var tarHash = new HashingWriteStream(gzip, leaveOpen: true);
                    using (var buffered = new BufferedStream(tarHash, 1 << 20))
                    {
                        Rewrite(decompressed, buffered, commitmeta);
                    }

                    diffId = tarHash.Finish();
                }

                decompressed.CopyTo(Stream.Null);
                blob.CopyTo(Stream.Null); // the source layer's digest is checked to the end
                digest = compressedHash.Finish();
                size = compressedHash.Count;
            }

            var config = layout.Config;
            config.RootFs.DiffIds[0] = diffId.ToString();
            if (manifest.Layers.Count == 1)
            {
                if (config.Config?.Labels is { } labels)
                {
                    labels[Encapsulator.FinalDiffIdLabel] = diffId.ToString();
                }

                if (manifest.Annotations is { } ann && ann.ContainsKey(Encapsulator.FinalDiffIdLabel))
                {
                    ann[Encapsulator.FinalDiffIdLabel] = diffId.ToString();
                }
            }

            var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Writer.ImageConfig);
            var newLayer = Descriptor.Create(MediaTypes.OciLayerGzip, digest, size);
            manifest.Layers[0] = newLayer;
            manifest.Config = Descriptor.Create(MediaTypes.ToOci(manifest.Config.MediaType), Digest.Sha256(configBytes), configBytes.Length);
            manifest.MediaType ??= MediaTypes.OciManifest;
            var manifestBlob = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest), manifest.MediaType, destination.ToString());

            await using var dest = ImageTransports.OpenDestination(destination, registry);
            await dest.PutBlobAsync(newLayer, (offset, _) =>
            {
                var f = new FileStream(tmp, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
                f.Position = offset;
                return Task.FromResult<Stream>(f);
            }, null, cancellationToken).ConfigureAwait(false);
            foreach (var other in manifest.Layers.Skip(1))
            {
                if (!await dest.TryReuseBlobAsync(other, source, cancellationToken).ConfigureAwait(false))
                {
                    await dest.PutBlobAsync(other, (offset, t) => src.GetBlobAsync(other, offset, t), null, cancellationToken).ConfigureAwait(false);
                }
            }

            await dest.PutBlobAsync(manifest.Config, (offset, _) => Task.FromResult<Stream>(new MemoryStream(configBytes, (int)offset, configBytes.Length - (int)offset)), null, cancellationToken).ConfigureAwait(false);
            await dest.PutManifestAsync(manifestBlob, topLevel: true, cancellationToken).ConfigureAwait(false);
            await dest.CommitAsync(cancellationToken).ConfigureAwait(false);
            return manifestBlob.Digest;
        }
        finally
        {
            File.Delete(tmp);
        }
    }
}
