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

/// <summary>What the registry has for an image, fetched without its layers (<c>bootc upgrade --check</c>).</summary>
public sealed record ImageCheck(Digest ManifestDigest, ImageManifest Manifest, ImageConfig Config, StoredImage? Stored)
{
    /// <summary>The store has this manifest under the same reference already.</summary>
    public bool AlreadyPresent => Stored is not null && Stored.ManifestDigest == ManifestDigest;
}

/// <summary>A layer of a pull, as <see cref="IPullObserver"/> sees it.</summary>
public sealed record PullLayer(string Digest, long Size, bool Present, bool OstreeChunk);

/// <summary>
/// Passed as a pull's byte progress, also told which layers the pull has to fetch and when each is done (bootc's
/// <c>--progress-fd</c> reports by layer).
/// </summary>
public interface IPullObserver
{
    /// <summary>The manifest is fetched: these are its layers, and which of them the store has.</summary>
    void Planned(string manifestDigest, IReadOnlyList<PullLayer> layers);

    /// <summary>A layer is imported.</summary>
    void LayerDone(string digest);
}

/// <summary>The image store.</summary>
public static class ImageStore
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

    /// <summary>The stored image references, as displayed (<c>docker://...</c>, <c>oci:...</c>).</summary>
    public static IReadOnlyList<string> List(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        return [.. repo.ListRefs(ImagePrefix, includeRemotes: false).Keys.Select(k => RefEscape.Unescape(k.StartsWith(ImagePrefix, StringComparison.Ordinal) ? k[ImagePrefix.Length..] : k))];
    }

    /// <summary>The stored image for <paramref name="image"/>, or null.</summary>
    public static StoredImage? Query(OstreeRepo repo, ImageReference image)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var merge = repo.ResolveRev(ImageRef(image), allowMissing: true);
        return merge is { } m ? Load(repo, image.ToString(), m) : null;
    }

    /// <summary>ostree-ext's keys, in the detached metadata of a stored image's merge commit, of an update found but not pulled.</summary>
    private const string CachedDigestKey = "ostree-ext.cached.manifest-digest", CachedManifestKey = "ostree-ext.cached.manifest", CachedConfigKey = "ostree-ext.cached.config";

    /// <summary>
    /// Fetches <paramref name="image"/>'s manifest and config, not its layers, and compares with the store. A newer
    /// image than the stored one is recorded as that one's cached update, in the detached metadata of its merge commit
    /// with ostree-ext's keys (bootc's status shows it offline afterwards).
    /// </summary>
    public static async Task<ImageCheck> CheckAsync(OstreeRepo repo, OstreeImageReference image, RegistryOptions? registry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(image);
        await using var source = ContainerPolicy.OpenSource(image, registry);
        var layout = await Unencapsulator.FetchLayoutAsync(source, cancellationToken).ConfigureAwait(false);
        var check = new ImageCheck(layout.Manifest.Digest, layout.Parsed, layout.Config, Query(repo, image.Image));
        if (check.Stored is { } stored && !check.AlreadyPresent)
        {
            var meta = GVariantValue.FromVarDict(
            [
                KeyValuePair.Create(CachedDigestKey, GVariantValue.FromString(layout.Manifest.Digest.ToString())),
                KeyValuePair.Create(CachedManifestKey, GVariantValue.FromString(Encoding.UTF8.GetString(layout.Manifest.Bytes))),
                KeyValuePair.Create(CachedConfigKey, GVariantValue.FromString(Encoding.UTF8.GetString(layout.ConfigBytes))),
            ]);
            using var tx = repo.BeginTransaction();
            tx.WriteCommitDetachedMetadata(stored.MergeCommit, meta);
            tx.Commit();
        }

        return check;
    }

    /// <summary>The update recorded by <see cref="CheckAsync"/> (or ostree-ext) on a merge commit: digest and config JSON; null when none.</summary>
    public static (Digest Digest, string ConfigJson)? CachedUpdate(OstreeRepo repo, Checksum merge)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var meta = repo.LoadDetachedMetadata(merge);
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
    public static StoredImage? QueryCommit(OstreeRepo repo, Checksum merge, string reference)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var commit = repo.LoadCommit(merge);
        return commit.Metadata.Lookup("ostree.manifest-digest") is null ? null : Load(repo, reference, merge, commit);
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
    /// Pulls <paramref name="image"/> into the store: layers not yet present are fetched and imported (each
    /// verified), a merge commit records the manifest and config, the image ref moves last, then unreferenced
    /// layer refs are removed.
    /// </summary>
    public static async Task<PullReport> PullAsync(OstreeRepo repo, OstreeImageReference image, RegistryOptions? registry = null, Action<string>? log = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
        => (await PullAsync(repo, image, registry, log, progress, checkOnly: null, useDeltas: true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>
    /// As <see cref="PullAsync(OstreeRepo, OstreeImageReference, RegistryOptions?, Action{string}?, IProgress{long}?, CancellationToken)"/>;
    /// with <paramref name="checkOnly"/>, nothing is fetched: when the image changed, its manifest JSON is written to
    /// that file and null is returned. With <paramref name="useDeltas"/>, a layer for which the registry has a delta
    /// from the image stored under the same reference is rebuilt from that delta (and the objects kept) when it can be;
    /// a missing, corrupt or inapplicable delta falls back to the full layer.
    /// </summary>
    public static async Task<PullReport?> PullAsync(OstreeRepo repo, OstreeImageReference image, RegistryOptions? registry, Action<string>? log, IProgress<long>? progress, string? checkOnly, bool useDeltas, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(image);
        Unencapsulator.CheckPolicyPreconditions(repo, image);
        await using var source = ContainerPolicy.OpenSource(image, registry);
        var layout = await Unencapsulator.FetchLayoutAsync(source, cancellationToken).ConfigureAwait(false);
        var previous = Query(repo, image.Image);
        if (previous is not null && previous.ManifestDigest == layout.Manifest.Digest)
        {
            // Nothing to write, so no transaction clears what a killed pull left: this one does.
            repo.CleanStaleTransactions();
            return new PullReport(previous, AlreadyPresent: true, layout.Parsed.Layers.Count, 0, 0);
        }

        if (previous is not null)
        {
            log?.Invoke(ManifestDiff.Compute(previous.Manifest.AsManifest(), layout.Parsed).ToString().TrimEnd('\n'));
        }

        if (checkOnly is not null)
        {
            FileUtil.WriteAtomic(checkOnly, layout.Manifest.Bytes, fsync: false);
            return null;
        }

        if (layout.DerivedLayers.Count > 0 && image.Policy == SignaturePolicy.OstreeRemote)
        {
            // The ostree commit is verified; derived layers are not covered by it (spec 5.3).
            log?.Invoke($"Note: the {layout.DerivedLayers.Count} derived layer(s) of {image} are not covered by the ostree signature");
        }

        try
        {
            var deltas = useDeltas && previous is not null ? await FindDeltasAsync(source, previous, layout, registry, log, cancellationToken).ConfigureAwait(false) : null;
            return await PullLayersAsync(repo, image, source, layout, deltas, log, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (OstreeException e) when (e is not RegistryException { IsTransient: true })
        {
            // Bad input: drop the layer refs this pull left that no image uses (a dropped connection keeps them, so
            // the next pull resumes at layer granularity).
            PruneLayers(repo);
            throw;
        }
    }

    // The layer deltas from the stored image to this one, by target layer, with the diff-id each must rebuild.
    private static async Task<Dictionary<string, LayerDeltaInput>?> FindDeltasAsync(IImageSource source, StoredImage previous, OstreeImageLayout layout, RegistryOptions? registry, Action<string>? log, CancellationToken ct)
    {
        IReadOnlyDictionary<string, Descriptor> found;
        try
        {
            found = await Deltas.ContainerDeltas.FindAsync(source, previous.ManifestDigest, layout.Manifest.Digest, registry, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OstreeException or IOException or HttpRequestException or System.Text.Json.JsonException)
        {
            log?.Invoke($"No delta used: {e.Message}");
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
            log?.Invoke($"Delta from {previous.ManifestDigest}: {result.Count} layer deltas ({SizeFormat.Format(result.Values.Sum(d => d.Blob.Size))})");
        }

        return result;
    }

    // Imports a layer from its delta; on any failure of the delta (not of the network's cancellation) says why and
    // returns false, so the caller fetches the layer itself.
    private static async Task<bool> TryDeltaAsync(Descriptor layer, LayerDeltaInput? delta, Func<LayerDeltaInput, Task> import, Action<string>? log)
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
            log?.Invoke($"Delta {Short(delta.Blob.Digest)} for layer {Short(layer.Digest)} not used ({e.Message}); fetching the layer");
            return false;
        }
    }

    private static async Task<PullReport> PullLayersAsync(OstreeRepo repo, OstreeImageReference image, IImageSource source, OstreeImageLayout layout, Dictionary<string, LayerDeltaInput>? deltas, Action<string>? log, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        int fromDeltas = 0;
        var layer = layout.OstreeLayer;
        var baseCommit = layer is null ? null : repo.ResolveRev(BlobRef(layer.Digest), allowMissing: true);
        var derived = layout.DerivedLayers.Select(l => (Layer: l, Commit: repo.ResolveRev(BlobRef(l.Digest), allowMissing: true))).ToList();
        var chunks = layout.ChunkLayers.Select(l => (Layer: l, Commit: repo.ResolveRev(BlobRef(l.Digest), allowMissing: true))).ToList();
        int baseLayers = layer is null ? 0 : 1;
        int present = (baseCommit is null ? 0 : baseLayers) + derived.Count(d => d.Commit is not null) + chunks.Count(c => c.Commit is not null);
        int needed = baseLayers + derived.Count + chunks.Count - present;
        long neededBytes = (layer is not null && baseCommit is null ? layer.Size : 0) + derived.Concat(chunks).Where(d => d.Commit is null).Sum(d => d.Layer.Size);
        log?.Invoke($"layers already present: {present}; layers needed: {needed} ({SizeFormat.Format(neededBytes)})");
        var observer = progress as IPullObserver;
        observer?.Planned(
            layout.Manifest.Digest.ToString(),
            [.. chunks.Select(c => new PullLayer(c.Layer.Digest, c.Layer.Size, c.Commit is not null, OstreeChunk: true))
                .Concat(layer is null ? [] : [new PullLayer(layer.Digest, layer.Size, baseCommit is not null, OstreeChunk: true)])
                .Concat(derived.Select(d => new PullLayer(d.Layer.Digest, d.Layer.Size, d.Commit is not null, OstreeChunk: false)))]);
        long fetched = 0;
        // Chunk layers in parallel (each in its own transaction); the ostree layer, which needs their objects, after them.
        var logLock = new Lock();
        void Logged(string line)
        {
            lock (logLock)
            {
                log?.Invoke(line);
            }
        }

        await Parallel.ForEachAsync(
            chunks.Where(c => c.Commit is null).Select(c => c.Layer),
            new ParallelOptions { MaxDegreeOfParallelism = 3, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                var delta = deltas?.GetValueOrDefault(chunk.Digest);
                if (await TryDeltaAsync(chunk, delta, d => Unencapsulator.ImportChunkAsync(repo, source, chunk, BlobRef(chunk.Digest), null, d, ct), Logged).ConfigureAwait(false))
                {
                    Logged($"Rebuilt ostree chunk {Short(chunk.Digest)} from a {SizeFormat.Format(delta!.Blob.Size)} delta");
                    Interlocked.Add(ref fetched, delta.Blob.Size);
                    Interlocked.Increment(ref fromDeltas);
                    progress?.Report(Interlocked.Read(ref fetched));
                    observer?.LayerDone(chunk.Digest);
                    return;
                }

                Logged($"Fetching ostree chunk {Short(chunk.Digest)} ({SizeFormat.Format(chunk.Size)})");
                await Unencapsulator.ImportChunkAsync(repo, source, chunk, BlobRef(chunk.Digest), null, null, ct).ConfigureAwait(false);
                Interlocked.Add(ref fetched, chunk.Size);
                progress?.Report(Interlocked.Read(ref fetched));
                observer?.LayerDone(chunk.Digest);
            }).ConfigureAwait(false);

        if (layer is not null && baseCommit is null)
        {
            var blobRef = BlobRef(layer.Digest);
            var delta = deltas?.GetValueOrDefault(layer.Digest);
            Checksum? rebuilt = null;
            if (await TryDeltaAsync(layer, delta, async d => rebuilt = await Unencapsulator.ImportOstreeLayerAsync(repo, source, layout, image, blobRef, progress, d, cancellationToken).ConfigureAwait(false), log).ConfigureAwait(false))
            {
                long deltaSize = delta!.Blob.Size;
                log?.Invoke($"Rebuilt ostree layer {Short(layer.Digest)} from a {SizeFormat.Format(deltaSize)} delta");
                baseCommit = rebuilt ?? throw new InvalidOperationException("delta import returned no commit");
                fetched += deltaSize;
                fromDeltas++;
            }
            else
            {
                log?.Invoke($"Fetching ostree chunk {Short(layer.Digest)} ({SizeFormat.Format(layer.Size)})");
                baseCommit = await Unencapsulator.ImportOstreeLayerAsync(repo, source, layout, image, blobRef, progress, null, cancellationToken).ConfigureAwait(false);
                fetched += layer.Size;
            }

            observer?.LayerDone(layer.Digest);
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
                Logged($"Fetching layer {Short(l.Digest)} ({SizeFormat.Format(l.Size)})");
                var (imported, filteredPaths) = await LayerMerge.ImportAsync(repo, source, l, BlobRef(l.Digest), overlayRoot, ct).ConfigureAwait(false);
                layerCommits[i] = imported;
                dropped[i] = filteredPaths;
                Interlocked.Add(ref fetched, l.Size);
                progress?.Report(Interlocked.Read(ref fetched));
                observer?.LayerDone(l.Digest);
            }).ConfigureAwait(false);

        // What the filtering dropped is reported, not recorded: the merge commit must not depend on which layers this
        // host happened to fetch (ostree-ext keeps no such key either).
        foreach (var d in dropped)
        {
            if (d is { Count: > 0 })
            {
                log?.Invoke("Image contains non-ostree compatible file paths: " + string.Join(' ', d.Select(kv => $"{kv.Key}: {kv.Value}")));
            }
        }

        var layerRefs = derived.Select((d, i) => (Ref: BlobRef(d.Layer.Digest), Commit: layerCommits[i]!.Value)).ToList();
        var (merge, relabelled) = WriteMergeCommit(repo, image.Image, layout, baseCommit, layerRefs);
        PruneLayers(repo);
        if (relabelled > 0)
        {
            // The layers' unlabelled objects are now used by nothing (the layer refs moved to the relabelled commits).
            var pruned = Prune.Run(repo, new PruneOptions { RefsOnly = true });
            log?.Invoke($"Relabelled {relabelled} layer(s) with the image's SELinux policy; pruned {pruned.Deleted} unlabelled objects");
        }

        return new PullReport(Load(repo, image.Image.ToString(), merge), AlreadyPresent: false, present, needed, fetched) { LayersFromDeltas = fromDeltas };
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
    public static int PruneLayers(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
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

    /// <summary>Removes stored images (then, unless <paramref name="skipGc"/>, unreferenced layers); fails naming the missing ones after removing the others.</summary>
    public static (int Images, int Layers) Remove(OstreeRepo repo, IReadOnlyList<ImageReference> images, bool skipGc)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(images);
        var missing = new List<string>();
        int removed = 0;
        foreach (var image in images)
        {
            var r = ImageRef(image);
            if (repo.ResolveRev(r, allowMissing: true) is null)
            {
                missing.Add(image.ToString());
                continue;
            }

            repo.SetRefImmediate(r, null);
            removed++;
        }

        int layers = skipGc ? 0 : PruneLayers(repo);
        if (missing.Count > 0)
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"Missing images: {string.Join(", ", missing)}");
        }

        return (removed, layers);
    }

    /// <summary>
    /// Copies a stored image between repositories: its layer commits and merge commit (every object verified),
    /// then its image ref (under <paramref name="destImage"/> when given).
    /// </summary>
    public static void Copy(OstreeRepo source, OstreeRepo destination, ImageReference image, ImageReference? destImage = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(image);
        var stored = Query(source, image) ?? throw new ContainerException(OstreeErrorCode.ImageNotFound, $"No such image: {image}");
        var refs = stored.Manifest.AsManifest().Layers.Select(l => BlobRef(l.Digest)).Where(r => source.ResolveRev(r, allowMissing: true) is not null).Distinct(StringComparer.Ordinal).ToList();
        refs.Add(ImageRef(image));
        PullLocal.Run(source, destination, refs, null);
        if (destImage is not null && destImage != image)
        {
            destination.SetRefImmediate(ImageRef(destImage), stored.MergeCommit);
            destination.SetRefImmediate(ImageRef(image), null);
        }
    }
}
