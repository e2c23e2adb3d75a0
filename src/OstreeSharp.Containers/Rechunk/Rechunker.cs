// Rechunking (rpm-ostree's `compose build-chunked-oci`, without root): any image or root folder becomes an image
// whose layers hold whole packages, packed as ostree-ext packs chunks, so an update changes the layers of the
// packages it changes. Format 2 writes plain layers (each with its files' parent folders); format 1 is the chunked
// ostree image of ostree-container-format.md (the ostree layer, then the package chunks).
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Rechunk;

/// <summary>Options of <see cref="Rechunker"/>.</summary>
public sealed record RechunkOptions
{
    /// <summary>The most layers the image gets (<c>--max-layers</c>; rpm-ostree's default, 64).</summary>
    public int MaxLayers { get; init; } = 64;

    /// <summary>The fewest layers <see cref="MaxLayers"/> may ask for in this <see cref="FormatVersion"/> (chunked: 5, plain: 4).</summary>
    public int MinLayers => FormatVersion == 1 ? 5 : 4;

    /// <summary>The most layers <see cref="MaxLayers"/> may ask for.</summary>
    public const int MaxLayersLimit = 500;

    /// <summary>1: a chunked ostree image; 2: plain layers without an ostree commit.</summary>
    public int FormatVersion { get; init; } = 1;

    /// <summary>The previous build's manifest: its layers' <c>ostree.components</c> keep the layout.</summary>
    public ImageManifest? PreviousBuild { get; init; }

    /// <summary>Labels set on the image (<c>--label</c>).</summary>
    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);

    /// <summary>Marks the image as a bootc image (the <c>containers.bootc</c> label).</summary>
    public bool Bootc { get; init; }

    /// <summary>Layer compression.</summary>
    public LayerCompression Compression { get; init; } = LayerCompression.Gzip;

    /// <summary>The fastest compression level.</summary>
    public bool CompressionFast { get; init; }

    /// <summary>Where file bytes of image layers and temporary files go (default: the system's temporary folder).</summary>
    public string? TempDirectory { get; init; }

    /// <summary>For a root folder: the config's architecture (default: this machine's).</summary>
    public string? Architecture { get; init; }

    /// <summary>For a root folder: the config's creation time (default: the folder's mtime, as rpm-ostree).</summary>
    public DateTimeOffset? Created { get; init; }

    /// <summary>Progress lines.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>One written layer.</summary>
public sealed record RechunkedLayer(Digest Digest, Digest DiffId, long Size, string Name, string Components);

/// <summary>The outcome of a rechunk.</summary>
public sealed record RechunkResult(Digest ManifestDigest, IReadOnlyList<RechunkedLayer> Layers, int Components, int Packages, string? Database);

/// <summary>Rewrites an image or a root folder as an image chunked by package.</summary>
public static class Rechunker
{
    /// <summary>The annotation naming the components of a layer, joined with ','.</summary>
    public const string ComponentsAnnotation = "ostree.components";

