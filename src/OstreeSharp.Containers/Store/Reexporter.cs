// `container image reexport`: a stored image written out again as an OCI image from the commits in the repository.
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Store;

/// <summary>Re-serialises stored images (spec 4.9, with the reference implementation's defects of 11.4 fixed).</summary>
public static class Reexporter
{
    /// <summary>
    /// Writes the stored image <paramref name="image"/> to <paramref name="destination"/>: the ostree layer and chunk
    /// layers regenerated from the stored commits (chunk membership from the synthetic chunk commits), derived layers
    /// exported from their layer commits; manifest and config copied from the stored ones with the layers, DiffIDs and
    /// <c>ostree.final-diffid</c> recomputed. Returns the new manifest digest.
    /// </summary>
    public static async Task<Digest> ReexportAsync(OstreeRepo repo, ImageReference image, IImageDestination destination, EncapsulateOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new EncapsulateOptions();
        var stored = new ImageStore(repo).Query(image) ?? throw new ContainerException(OstreeErrorCode.ImageNotFound, $"No such image: {image}");
        var manifest = stored.Manifest.AsManifest();
        var config = stored.ConfigJson is { } json ? JsonSerializer.Deserialize(json, OciJsonContext.Default.ImageConfig) ?? new ImageConfig() : new ImageConfig();
        // An image without an ostree commit (no ostree.final-diffid label) has only derived layers; each is written
        // again from its layer commit, so the image keeps its layer structure.
        var finalDiffId = config.Config?.Labels?.GetValueOrDefault(Encapsulator.FinalDiffIdLabel);
        int k = finalDiffId is null ? -1 : config.RootFs.DiffIds.IndexOf(finalDiffId);
        if (finalDiffId is not null && (k < 0 || k >= manifest.Layers.Count))
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Stored image {image}: {Encapsulator.FinalDiffIdLabel} {finalDiffId} is not one of its layers");
        }

        Checksum LayerCommit(Descriptor d) => repo.ResolveRev(ImageStore.BlobRef(d.Digest), allowMissing: true)
            ?? throw new ContainerException(OstreeErrorCode.ObjectNotFound, $"Stored image {image}: layer {d.Digest} is not in the repository (pruned?)");
        Checksum? baseCommit = k < 0 ? null : LayerCommit(manifest.Layers[0]);
        var chunks = k < 0 ? [] : manifest.Layers.Skip(1).Take(k).Select(d => ChunkObjects(repo, LayerCommit(d))).ToList();
        var derived = manifest.Layers.Skip(k + 1).Select(LayerCommit).ToList();

        bool inflates = repo.Mode == RepoMode.Archive; // the tar's thread inflates each object (LayerStreams.Compress)
        var layoutDest = destination as OciLayoutDestination;
        var tmpDir = options.TempDirectory ?? layoutDest?.StagingDirectory ?? Path.Combine(repo.Path, "tmp");
        Directory.CreateDirectory(tmpDir);
        var staged = new List<string>();
        string NewTemp()
        {
            var t = Path.Combine(tmpDir, ".tmp-reexport-" + Guid.NewGuid().ToString("N")[..12]);
            staged.Add(t);
            return t;
        }

        try
        {
            var written = await Task.Run(
                () =>
                {
                    var list = new List<(string Path, Digest Digest, Digest DiffId, long Size)>();
                    var exporter = new OstreeTarExporter(repo);
                    if (baseCommit is { } ostreeCommit)
                    {
                        var t0 = NewTemp();
                        var chunked = chunks.SelectMany(c => c).ToHashSet();
                        var (d0, diff0, size0) = Encapsulator.WriteLayer(t0, options, s =>
                        {
                            if (chunks.Count == 0)
                            {
                                new OstreeTarExporter(repo).Export(ostreeCommit, s, cancellationToken);
                            }
                            else
                            {
                                new OstreeTarExporter(repo).ExportOstreeLayer(ostreeCommit, chunked, s, cancellationToken);
                            }
                        }, sourceInflates: inflates);
                        list.Add((t0, d0, diff0, size0));
                        foreach (var objects in chunks)
                        {
                            var t = NewTemp();
                            var (d, diff, size) = Encapsulator.WriteLayer(t, options, s => new OstreeTarExporter(repo).ExportChunk(ostreeCommit, objects, s, cancellationToken), sourceInflates: inflates);
                            list.Add((t, d, diff, size));
                        }
                    }

                    foreach (var layer in derived)
                    {
                        var t = NewTemp();
                        var (d, diff, size) = Encapsulator.WriteLayer(t, options, s => exporter.ExportPlain(layer, s, new PlainExportOptions { EtcAsEtc = true }, cancellationToken), sourceInflates: inflates);
                        list.Add((t, d, diff, size));
                    }

                    return list;
                },
                cancellationToken).ConfigureAwait(false);

            config.RootFs = new RootFs { DiffIds = [.. written.Select(w => w.DiffId.ToString())] };
            if (k >= 0)
            {
                config.Config ??= new ContainerConfig();
                config.Config.Labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
                config.Config.Labels[Encapsulator.FinalDiffIdLabel] = written[k].DiffId.ToString();
            }

            var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Writer.ImageConfig);
            var mediaType = LayerStreams.MediaType(options.Compression);
            var descriptors = written.Select((w, i) =>
            {
                var d = Descriptor.Create(mediaType, w.Digest, w.Size);
                if (manifest.Layers[i].Annotations is { Count: > 0 } a)
                {
                    d.Annotations = new Dictionary<string, string>(a, StringComparer.Ordinal);
                }

                return d;
            }).ToList();
            var annotations = manifest.Annotations is null ? null : new Dictionary<string, string>(manifest.Annotations, StringComparer.Ordinal);
            if (k >= 0 && annotations?.ContainsKey(Encapsulator.FinalDiffIdLabel) == true)
            {
                annotations[Encapsulator.FinalDiffIdLabel] = written[k].DiffId.ToString();
            }

            var newManifest = new ImageManifest
            {
                MediaType = MediaTypes.OciManifest,
                Config = Descriptor.Create(MediaTypes.OciConfig, Digest.Sha256(configBytes), configBytes.Length),
                Layers = descriptors,
                Annotations = annotations,
            };
            var blob = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(newManifest, OciJsonContext.Writer.ImageManifest), MediaTypes.OciManifest, destination.Reference.ToString());
            await Encapsulator.PublishAsync(destination, descriptors, [.. written.Select(w => w.Path)], newManifest.Config, configBytes, blob, cancellationToken).ConfigureAwait(false);
            return blob.Digest;
        }
        finally
        {
            foreach (var f in staged)
            {
                File.Delete(f);
            }
        }
    }

    /// <summary>The content objects of a synthetic chunk commit: the files of its root, named by checksum.</summary>
    private static List<Checksum> ChunkObjects(OstreeRepo repo, Checksum chunkCommit) =>
        [.. repo.LoadDirTree(repo.LoadCommit(chunkCommit).RootTree).Files.Select(f => f.Checksum)];
}
