// ostree commit -> OCI image (ostree-container-format.md section 3), single-layer form: the layer is
// the commit's ostree-ext tar stream (format 1), compressed, with the DiffID and the blob digest
// hashed in the same pass as the export.
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Store;

/// <summary>Options of <see cref="Encapsulator"/>.</summary>
public sealed record EncapsulateOptions
{
    /// <summary>User labels (<c>--label K=V</c>).</summary>
    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);

    /// <summary>Commit metadata strings copied to labels (<c>--copymeta</c>); a missing key is an error.</summary>
    public List<string> CopyMeta { get; } = [];

    /// <summary>Like <see cref="CopyMeta"/> but a missing key is skipped (<c>--copymeta-opt</c>).</summary>
    public List<string> CopyMetaOptional { get; } = [];

    /// <summary>The image's command (<c>--cmd</c>); default: commit metadata <c>ostree.container-cmd</c>.</summary>
    public List<string>? Cmd { get; init; }

    /// <summary>
    /// A TCP port recorded in the config's <c>ExposedPorts</c>, as <c>EXPOSE</c> does
    /// (<c>--expose-repo-port</c>): where a container serving the image's repository listens.
    /// </summary>
    public int? ExposeRepoPort { get; init; }

    /// <summary>A runtime config to start from (<c>--config</c>).</summary>
    public ContainerConfig? BaseConfig { get; init; }

    /// <summary>gzip (default) or zstd.</summary>
    public LayerCompression Compression { get; init; } = LayerCompression.Gzip;

    /// <summary>The fastest compression level (<c>--compression-fast</c>).</summary>
    public bool CompressionFast { get; init; }

    /// <summary>The config's architecture (default: this machine's).</summary>
    public string Architecture { get; init; } = PlatformSelector.HostArchitecture;

    /// <summary>
    /// Stamp history entries with the export's wall-clock time, as the reference implementation does. Off by
    /// default: history uses the commit time, so the same commit always gives the same image digest.
    /// </summary>
    public bool WallClockHistory { get; init; }

    /// <summary>
    /// Split content objects over up to this many chunk layers on top of the ostree layer (0: a single-layer
    /// image). Without content metadata, objects are packed by the folder of their first path, so a change
    /// touches only the layers of the folders it changes.
    /// </summary>
    public int ChunkLayers { get; init; }

    /// <summary>Content metadata (<c>--contentmeta</c>): one chunk layer per key, in order, plus an empty one.</summary>
    public ContentMeta? ContentMeta { get; init; }

    /// <summary>The manifest of the previous build: its chunk layers' <c>ostree.components</c> keep the layout stable.</summary>
    public ImageManifest? PreviousBuild { get; init; }

    /// <summary>
    /// Chunk layers decided by the caller (a name, the <c>ostree.components</c> annotation and the content objects of
    /// each), after the ostree layer, which keeps every content object of no chunk.
    /// </summary>
    public IReadOnlyList<(string Name, string Components, List<Checksum> Objects)>? Chunks { get; init; }

    /// <summary>The config's creation time (default: the commit's time).</summary>
    public string? Created { get; init; }

    /// <summary>Where the compressed layer is staged (default: the repository's tmp folder).</summary>
    public string? TempDirectory { get; init; }
}

/// <summary>The outcome of an encapsulation.</summary>
public sealed record EncapsulateResult(Digest ManifestDigest, Digest LayerDigest, Digest DiffId, long LayerSize, IReadOnlyDictionary<string, string> Labels, int LayerCount = 1)
{
    /// <summary>Every layer written, in order: digest, DiffID, size, name and <c>ostree.components</c> (null for the ostree layer).</summary>
    public IReadOnlyList<(Digest Digest, Digest DiffId, long Size, string Name, string? Components)> Layers { get; init; } = [];
}

/// <summary>Writes ostree commits as OCI images.</summary>
public static class Encapsulator
{
    /// <summary>The label naming the last ostree layer's DiffID.</summary>
    public const string FinalDiffIdLabel = "ostree.final-diffid";