    /// <summary>Rechunks the image <paramref name="source"/> (its instance for this machine) into <paramref name="destination"/>.</summary>
    /// <exception cref="ContainerException">Bad options, a malformed image or package database.</exception>
    public static async Task<RechunkResult> RechunkAsync(IImageSource source, IImageDestination destination, RechunkOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new RechunkOptions();
        Check(options);
        var top = await source.GetManifestAsync(null, cancellationToken).ConfigureAwait(false);
        var manifestBlob = await PlatformSelector.ResolveAsync(source, top, "linux", options.Architecture ?? PlatformSelector.HostArchitecture, null, cancellationToken).ConfigureAwait(false);
        var manifest = manifestBlob.AsManifest();
        var config = ImageConfig.Parse(await source.ReadConfigAsync(manifest.Config, 16 << 20, cancellationToken).ConfigureAwait(false), $"config of {source.Reference}");
        var work = WorkDir(options);
        try
        {
            options.Log?.Invoke($"Reading {manifest.Layers.Count} layers of {source.Reference}");
            var tree = await RootTree.FromImageAsync(source, manifest, Path.Combine(work, "files"), cancellationToken).ConfigureAwait(false);
            return await WriteAsync(tree, config, destination, options, work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            FileUtil.DeleteAny(work);
        }
    }

    /// <summary>Rechunks the root folder <paramref name="rootfs"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="ContainerException">Bad options, an unreadable folder or a malformed package database.</exception>
    public static async Task<RechunkResult> RechunkDirectoryAsync(string rootfs, IImageDestination destination, RechunkOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rootfs);
        ArgumentNullException.ThrowIfNull(destination);
        options ??= new RechunkOptions();
        Check(options);
        var work = WorkDir(options);
        try
        {
            options.Log?.Invoke($"Reading {rootfs}");
            var tree = await Task.Run(() => RootTree.FromDirectory(rootfs, cancellationToken), cancellationToken).ConfigureAwait(false);
            var created = options.Created ?? DateTimeOffset.FromUnixTimeSeconds(tree.Root.Mtime);
            var config = new ImageConfig
            {
                Created = created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                Architecture = options.Architecture ?? PlatformSelector.HostArchitecture,
                Os = "linux",
                Config = new ContainerConfig(),
            };
            return await WriteAsync(tree, config, destination, options, work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            FileUtil.DeleteAny(work);
        }
    }

    private static void Check(RechunkOptions o)
    {
        if (o.FormatVersion is not (1 or 2))
        {
            throw new ContainerException(OstreeErrorCode.NotSupported, $"Unsupported format version {o.FormatVersion}: 1 (chunked ostree image) or 2 (plain layers)");
        }

        if (o.MaxLayers < o.MinLayers || o.MaxLayers > RechunkOptions.MaxLayersLimit)
        {
            throw new ContainerException(OstreeErrorCode.InvalidArgument, $"{nameof(RechunkOptions.MaxLayers)} must be between {o.MinLayers} and {RechunkOptions.MaxLayersLimit} for format version {o.FormatVersion}, got {o.MaxLayers}");
        }
    }

    private static string WorkDir(RechunkOptions o)
    {
        // /var/tmp as rpm-ostree: a layer's files can be larger than a tmpfs /tmp.
        var parent = o.TempDirectory ?? (Environment.GetEnvironmentVariable("TMPDIR") is { Length: > 0 } t ? t : "/var/tmp");
        var dir = Path.Combine(parent, "ostree-sharp-rechunk-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static async Task<RechunkResult> WriteAsync(RootTree tree, ImageConfig baseConfig, IImageDestination destination, RechunkOptions o, string work, CancellationToken ct)
    {
        var map = Components.Assign(tree);
        IReadOnlyList<string>? prior = null;
        if (o.PreviousBuild is { } previous)
        {
            prior = [.. previous.Layers.Select(l => l.Annotations?.GetValueOrDefault(ComponentsAnnotation)).OfType<string>()];
            if (prior.Count == 0)
            {
                throw new ContainerException(OstreeErrorCode.InvalidData, $"The previous build's manifest has no layer with an {ComponentsAnnotation} annotation: it was not chunked by package");
            }
        }

        var bins = ChunkPacker.Pack(map.Components, o.FormatVersion == 1 ? o.MaxLayers - 1 : o.MaxLayers, prior);
        o.Log?.Invoke($"{tree.Count} paths, {map.Components.Count} components ({map.Packages} packages from {map.Database ?? "no package database"}), {bins.Count} layers");
        var binOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < bins.Count; i++)
        {
            foreach (var c in bins[i])
            {
                binOf[c.Name] = i;
            }
        }

        var labels = new Dictionary<string, string>(o.Labels, StringComparer.Ordinal);
        if (o.Bootc)
        {
            labels["containers.bootc"] = "1";
        }

        if (o.FormatVersion == 1)
        {
            return await WriteChunkedOstreeAsync(tree, map, bins, binOf, baseConfig, labels, destination, o, work, ct).ConfigureAwait(false);
        }

        var layout = destination as OciLayoutDestination;
        var staging = layout?.StagingDirectory ?? work;
        Directory.CreateDirectory(staging);
        var members = bins.Select(_ => new List<RootEntry>()).ToList();
        foreach (var e in tree.Entries)
        {
            if (e.Path.Length > 0)
            {
                members[binOf[map.Owners[e.Path]]].Add(e);
            }
        }

        var files = new string[bins.Count];
        var written = new (Digest Digest, Digest DiffId, long Size)[bins.Count];
        var encap = new EncapsulateOptions { Compression = o.Compression, CompressionFast = o.CompressionFast };
        try
        {
            await Task.Run(
                () => Parallel.For(0, bins.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = ct }, i =>
                {
                    files[i] = Path.Combine(staging, ".tmp-rechunk-" + Guid.NewGuid().ToString("N")[..12]);
                    // Layers are written side by side: a small one is compressed on its own thread, a large one on all.
                    long raw = members[i].Sum(e => e.Size);
                    written[i] = Encapsulator.WriteLayer(files[i], encap, s => WritePlainLayer(tree, members[i], s, ct), raw >= 32L << 20 ? null : 1);
                }),
                ct).ConfigureAwait(false);

            var layers = bins.Select((b, i) => new RechunkedLayer(written[i].Digest, written[i].DiffId, written[i].Size, ChunkPacker.BinName(b), ChunkPacker.Annotation(b))).ToList();
            var config = Config(baseConfig, labels, layers);
            var configBytes = JsonSerializer.SerializeToUtf8Bytes(config, OciJsonContext.Writer.ImageConfig);
            var descriptors = layers.Select(l =>
            {
                var d = Descriptor.Create(LayerStreams.MediaType(o.Compression), l.Digest, l.Size);
                d.Annotations = new Dictionary<string, string> { [ComponentsAnnotation] = l.Components };
                return d;
            }).ToList();
            var manifest = new ImageManifest
            {
                MediaType = MediaTypes.OciManifest,
                Config = Descriptor.Create(MediaTypes.OciConfig, Digest.Sha256(configBytes), configBytes.Length),
                Layers = descriptors,
            };
            var blob = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest), MediaTypes.OciManifest, destination.Reference.ToString());
            await Encapsulator.PublishAsync(destination, descriptors, files, manifest.Config, configBytes, blob, ct).ConfigureAwait(false);
            return new RechunkResult(blob.Digest, layers, map.Components.Count, map.Packages, map.Database);
        }
        finally
        {
            foreach (var f in files.OfType<string>())
            {
                File.Delete(f);
            }
        }
    }

    // A plain layer: the entries of one bin, each preceded by the folders above it that the layer has not written yet.
    private static void WritePlainLayer(RootTree tree, List<RootEntry> entries, Stream output, CancellationToken ct)
    {
        using var tar = new TarWriter(output, leaveOpen: true);
        var dirs = new HashSet<string>(StringComparer.Ordinal);
        var linkFirst = new Dictionary<int, string>();
        foreach (var e in entries)
        {
            ct.ThrowIfCancellationRequested();
            for (int slash = e.Path.IndexOf('/', StringComparison.Ordinal); slash > 0; slash = e.Path.IndexOf('/', slash + 1))
            {
                var dir = e.Path[..slash];
                if (dirs.Add(dir))
                {
                    tar.WriteEntry(ToTar(tree[dir]!));
                }
            }

            if (e.Kind == RootEntryKind.Directory)
            {
                if (dirs.Add(e.Path))
                {
                    tar.WriteEntry(ToTar(e));
                }

                continue;
            }

            var te = ToTar(e);
            if (e.LinkGroup >= 0 && linkFirst.TryGetValue(e.LinkGroup, out var first))
            {
                te.Type = TarType.HardLink;
                te.LinkName = first;
                te.Size = 0;
                tar.WriteEntry(te);
                continue;
            }

            if (e.LinkGroup >= 0)
            {
                linkFirst[e.LinkGroup] = e.Path;
            }

            if (e.Kind == RootEntryKind.Regular)
            {
                using var data = RootTree.OpenRead(e);
                tar.WriteEntry(te, data);
            }
            else
            {
                tar.WriteEntry(te);
            }
        }

        tar.Finish();
    }

    // Folders are written with mtime 0, as ostree keeps them: a folder is in every layer that holds something below
    // it, and its mtime moves whenever anything in it changes, which would change every one of those layers.
    private static TarEntry ToTar(RootEntry e)
    {
        var te = new TarEntry
        {
            Name = e.Kind == RootEntryKind.Directory ? e.Path + "/" : e.Path,
            Type = e.Kind switch
            {
                RootEntryKind.Directory => TarType.Directory,
                RootEntryKind.Symlink => TarType.Symlink,
                RootEntryKind.CharDevice => TarType.CharDevice,
                RootEntryKind.BlockDevice => TarType.BlockDevice,
                RootEntryKind.Fifo => TarType.Fifo,
                _ => TarType.Regular,
            },
            Mode = e.Mode,
            Uid = e.Uid,
            Gid = e.Gid,
            Mtime = e.Kind == RootEntryKind.Directory ? 0 : e.Mtime,
            Size = e.Kind == RootEntryKind.Regular ? e.Size : 0,
            LinkName = e.LinkTarget,
            DevMajor = e.DevMajor,
            DevMinor = e.DevMinor,
        };
        te.Xattrs.AddRange(e.Xattrs);
        return te;
    }

    private static ImageConfig Config(ImageConfig source, Dictionary<string, string> labels, IReadOnlyList<RechunkedLayer> layers)
    {
        var runtime = source.Config ?? new ContainerConfig();
        runtime.Labels ??= new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in labels)
        {
            runtime.Labels[k] = v;
        }

        return new ImageConfig
        {
            Created = source.Created,
            Author = source.Author,
            Architecture = source.Architecture,
            Os = source.Os,
            Variant = source.Variant,
            Config = runtime,
            RootFs = new RootFs { DiffIds = [.. layers.Select(l => l.DiffId.ToString())] },
            History = [.. layers.Select(l => new HistoryEntry { Created = source.Created, CreatedBy = l.Name, Comment = "ostree-sharp container rechunk" })],
            Extra = source.Extra,
        };
    }

    // Format 1: the plain layers written to a scratch layout, imported as a client imports such an image, and that
    // commit encapsulated with its content objects in the bins of their paths' components.
    private static async Task<RechunkResult> WriteChunkedOstreeAsync(RootTree tree, ComponentMap map, List<List<PackComponent>> bins, Dictionary<string, int> binOf, ImageConfig baseConfig, Dictionary<string, string> labels, IImageDestination destination, RechunkOptions o, string work, CancellationToken ct)
    {
        var scratchRef = ImageReference.Parse("oci:" + Path.Combine(work, "plain") + ":rechunk");
        var plainOptions = new RechunkOptions { FormatVersion = 2, MaxLayers = o.MaxLayers, PreviousBuild = null, Compression = LayerCompression.Gzip, CompressionFast = true, TempDirectory = work };
        await using (var scratch = ImageTransports.OpenDestination(scratchRef, new Registry.RegistryOptions()))
        {
            await WriteAsync(tree, baseConfig, scratch, plainOptions, work, ct).ConfigureAwait(false);
        }

        var repoPath = Path.Combine(work, "repo");
        var repo = OstreeRepo.Create(repoPath, RepoMode.BareUser);
        // The scratch image is our own: whatever this machine's containers-policy.json says of other images.
        var policy = Path.Combine(work, "policy.json");
        await File.WriteAllTextAsync(policy, "{\"default\":[{\"type\":\"insecureAcceptAnything\"}]}", ct).ConfigureAwait(false);
        var pulled = await new ImageStore(repo, new ImageStoreOptions { Registry = new Registry.RegistryOptions { PolicyPath = policy } }).PullAsync(new OstreeImageReference(SignaturePolicy.AllowInsecure, null, scratchRef), PullEvents.From(o.Log, null), ct).ConfigureAwait(false);
        var commit = pulled.Image.MergeCommit;
        var objects = bins.Select(_ => new List<Checksum>()).ToList();
        foreach (var (obj, paths) in new OstreeTarExporter(repo).ContentPaths(commit))
        {
            var path = paths.Count > 0 ? paths[0].TrimStart('/') : string.Empty;
            var bin = map.Owners.TryGetValue(path, out var component) ? binOf[component] : bins.Count - 1;
            objects[bin].Add(obj);
        }

        // Layers are staged where the destination keeps blobs (an OCI layout renames them in), else in the scratch repository.
        var encap = new EncapsulateOptions
        {
            Compression = o.Compression,
            CompressionFast = o.CompressionFast,
            Architecture = baseConfig.Architecture,
            BaseConfig = baseConfig.Config,
            Created = baseConfig.Created,
            Chunks = [.. bins.Select((b, i) => (ChunkPacker.BinName(b), ChunkPacker.Annotation(b), objects[i]))],
        };
        foreach (var (k, v) in labels)
        {
            encap.Labels[k] = v;
        }

        var result = await Encapsulator.EncapsulateAsync(repo, commit, destination, encap, ct).ConfigureAwait(false);
        var layers = result.Layers.Select(l => new RechunkedLayer(l.Digest, l.DiffId, l.Size, l.Name, l.Components ?? string.Empty)).ToList();
        return new RechunkResult(result.ManifestDigest, layers, map.Components.Count, map.Packages, map.Database);
    }
}
