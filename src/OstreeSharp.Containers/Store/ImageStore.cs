// The layered-image store inside an ostree repository (ostree-container-format.md 4.3-4.9): layer
// refs under ostree/container/blob/, image refs under ostree/container/image/ pointing at merge
// commits whose metadata records the manifest and config, and layer garbage collection.
using System.Globalization;
using System.Text;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Transports;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Containers.Store;

/// <summary>An image stored in a repository.</summary>
public sealed record StoredImage(string Reference, Checksum MergeCommit, Checksum? BaseCommit, Digest ManifestDigest, ManifestBlob Manifest, string? ConfigJson);

/// <summary>What a pull found and did.</summary>
public sealed record PullReport(StoredImage Image, bool AlreadyPresent, int LayersPresent, int LayersFetched, long BytesFetched)
{
    /// <summary>Layers rebuilt from layer deltas instead of fetched whole.</summary>
    public int LayersFromDeltas { get; init; }
}

/// <summary>What <see cref="ImageStore.Remove"/> did.</summary>
/// <param name="Removed">Images whose ref was removed.</param>
/// <param name="Missing">Images the store did not have.</param>
public sealed record ImageRemoval(int Removed, IReadOnlyList<ImageReference> Missing);

/// <summary>The image store of one repository, the entry type of the containers library for stored images.</summary>
/// <remarks>
/// A pull is two steps, as ostree-ext's importer: <see cref="PrepareAsync"/> fetches the manifest and config and
/// says what the store already has (<see cref="PreparedImage.AlreadyPresent"/>, or the layers to fetch); then
/// <see cref="ImportAsync"/> fetches and imports them. <see cref="PullAsync"/> does both. Progress comes as typed
/// events (<see cref="PullEvent"/>).
/// </remarks>
public sealed class ImageStore
{
    /// <summary>Prefix of image refs.</summary>
    public const string ImagePrefix = "ostree/container/image/";

    /// <summary>Prefix of layer refs.</summary>
    public const string BlobPrefix = "ostree/container/blob/";

    /// <summary>The importer version recorded in merge commits.</summary>
    public const string ImporterVersion = "ostree-sharp-0.1";

    /// <summary>The image ref of a container image reference.</summary>
    public static string ImageRef(ImageReference image) => ImagePrefix + RefEscape.Escape((image ?? throw new ArgumentNullException(nameof(image))).ToString());

    /// <summary>The layer ref of a blob digest.</summary>
    public static string BlobRef(string digest) => BlobPrefix + RefEscape.Escape(digest);

    private readonly RegistryOptions? _registry;
    private readonly bool _useDeltas;

    /// <summary>The image store of <paramref name="repository"/>.</summary>
    public ImageStore(OstreeRepo repository, ImageStoreOptions? options = null)
    {
        Repository = repository ?? throw new ArgumentNullException(nameof(repository));
        Options = options ?? new ImageStoreOptions();
        _registry = Options.Registry;
        _useDeltas = Options.UseDeltas;
    }

    /// <summary>The repository holding the images.</summary>
    public OstreeRepo Repository { get; }

    /// <summary>How images are fetched.</summary>
    public ImageStoreOptions Options { get; }

    /// <summary>The stored image references, as displayed (<c>docker://...</c>, <c>oci:...</c>).</summary>
    public IReadOnlyList<string> List()
        => [.. Repository.ListRefs(ImagePrefix, includeRemotes: false).Keys.Select(k => RefEscape.Unescape(k.StartsWith(ImagePrefix, StringComparison.Ordinal) ? k[ImagePrefix.Length..] : k))];

    /// <summary>The stored image for <paramref name="image"/>, or null.</summary>
    public StoredImage? Query(ImageReference image)
    {
        var merge = Repository.ResolveRev(ImageRef(image), allowMissing: true);
        return merge is { } m ? Load(Repository, image.ToString(), m) : null;
    }

    /// <summary>ostree-ext's keys, in the detached metadata of a stored image's merge commit, of an update found but not pulled.</summary>
    private const string CachedDigestKey = "ostree-ext.cached.manifest-digest", CachedManifestKey = "ostree-ext.cached.manifest", CachedConfigKey = "ostree-ext.cached.config";

