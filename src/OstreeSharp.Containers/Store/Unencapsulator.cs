// OCI image -> ostree commit (spec 4.1-4.4), for images without derived layers: the ostree layer is
// streamed from its source (digest verified), decompressed, its DiffID checked, and imported into
// one transaction; with an ostree-remote reference the commit's signatures are checked before any
// other object is read, and nothing is published when anything fails.
using System.Security.Cryptography;
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Signing;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Store;

/// <summary>The outcome of an unencapsulation.</summary>
public sealed record UnencapsulateResult(Checksum Commit, Digest ManifestDigest, long LayerBytes);

/// <summary>
/// A fetched image with its parsed layer layout (spec 4.2). An image without the <c>ostree.final-diffid</c> label (one
/// built with podman, or rechunked, from a bootc base) has no ostree layer: every layer is a derived layer.
/// </summary>
public sealed record OstreeImageLayout(ManifestBlob Manifest, ImageManifest Parsed, byte[] ConfigBytes, ImageConfig Config, Descriptor? OstreeLayer, IReadOnlyList<Descriptor> ChunkLayers, IReadOnlyList<Descriptor> DerivedLayers)
{
    /// <summary>The ostree layer; an image without one is refused with ostree-ext's message.</summary>
    /// <exception cref="ManifestException">The image has no ostree layer.</exception>
    public Descriptor RequireOstreeLayer() => OstreeLayer
        ?? throw new ManifestException($"No {Encapsulator.FinalDiffIdLabel} label found, not an ostree encapsulated container: {Manifest.What}");
}

/// <summary>A layer delta to rebuild a layer from instead of fetching it: its blob and the diff-id it must rebuild.</summary>
internal sealed record LayerDeltaInput(Descriptor Blob, Digest DiffId);

/// <summary>Imports encapsulated ostree commits.</summary>
public static class Unencapsulator
{
    /// <summary>Fetches the manifest and config of <paramref name="source"/> and splits its layers (spec 4.2).</summary>
    public static async Task<OstreeImageLayout> FetchLayoutAsync(IImageSource source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var what = source.Reference.ToString();
        var top = await source.GetManifestAsync(null, cancellationToken).ConfigureAwait(false);
        var manifestBlob = await PlatformSelector.ResolveAsync(source, top, "linux", PlatformSelector.HostArchitecture, null, cancellationToken).ConfigureAwait(false);

        var manifest = manifestBlob.AsManifest();
        if (manifest.Layers.Count == 0)
        {
            throw new ManifestException($"No layers in manifest of {what}");
        }

        var configBytes = await source.ReadConfigAsync(manifest.Config, ManifestBlob.MaxSize * 8L, cancellationToken).ConfigureAwait(false);
        var config = ImageConfig.Parse(configBytes, $"{manifest.Config.Digest} of {what}");

        if (config.Config?.Labels?.GetValueOrDefault(Encapsulator.FinalDiffIdLabel) is not { } finalDiffId)
        {
            // No ostree commit inside: the base is built from the layers themselves, as ostree-ext does since 0.15.
            return new OstreeImageLayout(manifestBlob, manifest, configBytes, config, null, [], manifest.Layers);
        }

        int k = config.RootFs.DiffIds.IndexOf(finalDiffId);
        if (k < 0)
        {
            throw new ManifestException($"Missing ostree.final-diffid {finalDiffId} in {what}");
        }

        if (k >= manifest.Layers.Count)
        {
            throw new ManifestException($"diffid position {k} exceeds layer count {manifest.Layers.Count} in {what}");
        }

        var target = manifest.Layers[k];
        if (manifest.Layers.Count(l => l.Digest == target.Digest) > 1 && k > 0)
        {
            throw new ManifestException($"Multiple entries for {target.Digest} in {what}");
        }

        return new OstreeImageLayout(manifestBlob, manifest, configBytes, config, manifest.Layers[0], manifest.Layers.Skip(1).Take(k).ToList(), manifest.Layers.Skip(k + 1).ToList());
    }

    /// <summary>
    /// Imports the ostree commit of <paramref name="image"/> into <paramref name="repo"/> (no store refs; an
    /// optional <paramref name="writeRef"/>), verifying as the reference's signature policy says.
    /// </summary>
    public static async Task<UnencapsulateResult> UnencapsulateAsync(OstreeRepo repo, OstreeImageReference image, RegistryOptions? registry = null, string? writeRef = null, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(image);
        CheckPolicyPreconditions(repo, image);
        await using var source = ContainerPolicy.OpenSource(image, registry);
        var layout = await FetchLayoutAsync(source, cancellationToken).ConfigureAwait(false);
        var ostreeLayer = layout.RequireOstreeLayer();
        if (layout.DerivedLayers.Count > 0)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Image has {layout.DerivedLayers.Count} non-ostree layers: {image}");
        }