    /// <summary>Encapsulates <paramref name="commitId"/> into <paramref name="destination"/> and commits it there.</summary>
    public static async Task<EncapsulateResult> EncapsulateAsync(OstreeRepo repo, Checksum commitId, IImageDestination destination, EncapsulateOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new EncapsulateOptions();
        var commit = repo.LoadCommit(commitId);
        var layoutDest = destination as OciLayoutDestination;
        var tmpDir = options.TempDirectory ?? layoutDest?.StagingDirectory ?? Path.Combine(repo.Path, "tmp");
        Directory.CreateDirectory(tmpDir);
        var staged = new List<string>();
        try
        {
            var layers = await Task.Run(() => WriteLayers(repo, commitId, tmpDir, options, staged, cancellationToken), cancellationToken).ConfigureAwait(false);
            var diffId = layers[^1].DiffId;
            var labels = Labels(commit, commitId, options, diffId);
            var created = options.Created ?? options.ContentMeta?.Created ?? FormatTime(commit.Time);
            var historyTime = options.WallClockHistory ? FormatTime(DateTimeOffset.UtcNow) : created;
            var config = new ImageConfig
            {
                Created = created,
                Architecture = options.Architecture,
                Os = "linux",
                Config = Runtime(options, commit, labels),
                RootFs = new RootFs { DiffIds = [.. layers.Select(l => l.DiffId.ToString())] },
                History =
                [
                    new HistoryEntry
                    {
                        Created = historyTime,
                        CreatedBy = commit.Subject.Length > 0 ? commit.Subject : "ostree export of commit " + commitId.ToHex(),
                    },
                    .. layers.Skip(1).Select((l, i) => new HistoryEntry { Created = historyTime, CreatedBy = options.ContentMeta is null && options.Chunks is null ? $"ostree chunk {i + 1}: {l.Name}" : l.Name }),
                ],
            };
            var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Writer.ImageConfig);
            var descriptors = layers.Select((l, i) =>
            {
                var d = Descriptor.Create(LayerStreams.MediaType(options.Compression), l.Digest, l.Size);
                if (i > 0)
                {
                    d.Annotations = new Dictionary<string, string> { ["ostree.components"] = layers[i].Components ?? string.Empty };
                }

                return d;
            }).ToList();
            var manifest = new ImageManifest
            {
                MediaType = MediaTypes.OciManifest,
                Config = Descriptor.Create(MediaTypes.OciConfig, Digest.Sha256(configBytes), configBytes.Length),
                Layers = descriptors,
                Annotations = new Dictionary<string, string>(labels, StringComparer.Ordinal),
            };
            var manifestBlob = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest), MediaTypes.OciManifest, destination.Reference.ToString());

            await PublishAsync(destination, descriptors, [.. layers.Select(l => l.Path)], manifest.Config, configBytes, manifestBlob, cancellationToken).ConfigureAwait(false);
            return new EncapsulateResult(manifestBlob.Digest, layers[0].Digest, diffId, layers.Sum(l => l.Size), labels, layers.Count)
            {
                Layers = [.. layers.Select((l, i) => (l.Digest, l.DiffId, l.Size, l.Name, i == 0 ? null : l.Components ?? string.Empty))],
            };
        }
        finally
        {
            foreach (var f in staged)
            {
                File.Delete(f);
            }
        }
    }

    /// <summary>
    /// Puts staged layer files (renamed into an OCI layout when staged there, else uploaded unless the destination
    /// has them), the config and the manifest into <paramref name="destination"/>, then commits it.
    /// </summary>
    internal static async Task PublishAsync(IImageDestination destination, IReadOnlyList<Descriptor> layers, IReadOnlyList<string> stagedFiles, Descriptor config, byte[] configBytes, ManifestBlob manifest, CancellationToken cancellationToken)
    {
        var layoutDest = destination as OciLayoutDestination;
        for (int i = 0; i < layers.Count; i++)
        {
            var (layer, tmp) = (layers[i], stagedFiles[i]);
            if (layoutDest is not null && Path.GetDirectoryName(Path.GetFullPath(tmp)) == Path.GetFullPath(layoutDest.StagingDirectory))
            {
                // Hashed while it was written: rename it into the layout instead of copying it.
                layoutDest.AdoptBlobFile(tmp, layer);
            }
            else if (!await destination.TryReuseBlobAsync(layer, null, cancellationToken).ConfigureAwait(false))
            {
                await destination.PutBlobAsync(layer, (offset, _) => Task.FromResult(OpenAt(tmp, offset)), null, cancellationToken).ConfigureAwait(false);
            }
        }

        if (!await destination.TryReuseBlobAsync(config, null, cancellationToken).ConfigureAwait(false))
        {
            await destination.PutBlobAsync(config, (offset, _) => Task.FromResult<Stream>(new MemoryStream(configBytes, (int)offset, configBytes.Length - (int)offset)), null, cancellationToken).ConfigureAwait(false);
        }

        await destination.PutManifestAsync(manifest, topLevel: true, cancellationToken).ConfigureAwait(false);
        await destination.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record WrittenLayer(string Path, Digest Digest, Digest DiffId, long Size, string Name, string? Components = null);

    private static List<WrittenLayer> WriteLayers(OstreeRepo repo, Checksum commitId, string tmpDir, EncapsulateOptions options, List<string> staged, CancellationToken ct)
    {
        string NewTemp()
        {
            var t = Path.Combine(tmpDir, ".tmp-encapsulate-" + Guid.NewGuid().ToString("N")[..12]);
            staged.Add(t);
            return t;
        }

        bool inflates = repo.Mode == RepoMode.Archive; // the tar's thread inflates each object (LayerStreams.Compress)

        // Chunks given by the caller, or by content metadata: the ostree layer keeps the content objects of no chunk.
        var chunks = options.Chunks;
        if (chunks is null && options.ContentMeta is { } meta)
        {
            var contentPaths = new OstreeTarExporter(repo).ContentPaths(commitId);
            IReadOnlyList<string>? prior = options.PreviousBuild is { } previous
                ? [.. previous.Layers.Skip(1).Select(l => l.Annotations?.GetValueOrDefault("ostree.components") ?? throw new ContainerException(OstreeErrorCode.ObjectNotFound, "Missing ostree.components on prior build"))]
                : null;
            chunks = meta.Bins(contentPaths.Keys, prior);
        }

        if (chunks is not null)
        {
            var chunkedSet = new HashSet<Checksum>(chunks.SelectMany(c => c.Objects));
            var written = new List<WrittenLayer>();
            var ostreeFile = NewTemp();
            var (cd, cdiff, csize) = WriteLayer(ostreeFile, options, s => new OstreeTarExporter(repo).ExportOstreeLayer(commitId, chunkedSet, s, ct), sourceInflates: inflates);
            written.Add(new WrittenLayer(ostreeFile, cd, cdiff, csize, "ostree", null));
            foreach (var (name, components, objects) in chunks)
            {
                var t = NewTemp();
                var (d, diff, size) = WriteLayer(t, options, s => new OstreeTarExporter(repo).ExportChunk(commitId, objects, s, ct), sourceInflates: inflates);
                written.Add(new WrittenLayer(t, d, diff, size, name, components));
            }

            return written;
        }

        if (options.ChunkLayers <= 0)
        {
            var single = NewTemp();
            var (digest, diff, size) = WriteLayer(single, options, s => new OstreeTarExporter(repo).Export(commitId, s, ct), sourceInflates: inflates);
            return [new WrittenLayer(single, digest, diff, size, "ostree", null)];
        }

        // Pack content objects into bins by the folder of their first path (stable across builds).
        var paths = new OstreeTarExporter(repo).ContentPaths(commitId);
        var bins = new SortedDictionary<int, List<Checksum>>();
        var binNames = new Dictionary<int, SortedSet<string>>();
        foreach (var (obj, list) in paths)
        {
            var first = list.Count > 0 ? list[0] : string.Empty;
            var folder = first.Contains('/', StringComparison.Ordinal) ? first[..first.LastIndexOf('/')] : string.Empty;
            int bin = (int)(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(folder))) % (uint)options.ChunkLayers);
            if (!bins.TryGetValue(bin, out var members))
            {
                bins[bin] = members = [];
                binNames[bin] = new SortedSet<string>(StringComparer.Ordinal);
            }

            members.Add(obj);
            binNames[bin].Add(folder.Length == 0 ? "/" : folder);
        }

        var chunked = new HashSet<Checksum>(bins.Values.SelectMany(b => b));
        var result = new List<WrittenLayer>();
        var ostree = NewTemp();
        var (d0, diff0, size0) = WriteLayer(ostree, options, s => new OstreeTarExporter(repo).ExportOstreeLayer(commitId, chunked, s, ct), sourceInflates: inflates);
        result.Add(new WrittenLayer(ostree, d0, diff0, size0, "ostree", null));
        foreach (var (bin, members) in bins)
        {
            var t = NewTemp();
            var (d, diff, size) = WriteLayer(t, options, s => new OstreeTarExporter(repo).ExportChunk(commitId, members, s, ct), sourceInflates: inflates);
            var names = binNames[bin];
            result.Add(new WrittenLayer(t, d, diff, size, names.Count <= 3 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(3))} and {names.Count - 3} more folders"));
        }

        return result;
    }

    private static Stream OpenAt(string path, long offset)
    {
        var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        f.Position = offset;
        return f;
    }

    internal static (Digest Layer, Digest DiffId, long Size) WriteLayer(string path, EncapsulateOptions options, Action<Stream> export, int? threads = null, bool sourceInflates = false)
    {
        // No write buffer: the compressors hand over their output in pieces of 128 KiB (zstd) or a block's worth
        // (gzip). The tar side's buffer only gathers the exporter's headers and file pieces into fewer hash and
        // compressor calls, which copy the bytes again anyway: 256 KiB does that as well as 1 MiB did.
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        using var compressed = new HashingWriteStream(file, leaveOpen: true);
        Digest diffId;
        using (var compressor = LayerStreams.Compress(compressed, options.Compression, options.CompressionFast, threads, sourceInflates))
        {
            using var tar = new HashingWriteStream(compressor, leaveOpen: true);
            using (var buffered = new BufferedStream(tar, 256 << 10))
            {
                export(buffered);
            }

            diffId = tar.Finish();
        }

        return (compressed.Finish(), diffId, compressed.Count);
    }

    private static Dictionary<string, string> Labels(Commit commit, Checksum id, EncapsulateOptions o, Digest diffId)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, required) in o.CopyMeta.Select(k => (k, true)).Concat(o.CopyMetaOptional.Select(k => (k, false))))
        {
            var v = commit.Metadata.Lookup(key);
            if (v is null)
            {
                if (required)
                {
                    throw new ContainerException(OstreeErrorCode.ObjectNotFound, $"Could not find commit metadata key: {key}");
                }

                continue;
            }

            labels[key] = v.Type.Kind == 's' ? v.GetString() : throw new ContainerException(OstreeErrorCode.InvalidData, $"Expected string for commit metadata value {key}");
        }

        if (commit.Metadata.Lookup("ostree.bootable") is { Type.Kind: 'b' } bootable)
        {
            labels["ostree.bootable"] = bootable.GetBoolean() ? "true" : "false";
            labels["containers.bootc"] = "1";
        }

        if (commit.Metadata.Lookup("ostree.linux") is { Type.Kind: 's' } linux)
        {
            labels["ostree.linux"] = linux.GetString();
        }

        if (commit.Metadata.Lookup("version") is { Type.Kind: 's' } version)
        {
            labels["org.opencontainers.image.version"] = version.GetString();
        }

        labels["ostree.commit"] = id.ToHex();
        foreach (var (k, v) in o.Labels.Concat(o.ContentMeta?.Labels ?? new Dictionary<string, string>()))
        {
            labels[k] = v;
        }

        labels[FinalDiffIdLabel] = diffId.ToString();
        return labels;
    }

    private static ContainerConfig Runtime(EncapsulateOptions o, Commit commit, Dictionary<string, string> labels)
    {
        var c = o.BaseConfig ?? new ContainerConfig();
        if (o.Cmd is { Count: > 0 } cmd)
        {
            c.Cmd = cmd;
        }
        else if (commit.Metadata.Lookup("ostree.container-cmd") is { Type.Text: "as" } meta)
        {
            c.Cmd = [.. meta.GetChildren().Select(x => x.GetString())];
        }

        if (o.ExposeRepoPort is { } port)
        {
            var ports = new SortedSet<string>(StringComparer.Ordinal) { $"{port.ToString(CultureInfo.InvariantCulture)}/tcp" };
            if (c.Extra?.TryGetValue("ExposedPorts", out var existing) == true && existing.ValueKind == System.Text.Json.JsonValueKind.Object)
            {
                ports.UnionWith(existing.EnumerateObject().Select(p => p.Name));
            }

            c.Extra ??= new Dictionary<string, System.Text.Json.JsonElement>(StringComparer.Ordinal);
            var json = "{" + string.Join(",", ports.Select(p => System.Text.Json.JsonEncodedText.Encode(p).ToString() is var e ? $"\"{e}\":{{}}" : string.Empty)) + "}";
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            c.Extra["ExposedPorts"] = doc.RootElement.Clone();
        }

        c.Labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in labels)
        {
            c.Labels[k] = v;
        }

        return c;
    }

    private static string FormatTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>Parses <c>K=V</c> as <c>--label</c> does.</summary>
    public static (string Key, string Value) ParseLabel(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int eq = text.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? throw new ContainerException(OstreeErrorCode.InvalidArgument, $"Missing '=' in label {text}") : (text[..eq], text[(eq + 1)..]);
    }

}