    /// <summary>
    /// Records a prepared image that differs from the one stored under its reference as that one's cached update, in
    /// the detached metadata of its merge commit with ostree-ext's keys (bootc's status shows it offline afterwards,
    /// <see cref="CachedUpdate"/> reads it). Returns false, writing nothing, when there is no stored image or it is
    /// the same.
    /// </summary>
    public bool RecordCachedUpdate(PreparedImage prepared)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        if (prepared.Previous is not { } stored || prepared.AlreadyPresent)
        {
            return false;
        }

        var layout = prepared.Layout;
        var meta = GVariantValue.FromVarDict(
        [
            KeyValuePair.Create(CachedDigestKey, GVariantValue.FromString(layout.Manifest.Digest.ToString())),
            KeyValuePair.Create(CachedManifestKey, GVariantValue.FromString(Encoding.UTF8.GetString(layout.Manifest.Bytes))),
            KeyValuePair.Create(CachedConfigKey, GVariantValue.FromString(Encoding.UTF8.GetString(layout.ConfigBytes))),
        ]);
        using var tx = Repository.BeginTransaction();
        tx.WriteCommitDetachedMetadata(stored.MergeCommit, meta);
        tx.Commit();
        return true;
    }

    /// <summary>The update recorded by <see cref="RecordCachedUpdate"/> (or ostree-ext) on a merge commit: digest and config JSON; null when none.</summary>
    public (Digest Digest, string ConfigJson)? CachedUpdate(Checksum merge)
    {
        var meta = Repository.LoadDetachedMetadata(merge);
        if (meta?.Lookup(CachedDigestKey) is not { Type.Kind: 's' } digest || meta.Lookup(CachedConfigKey) is not { Type.Kind: 's' } config)
        {
            return null;
        }

        return (Digest.Parse(digest.GetString()), config.GetString());
    }

    /// <summary>
    /// The image whose merge commit is <paramref name="merge"/> (a deployment's commit), named <paramref name="reference"/>;
    /// null when that commit records no manifest (it was not imported from an image).
    /// </summary>
    public StoredImage? QueryCommit(Checksum merge, string reference)
    {
        var commit = Repository.LoadCommit(merge);
        return commit.Metadata.Lookup("ostree.manifest-digest") is null ? null : Load(Repository, reference, merge, commit);
    }

    private static StoredImage Load(OstreeRepo repo, string reference, Checksum merge) => Load(repo, reference, merge, repo.LoadCommit(merge));

    private static StoredImage Load(OstreeRepo repo, string reference, Checksum merge, Commit commit)
    {
        string Meta(string key) => commit.Metadata.Lookup(key) is { Type.Kind: 's' } v ? v.GetString() : throw new ContainerException(OstreeErrorCode.ObjectNotFound, $"Missing {key} metadata on merge commit {merge}");
        var digest = Digest.Parse(Meta("ostree.manifest-digest"));
        var manifest = new ManifestBlob(Encoding.UTF8.GetBytes(Meta("ostree.manifest")), null, reference);
        var config = commit.Metadata.Lookup("ostree.container.image-config") is { Type.Kind: 's' } c && c.GetString() != "null" ? c.GetString() : null;
        var layers = manifest.AsManifest().Layers;
        var baseCommit = layers.Count > 0 ? repo.ResolveRev(BlobRef(layers[0].Digest), allowMissing: true) : null;
        return new StoredImage(reference, merge, baseCommit, digest, manifest, config);
    }

    /// <summary>
    /// Pulls <paramref name="image"/> into the store: <see cref="PrepareAsync"/>, then, unless the store has it
    /// already, <see cref="ImportAsync"/>.
    /// </summary>
    public async Task<PullReport> PullAsync(OstreeImageReference image, IProgress<PullEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        await using var prepared = await PrepareAsync(image, cancellationToken).ConfigureAwait(false);
        return await ImportAsync(prepared, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Fetches <paramref name="image"/>'s manifest and config (verified against the signature policy), not its layers,
    /// and compares with the store: which layers it has, and whether it has this very image under this reference.
    /// Dispose the result (it holds the connection to the image's source).
    /// </summary>
    public async Task<PreparedImage> PrepareAsync(OstreeImageReference image, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        Unencapsulator.CheckPolicyPreconditions(Repository, image);
        var source = ContainerPolicy.OpenSource(image, _registry);
        try
        {
            var layout = await Unencapsulator.FetchLayoutAsync(source, cancellationToken).ConfigureAwait(false);
            var previous = Query(image.Image);
            bool Has(Descriptor d) => Repository.ResolveRev(BlobRef(d.Digest), allowMissing: true) is not null;
            IReadOnlyList<PullLayer> layers =
            [
                .. layout.ChunkLayers.Select(c => new PullLayer(c.Digest, c.Size, Has(c), OstreeChunk: true)),
                .. layout.OstreeLayer is { } l ? [new PullLayer(l.Digest, l.Size, Has(l), OstreeChunk: true)] : Array.Empty<PullLayer>(),
                .. layout.DerivedLayers.Select(d => new PullLayer(d.Digest, d.Size, Has(d), OstreeChunk: false)),
            ];
            return new PreparedImage(this, image, source, layout, previous, layers);
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Imports a prepared image: layers not yet present are fetched and imported (each verified), a merge commit
    /// records the manifest and config, the image ref moves last, then unreferenced layer refs are removed. With
    /// <see cref="ImageStoreOptions.UseDeltas"/>, a layer for which the registry has a delta from the image stored under
    /// the same reference is rebuilt from that delta when it can be; a missing, corrupt or inapplicable delta falls back
    /// to the full layer. An image the store has already is only reported. A prepared image is imported once.
    /// </summary>
    public async Task<PullReport> ImportAsync(PreparedImage prepared, IProgress<PullEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        if (prepared.Store != this)
        {
            throw new ArgumentException("The image was prepared by another image store", nameof(prepared));
        }

        var source = prepared.Source;
        if (prepared.Consumed)
        {
            throw new InvalidOperationException($"{prepared.Image} was imported already");
        }

        prepared.Consumed = true;
        try
        {
            return await ImportPreparedAsync(prepared, source, progress, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Not imported: the caller may try again with the same prepared image (after a dropped connection, say).
            prepared.Consumed = false;
            throw;
        }
    }

    private async Task<PullReport> ImportPreparedAsync(PreparedImage prepared, IImageSource source, IProgress<PullEvent>? progress, CancellationToken cancellationToken)
    {
        var repo = Repository;
        var image = prepared.Image;
        var layout = prepared.Layout;
        var previous = prepared.Previous;
        var events = new PullEvents(progress);
        if (prepared.AlreadyPresent)
        {
            // Nothing to write, so no transaction clears what a killed pull left: this one does.
            repo.CleanStaleTransactions();
            return new PullReport(previous!, AlreadyPresent: true, layout.Parsed.Layers.Count, 0, 0);
        }

        if (prepared.Diff is { } diff)
        {
            events.Message(diff.ToString().TrimEnd('\n'));
        }

        if (layout.DerivedLayers.Count > 0 && image.Policy == SignaturePolicy.OstreeRemote)
        {
            // The ostree commit is verified; derived layers are not covered by it (spec 5.3).
            events.Message($"Note: the {layout.DerivedLayers.Count} derived layer(s) of {image} are not covered by the ostree signature");
        }

        try
        {
            var deltas = _useDeltas && previous is not null ? await FindDeltasAsync(source, previous, layout, events, cancellationToken).ConfigureAwait(false) : null;
            return await PullLayersAsync(prepared, deltas, events, cancellationToken).ConfigureAwait(false);
        }
        catch (OstreeException e) when (e is not RegistryException { IsTransient: true })
        {
            // Bad input: drop the layer refs this pull left that no image uses (a dropped connection keeps them, so
            // the next pull resumes at layer granularity).
            PruneLayers();
            throw;
        }
    }

    // The layer deltas from the stored image to this one, by target layer, with the diff-id each must rebuild.
    private async Task<Dictionary<string, LayerDeltaInput>?> FindDeltasAsync(IImageSource source, StoredImage previous, OstreeImageLayout layout, PullEvents events, CancellationToken ct)
    {
        IReadOnlyDictionary<string, Descriptor> found;
        try
        {
            found = await Deltas.ContainerDeltas.FindAsync(source, previous.ManifestDigest, layout.Manifest.Digest, _registry, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OstreeException or IOException or HttpRequestException or System.Text.Json.JsonException)
        {
            events.Message($"No delta used: {e.Message}");
            return null;
        }

        var result = new Dictionary<string, LayerDeltaInput>(StringComparer.Ordinal);
        for (int i = 0; i < layout.Parsed.Layers.Count && i < layout.Config.RootFs.DiffIds.Count; i++)
        {
            var layer = layout.Parsed.Layers[i];
            if (found.TryGetValue(layer.Digest, out var delta) && Digest.TryParse(layout.Config.RootFs.DiffIds[i], out var diffId))
            {
                result[layer.Digest] = new LayerDeltaInput(delta, diffId);
            }
        }

        if (result.Count > 0)
        {
            events.Message($"Delta from {previous.ManifestDigest}: {result.Count} layer deltas ({SizeFormat.Format(result.Values.Sum(d => d.Blob.Size))})");
        }

        return result;
    }

    // Imports a layer from its delta; on any failure of the delta (not of the network's cancellation) says why and
    // returns false, so the caller fetches the layer itself.
    private static async Task<bool> TryDeltaAsync(Descriptor layer, LayerDeltaInput? delta, Func<LayerDeltaInput, Task> import, PullEvents events)
    {
        if (delta is null)
        {
            return false;
        }

        try
        {
            await import(delta).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is OstreeException or IOException or InvalidDataException && e is not RegistryException { IsTransient: true })
        {
            events.Message($"Delta {Short(delta.Blob.Digest)} for layer {Short(layer.Digest)} not used ({e.Message}); fetching the layer");
            return false;
        }
    }

    private async Task<PullReport> PullLayersAsync(PreparedImage prepared, Dictionary<string, LayerDeltaInput>? deltas, PullEvents events, CancellationToken cancellationToken)
    {
        var repo = Repository;
        var (image, source, layout) = (prepared.Image, prepared.Source, prepared.Layout);
        // By digest: an image may list the same layer twice (empty layers), which is imported as often as listed.
        var planned = new Dictionary<string, PullLayer>(StringComparer.Ordinal);
        foreach (var l in prepared.Layers)
        {
            planned.TryAdd(l.Digest, l);
        }

        int fromDeltas = 0;
        var layer = layout.OstreeLayer;
        var baseCommit = layer is null ? null : repo.ResolveRev(BlobRef(layer.Digest), allowMissing: true);
        var derived = layout.DerivedLayers.Select(l => (Layer: l, Commit: repo.ResolveRev(BlobRef(l.Digest), allowMissing: true))).ToList();
        var chunks = layout.ChunkLayers.Select(l => (Layer: l, Commit: repo.ResolveRev(BlobRef(l.Digest), allowMissing: true))).ToList();
        int baseLayers = layer is null ? 0 : 1;
        int present = (baseCommit is null ? 0 : baseLayers) + derived.Count(d => d.Commit is not null) + chunks.Count(c => c.Commit is not null);
        int needed = baseLayers + derived.Count + chunks.Count - present;
        long neededBytes = (layer is not null && baseCommit is null ? layer.Size : 0) + derived.Concat(chunks).Where(d => d.Commit is null).Sum(d => d.Layer.Size);
        events.Message($"layers already present: {present}; layers needed: {needed} ({SizeFormat.Format(neededBytes)})");
        events.Report(new PullPlanned(layout.Manifest.Digest, prepared.Layers));
        // Chunk layers in parallel (each in its own transaction); the ostree layer, which needs their objects, after them.
        await Parallel.ForEachAsync(
            chunks.Where(c => c.Commit is null).Select(c => c.Layer),
            new ParallelOptions { MaxDegreeOfParallelism = 3, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                var delta = deltas?.GetValueOrDefault(chunk.Digest);
                var pl = planned[chunk.Digest];
                events.Report(new PullLayerStarted(pl, FromDelta: delta is not null));

                if (await TryDeltaAsync(chunk, delta, d => Unencapsulator.ImportChunkAsync(repo, source, chunk, BlobRef(chunk.Digest), null, d, ct), events).ConfigureAwait(false))
                {
                    events.Message($"Rebuilt ostree chunk {Short(chunk.Digest)} from a {SizeFormat.Format(delta!.Blob.Size)} delta");
                    events.Fetched(delta.Blob.Size);
                    Interlocked.Increment(ref fromDeltas);
                    events.Report(new PullLayerDone(pl, FromDelta: true));
                    return;
                }

                events.Message($"Fetching ostree chunk {Short(chunk.Digest)} ({SizeFormat.Format(chunk.Size)})");
                await Unencapsulator.ImportChunkAsync(repo, source, chunk, BlobRef(chunk.Digest), null, null, ct).ConfigureAwait(false);
                events.Fetched(chunk.Size);
                events.Report(new PullLayerDone(pl, FromDelta: false));
            }).ConfigureAwait(false);

        if (layer is not null && baseCommit is null)
        {
            var blobRef = BlobRef(layer.Digest);
            var delta = deltas?.GetValueOrDefault(layer.Digest);
            var pl = planned[layer.Digest];
            Checksum? rebuilt = null;
            bool viaDelta = false;
            events.Report(new PullLayerStarted(pl, FromDelta: delta is not null));

            if (await TryDeltaAsync(layer, delta, async d => rebuilt = await Unencapsulator.ImportOstreeLayerAsync(repo, source, layout, image, blobRef, events.Within(), d, cancellationToken).ConfigureAwait(false), events).ConfigureAwait(false))
            {
                long deltaSize = delta!.Blob.Size;
                events.Message($"Rebuilt ostree layer {Short(layer.Digest)} from a {SizeFormat.Format(deltaSize)} delta");
                baseCommit = rebuilt ?? throw new InvalidOperationException("delta import returned no commit");
                events.Fetched(deltaSize);
                fromDeltas++;
                viaDelta = true;
            }
            else
            {
                events.Message($"Fetching ostree chunk {Short(layer.Digest)} ({SizeFormat.Format(layer.Size)})");
                baseCommit = await Unencapsulator.ImportOstreeLayerAsync(repo, source, layout, image, blobRef, events.Within(), null, cancellationToken).ConfigureAwait(false);
                events.Fetched(layer.Size);
            }

            events.Report(new PullLayerDone(pl, viaDelta));
        }

        // Derived layers (every layer of an image without an ostree commit), each committed on its own, two at a
        // time; an image without a base is taken to have a transient (composefs) root, as ostree-ext does, so its
        // top-level folders other than usr, etc and var are kept.
        bool overlayRoot = baseCommit is null || (derived.Count > 0 && UsesOverlayRoot(repo, baseCommit.Value));
        var dropped = new IReadOnlyDictionary<string, int>?[derived.Count];
        var layerCommits = derived.Select(d => d.Commit).ToArray();
        await Parallel.ForEachAsync(
            Enumerable.Range(0, derived.Count).Where(i => derived[i].Commit is null),
            new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var l = derived[i].Layer;
                var pl = planned[l.Digest];
                events.Message($"Fetching layer {Short(l.Digest)} ({SizeFormat.Format(l.Size)})");
                events.Report(new PullLayerStarted(pl, FromDelta: false));
                var (imported, filteredPaths) = await LayerMerge.ImportAsync(repo, source, l, BlobRef(l.Digest), overlayRoot, ct).ConfigureAwait(false);
                layerCommits[i] = imported;
                dropped[i] = filteredPaths;
                events.Fetched(l.Size);
                events.Report(new PullLayerDone(pl, FromDelta: false));
            }).ConfigureAwait(false);

        // What the filtering dropped is reported, not recorded: the merge commit must not depend on which layers this
        // host happened to fetch (ostree-ext keeps no such key either).
        foreach (var d in dropped)
        {
            if (d is { Count: > 0 })
            {
                events.Message("Image contains non-ostree compatible file paths: " + string.Join(' ', d.Select(kv => $"{kv.Key}: {kv.Value}")));
            }
        }

        var layerRefs = derived.Select((d, i) => (Ref: BlobRef(d.Layer.Digest), Commit: layerCommits[i]!.Value)).ToList();
        var (merge, relabelled) = WriteMergeCommit(repo, image.Image, layout, baseCommit, layerRefs);
        PruneLayers();
        if (relabelled > 0)
        {
            // The layers' unlabelled objects are now used by nothing (the layer refs moved to the relabelled commits).
            var pruned = Prune.Run(repo, new PruneOptions { RefsOnly = true });
            events.Message($"Relabelled {relabelled} layer(s) with the image's SELinux policy; pruned {pruned.Deleted} unlabelled objects");
        }

        return new PullReport(Load(repo, image.Image.ToString(), merge), AlreadyPresent: false, present, needed, events.Total) { LayersFromDeltas = fromDeltas };
    }

    private static string Short(string digest) => digest[..Math.Min(digest.Length, 19)];

    // Base images with a transient or composefs root keep top-level folders other than usr, etc and var.
    private static bool UsesOverlayRoot(OstreeRepo repo, Checksum baseCommit)
    {
        var c = repo.LoadCommit(baseCommit);
        foreach (var path in new[] { "/usr/etc/ostree/prepare-root.conf", "/usr/lib/ostree/prepare-root.conf" })
        {
            if (TreeLookupFile(repo, c, path) is not { } file)
            {
                continue;
            }

            var conf = KeyFile.Parse(System.Text.Encoding.UTF8.GetString(ReadAll(repo, file)), path);
            return string.Equals(conf.Get("root", "transient"), "true", StringComparison.OrdinalIgnoreCase)
                || conf.Get("composefs", "enabled") is "yes" or "true" or "1" or "maybe" or "signed";
        }

        return false;
    }

    private static Checksum? TreeLookupFile(OstreeRepo repo, Commit commit, string path)
    {
        var tree = repo.LoadDirTree(commit.RootTree);
        var parts = path.Trim('/').Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
        {
            var d = tree.Dirs.FirstOrDefault(x => x.Name == parts[i]);
            if (d is null)
            {
                return null;
            }

            tree = repo.LoadDirTree(d.TreeChecksum);
        }

        var f = tree.Files.FirstOrDefault(x => x.Name == parts[^1]);
        return f?.Checksum;
    }

    private static byte[] ReadAll(OstreeRepo repo, Checksum file)
    {
        var content = repo.LoadContent(file);
        using var s = content.OpenData();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    // The merge commit: the layers over the base (or over nothing), labelled from the policy of the merged tree when
    // there are derived layers, and the layer commits relabelled with that policy so that they share the merge's
    // objects, as ostree-ext does. Returns the merge commit and how many layer commits were relabelled.
    private static (Checksum Merge, int Relabelled) WriteMergeCommit(OstreeRepo repo, ImageReference image, OstreeImageLayout layout, Checksum? baseCommit, IReadOnlyList<(string Ref, Checksum Commit)> layers)
    {
        using var tx = repo.BeginTransaction();
        Checksum rootTree, rootMeta;
        int relabelled = 0;
        if (layers.Count == 0)
        {
            var b = repo.LoadCommit(baseCommit ?? throw new ContainerException(OstreeErrorCode.ObjectNotFound, $"Image {image} has no layers"));
            (rootTree, rootMeta) = (b.RootTree, b.RootMeta);
        }
        else
        {
            var merged = LayerMerge.Merge(repo, tx, baseCommit, [.. layers.Select(l => l.Commit)]);
            (rootTree, rootMeta) = (merged.Tree, merged.Meta);
            if (merged.Policy.Contexts is not null)
            {
                foreach (var (layerRef, layerCommit) in layers)
                {
                    if (LayerMerge.Relabel(repo, tx, layerCommit, merged.Policy) is { } relabelledCommit)
                    {
                        tx.SetRef(layerRef, relabelledCommit);
                        relabelled++;
                    }
                }
            }
        }

        var metadata = GVariantValue.FromVarDict(
        [
            new("ostree.manifest-digest", GVariantValue.FromString(layout.Manifest.Digest.ToString())),
            new("ostree.manifest", GVariantValue.FromString(Encoding.UTF8.GetString(layout.Manifest.Bytes))),
            new("ostree.container.image-config", GVariantValue.FromString(Encoding.UTF8.GetString(layout.ConfigBytes))),
            new("ostree.importer.version", GVariantValue.FromString(ImporterVersion)),
        ]);
        var when = CreatedTime(layout);
        // The base commit is the merge commit's parent (bootc since 1.10): ostree-prepare-root checks a signed
        // composefs deployment of an image against the signature and composefs digest of that base commit.
        var commit = new Commit(metadata, baseCommit, string.Empty, string.Empty, (ulong)when.ToUnixTimeSeconds(), rootTree, rootMeta);
        var id = tx.WriteMetadata(ObjectType.Commit, commit.ToBytes());
        tx.SetRef(ImageRef(image), id);
        tx.Commit();
        return (id, relabelled);
    }

    private static DateTimeOffset CreatedTime(OstreeImageLayout layout)
    {
        foreach (var text in new[] { layout.Parsed.Annotations?.GetValueOrDefault("org.opencontainers.image.created"), layout.Config.Created })
        {
            if (text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
            {
                return t;
            }
        }

        return DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// Removes layer refs no stored image (nor deployment, rpm-ostree base or base image commit) uses; returns
    /// how many. Objects are not pruned.
    /// </summary>
    public int PruneLayers()
    {
        var repo = Repository;
        var keep = new HashSet<string>(StringComparer.Ordinal);
        void AddManifestLayers(Checksum commit)
        {
            var c = repo.LoadCommit(commit);
            if (c.Metadata.Lookup("ostree.manifest") is { Type.Kind: 's' } m)
            {
                try
                {
                    foreach (var l in new ManifestBlob(Encoding.UTF8.GetBytes(m.GetString()), null, commit.ToHex()).AsManifest().Layers)
                    {
                        keep.Add(BlobRef(l.Digest));
                    }
                }
                catch (ManifestException)
                {
                    // A commit with a malformed manifest protects nothing.
                }
            }
        }

        foreach (var prefix in new[] { ImagePrefix, "ostree/0/", "ostree/1/", "rpmostree/base/", "ostree/container/baseimage/" })
        {
            foreach (var (_, commit) in repo.ListRefs(prefix, includeRemotes: false))
            {
                AddManifestLayers(commit);
            }
        }

        int removed = 0;
        foreach (var name in repo.ListRefs(BlobPrefix, includeRemotes: false).Keys)
        {
            var full = name.StartsWith(BlobPrefix, StringComparison.Ordinal) ? name : BlobPrefix + name;
            if (!keep.Contains(full))
            {
                repo.SetRefImmediate(full, null);
                removed++;
            }
        }

        return removed;
    }

    /// <summary>
    /// Removes the refs of stored images; layers and objects stay (<see cref="PruneLayers"/> removes the layers no
    /// image uses). The images the store does not have are listed in the result, the others removed all the same.
    /// </summary>
    public ImageRemoval Remove(IReadOnlyList<ImageReference> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var missing = new List<ImageReference>();
        int removed = 0;
        foreach (var image in images)
        {
            var r = ImageRef(image);
            if (Repository.ResolveRev(r, allowMissing: true) is null)
            {
                missing.Add(image);
                continue;
            }

            Repository.SetRefImmediate(r, null);
            removed++;
        }

        return new ImageRemoval(removed, missing);
    }

    /// <summary>
    /// Copies a stored image to another store: its layer commits and merge commit (every object verified), then its
    /// image ref (under <paramref name="destImage"/> when given).
    /// </summary>
    public void CopyTo(ImageStore destination, ImageReference image, ImageReference? destImage = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(image);
        var stored = Query(image) ?? throw new ContainerException(OstreeErrorCode.ImageNotFound, $"No such image: {image}");
        var refs = stored.Manifest.AsManifest().Layers.Select(l => BlobRef(l.Digest)).Where(r => Repository.ResolveRev(r, allowMissing: true) is not null).Distinct(StringComparer.Ordinal).ToList();
        refs.Add(ImageRef(image));
        PullLocal.Run(Repository, destination.Repository, refs, null);
        if (destImage is not null && destImage != image)
        {
            destination.Repository.SetRefImmediate(ImageRef(destImage), stored.MergeCommit);
            destination.Repository.SetRefImmediate(ImageRef(image), null);
        }
    }
}