        foreach (var chunk in layout.ChunkLayers)
        {
            await ImportChunkAsync(repo, source, chunk, null, progress, null, cancellationToken).ConfigureAwait(false);
        }

        var commit = await ImportOstreeLayerAsync(repo, source, layout, image, writeRef, progress, null, cancellationToken).ConfigureAwait(false);
        return new UnencapsulateResult(commit, layout.Manifest.Digest, ostreeLayer.Size);
    }

    /// <summary>
    /// What an <c>ostree-remote-*</c> reference needs before anything is fetched: the named remote (the containers
    /// policy of <c>ostree-image-signed:</c> is checked by <see cref="ContainerPolicy.OpenSource"/>).
    /// </summary>
    internal static void CheckPolicyPreconditions(OstreeRepo repo, OstreeImageReference image)
    {
        if (image.Policy == SignaturePolicy.OstreeRemote)
        {
            repo.RequireRemote(image.Remote!);
        }
    }

    /// <summary>
    /// Streams a chunk layer (content objects only) into <paramref name="repo"/> and records them in a synthetic
    /// commit: one file per object, named by its checksum (spec 4.4); <paramref name="writeRef"/> points at it.
    /// </summary>
    internal static async Task<Checksum> ImportChunkAsync(OstreeRepo repo, IImageSource source, Descriptor layer, string? writeRef, IProgress<long>? progress, LayerDeltaInput? delta, CancellationToken cancellationToken)
    {
        return await Task.Run(
            async () =>
            {
                await using var blob = await source.GetBlobAsync(delta?.Blob ?? layer, 0, cancellationToken).ConfigureAwait(false);
                var counting = new ProgressReadStream(blob, progress);
                using var decompressed = OpenTar(repo, source, layer, delta, counting);
                using var tx = repo.BeginTransaction();
                IReadOnlyList<Checksum> objects;
                try
                {
                    objects = new OstreeTarImporter(repo).ImportObjectSet(tx, decompressed, cancellationToken);
                    decompressed.CopyTo(Stream.Null);
                    counting.CopyTo(Stream.Null);
                }
                catch (InvalidDataException e)
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"Layer {layer.Digest} of {source.Reference} is not valid {layer.MediaType}: {e.Message}");
                }
                catch (ZstdSharp.ZstdException e)
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"Layer {layer.Digest} of {source.Reference} is not valid {layer.MediaType}: {e.Message}");
                }
                catch (TarFormatException e)
                {
                    throw new ContainerException(OstreeErrorCodes.Of(e, OstreeErrorCode.InvalidData), $"Layer {layer.Digest} of {source.Reference}: {e.Message}", e);
                }

                var root = new MutableTree { MetaChecksum = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(0, 0, UnixMode.Directory | 0x1ed, Xattrs.Empty).ToBytes()) };
                foreach (var o in objects)
                {
                    root.SetFile(o.ToHex(), o);
                }

                var result = CommitWriter.Write(tx, root, new CommitRequest { NoParent = true, Timestamp = DateTimeOffset.FromUnixTimeSeconds(0) });
                if (writeRef is not null)
                {
                    tx.SetRef(writeRef, result.Commit);
                }

                tx.Commit();
                return result.Commit;
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Streams the ostree layer of <paramref name="layout"/> into <paramref name="repo"/> in one transaction
    /// (verified as <paramref name="image"/>'s policy says); <paramref name="writeRef"/> is set in the same transaction.
    /// </summary>
    internal static async Task<Checksum> ImportOstreeLayerAsync(OstreeRepo repo, IImageSource source, OstreeImageLayout layout, OstreeImageReference image, string? writeRef, IProgress<long>? progress, LayerDeltaInput? delta, CancellationToken cancellationToken)
    {
        VerificationPolicy? policy = image.Policy == SignaturePolicy.OstreeRemote ? VerificationPolicy.ForRemote(repo, image.Remote!) : null;
        var layer = layout.RequireOstreeLayer();
        var diffId = Digest.TryParse(layout.Config.RootFs.DiffIds.FirstOrDefault(), out var d) ? d : (Digest?)null;
        Action<byte[], GVariant.GVariantValue?>? verify = policy is null ? null : (bytes, detached) =>
        {
            try
            {
                CommitVerifier.Verify(bytes, detached, policy);
            }
            catch (SignatureException e)
            {
                throw new SignatureException($"Using remote {image.Remote} for verification of {image}: {e.Message}", e.Reason);
            }
        };

        return await Task.Run(
            async () =>
            {
                await using var blob = await source.GetBlobAsync(delta?.Blob ?? layer, 0, cancellationToken).ConfigureAwait(false);
                var counting = new ProgressReadStream(blob, progress);
                // A layer rebuilt from a delta for an image labelled with its commit is not hashed whole: the chain of
                // trust runs manifest -> config -> ostree.commit label -> the commit imported (checked below) -> each
                // object written checked against its id, and the tree walked for completeness by the importer. The
                // objects the repository has are passed over unread, so the import costs what the update changed.
                // Without the label the rebuilt tar checks its own diff-id (and only that one can be the right one).
                var labelled = delta is null ? null : LabelledCommit(layout);
                using var decompressed = OpenTar(repo, source, layer, delta, counting, verifyDiffId: labelled is null);
                using var hashed = delta is null ? new HashingReadStream(decompressed) : null;
                Stream tar = (Stream?)hashed ?? decompressed;
                using var tx = repo.BeginTransaction();
                TarImportResult result;
                try
                {
                    // The objects and trees the new commit shares with the delta's source are known to be here: neither
                    // the import nor its completeness walk looks them up.
                    var importer = decompressed is Deltas.LayerDeltaStream rebuilt
                        ? new OstreeTarImporter(repo) { KnownCompleteTree = rebuilt.IsCompleteSourceTree, KnownPresent = rebuilt.IsSourceObject }
                        : new OstreeTarImporter(repo);
                    result = importer.Import(tx, tar, verify, cancellationToken);
                    tar.CopyTo(Stream.Null); // the rest of the tar (padding), so the DiffID covers it all
                    counting.CopyTo(Stream.Null); // and the rest of the blob, so its digest is checked
                }
                catch (InvalidDataException e)
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"Layer {layer.Digest} of {image} is not valid {layer.MediaType}: {e.Message}");
                }
                catch (ZstdSharp.ZstdException e)
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"Layer {layer.Digest} of {image} is not valid {layer.MediaType}: {e.Message}");
                }
                catch (TarFormatException e) when (verify is not null && e.Message.StartsWith("Verifying ostree commit", StringComparison.Ordinal))
                {
                    throw new SignatureException($"Using remote {image.Remote} for verification of {image}: {e.Message}", SignatureFailure.NoSignature);
                }
                catch (TarFormatException e)
                {
                    throw new ContainerException(OstreeErrorCodes.Of(e, OstreeErrorCode.InvalidData), $"Layer {layer.Digest} of {image}: {e.Message}", e);
                }

                if (hashed is not null && diffId is { } expected && hashed.Finish() is var actual && actual != expected)
                {
                    throw new DigestMismatchException($"Layer {layer.Digest} of {image} uncompresses to {actual}, its config says {expected}");
                }

                if (labelled is { } label && label != result.Commit)
                {
                    throw new DigestMismatchException($"Delta {delta!.Blob.Digest} for layer {layer.Digest} of {image} rebuilds commit {result.Commit}, the config's ostree.commit label says {label}");
                }

                if (writeRef is not null)
                {
                    tx.SetRef(writeRef, result.Commit);
                }

                tx.Commit();
                return result.Commit;
            },
            cancellationToken).ConfigureAwait(false);
    }

    // The commit the config's ostree.commit label names, if it names one.
    internal static Checksum? LabelledCommit(OstreeImageLayout layout) =>
        layout.Config.Config?.Labels?.GetValueOrDefault("ostree.commit") is { } hex && Checksum.TryParse(hex, out var c) ? c : null;

    // The layer's tar: its blob decompressed, or rebuilt from a layer delta and the repository's objects.
    private static Stream OpenTar(OstreeRepo repo, IImageSource source, Descriptor layer, LayerDeltaInput? delta, Stream blob, bool verifyDiffId = true)
    {
        if (delta is null)
        {
            // Fetched and decompressed ahead on a thread of its own, while this one parses, hashes and writes.
            return new ReadAheadStream(LayerStreams.Decompress(blob, layer.MediaType));
        }

        var what = $"delta {delta.Blob.Digest} for layer {layer.Digest} of {source.Reference}";
        // The delta is fetched and decompressed ahead on a thread of its own, while this one rebuilds and imports.
        var records = new ReadAheadStream(OstreeSharp.Deltas.Xz.OpenDecompressing(blob, what));
        try
        {
            return new Deltas.LayerDeltaStream(records, repo, delta.DiffId, what, verifyDiffId);
        }
        catch
        {
            // A delta refused by its header: the reading thread stops with its stream.
            records.Dispose();
            throw;
        }
    }

    /// <summary>Reads through, hashing (sha256).</summary>
    private sealed class HashingReadStream(Stream inner) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public Digest Finish() => Digest.FromHash("sha256", _hash.GetHashAndReset());

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            _hash.AppendData(buffer[..n]);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Reads through, reporting the bytes read so far.</summary>
    private sealed class ProgressReadStream(Stream inner, IProgress<long>? progress) : ReadOnlyStream
    {
        private long _done;

        public override long Position { get => _done; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            if (n > 0)
            {
                _done += n;
                progress?.Report(_done);
            }

            return n;
        }

    }
}
