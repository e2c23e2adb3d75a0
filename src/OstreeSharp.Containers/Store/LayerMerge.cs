// Derived (non-ostree) layers (ostree-container-format.md 4.5 and 4.6): each layer tar is filtered
// and committed on its own; the merge applies the layers over the base tree with OCI whiteouts,
// working on trees of object ids (no checkout: every file object is already in the repository).
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Store;

/// <summary>Imports derived layers and merges them over an ostree base.</summary>
internal static class LayerMerge
{
    private const string Whiteout = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";

    /// <summary>
    /// Streams one derived layer into a commit of its own (paths filtered as the spec says); returns the commit
    /// and the per-name counts of dropped paths. <paramref name="allowOtherTopLevel"/> keeps top-level folders
    /// other than usr/etc/var (overlay-style roots).
    /// </summary>
    public static async Task<(Checksum Commit, IReadOnlyDictionary<string, int> Filtered)> ImportAsync(OstreeRepo repo, IImageSource source, Descriptor layer, string blobRef, bool allowOtherTopLevel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(layer);
        return await Task.Run(
            async () =>
            {
                await using var blob = await source.GetBlobAsync(layer, 0, cancellationToken).ConfigureAwait(false);
                // Fetching and decompressing run ahead on a thread of their own, hashing and writing the objects on this one.
                using var decompressed = new ReadAheadStream(LayerStreams.Decompress(blob, layer.MediaType));
                using var tx = repo.BeginTransaction();
                var root = new MutableTree();
                IReadOnlyDictionary<string, int> filtered;
                try
                {
                    filtered = TarTreeImporter.Import(tx, new CommitModifier(), decompressed, layer.Digest, root, new TarTreeOptions { AutocreateParents = true, FilterContainerLayer = true, AllowOtherTopLevel = allowOtherTopLevel });
                    decompressed.CopyTo(Stream.Null);
                    blob.CopyTo(Stream.Null); // to the end, so the digest is checked before anything is published
                }
                catch (InvalidDataException e)
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"Layer {layer.Digest} of {source.Reference} is not valid {layer.MediaType}: {e.Message}");
                }
                catch (TarFormatException e)
                {
                    throw new ContainerException(OstreeErrorCodes.Of(e, OstreeErrorCode.InvalidData), $"Layer {layer.Digest} of {source.Reference}: {e.Message}", e);
                }

                var result = CommitWriter.Write(tx, root, new CommitRequest
                {
                    NoParent = true,
                    Timestamp = DateTimeOffset.FromUnixTimeSeconds(0),
                    Metadata = [new("ostree.importer.version", GVariant.GVariantValue.FromString(ImageStore.ImporterVersion))],
                });
                tx.SetRef(blobRef, result.Commit);
                tx.Commit();
                return (result.Commit, filtered);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Applies <paramref name="layers"/> (layer commits, in order) over <paramref name="baseCommit"/> (or, for an image
    /// without an ostree commit, over nothing: the first layer is the base) and writes the merged tree, labelled from
    /// the SELinux policy inside it. Returns the tree and that policy (<see cref="SELinux.SePolicy.None"/> when there is
    /// none).
    /// </summary>
    public static (Checksum Tree, Checksum Meta, SELinux.SePolicy Policy) Merge(OstreeRepo repo, RepoTransaction tx, Checksum? baseCommit, IReadOnlyList<Checksum> layers)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(layers);
        MutableTree? root = null;
        if (baseCommit is { } bc)
        {
            var b = repo.LoadCommit(bc);
            root = MutableTree.FromRepo(repo, b.RootTree, b.RootMeta);
        }

        foreach (var layer in layers)
        {
            var l = repo.LoadCommit(layer);
            var tree = MutableTree.FromRepo(repo, l.RootTree, l.RootMeta);
            if (root is null)
            {
                // The first layer of an image without a base creates the root, with that layer's metadata.
                root = new MutableTree { MetaChecksum = l.RootMeta };
            }

            Apply(root, tree);
        }

        if (root is null)
        {
            throw new ArgumentException("Nothing to merge: no base and no layers", nameof(layers));
        }

        RemoveEmptyFile(repo, root, "usr", "etc", "hostname");
        RemoveEmptyFile(repo, root, "usr", "etc", "resolv.conf");

        // Labels never come from the layers' tar headers: the merged tree is labelled by the policy it contains
        // (so a derived layer that adds policy modules labels with them), as ostree-ext does.
        var policy = SELinux.TreeLabeler.LoadPolicy(repo, root);
        SELinux.TreeLabeler.Relabel(repo, tx, root, policy);
        var (t, m) = root.Write(tx);
        return (t, m, policy);
    }

    /// <summary>
    /// A layer commit labelled with <paramref name="policy"/> (same metadata and timestamp), so that it holds the same
    /// objects as the merge commit; null when its labels are already those.
    /// </summary>
    public static Checksum? Relabel(OstreeRepo repo, RepoTransaction tx, Checksum layerCommit, SELinux.SePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(tx);
        var c = repo.LoadCommit(layerCommit);
        var root = MutableTree.FromRepo(repo, c.RootTree, c.RootMeta);
        if (SELinux.TreeLabeler.Relabel(repo, tx, root, policy) == 0)
        {
            return null;
        }

        var (tree, meta) = root.Write(tx);
        var relabelled = new Commit(c.Metadata, c.Parent, c.Subject, c.Body, c.Timestamp, tree, meta);
        return tx.WriteMetadata(ObjectType.Commit, relabelled.ToBytes());
    }

    // One layer over the tree so far, as libostree's union checkout with whiteouts does it (ostree-ext merges by
    // checking each layer out over the last): ".wh.NAME" removes NAME, ".wh..wh..opq" empties its folder first, a
    // file replaces what was at its name, and a folder that already exists keeps its metadata (only a folder the
    // layer creates, or empties, takes the layer's). Iterative: a layer's depth is not ours to bound.
    private static void Apply(MutableTree root, MutableTree layerRoot)
    {
        var stack = new Stack<(MutableTree Target, MutableTree Layer)>();
        stack.Push((root, layerRoot));
        while (stack.Count > 0)
        {
            var (target, layer) = stack.Pop();
            if (layer.Files.ContainsKey(OpaqueMarker))
            {
                target.Invalidate();
                target.Files.Clear();
                target.Dirs.Clear();
                target.MetaChecksum = layer.MetaChecksum;
            }

            foreach (var (name, checksum) in layer.Files)
            {
                if (name == OpaqueMarker)
                {
                    continue;
                }

                if (name.StartsWith(Whiteout, StringComparison.Ordinal))
                {
                    var victim = name[Whiteout.Length..];
                    if (target.Files.ContainsKey(victim) || target.Dirs.ContainsKey(victim))
                    {
                        target.Invalidate();
                        target.Files.Remove(victim);
                        target.Dirs.Remove(victim);
                    }

                    continue;
                }

                target.Invalidate();
                target.Dirs.Remove(name);
                target.SetFile(name, checksum);
            }

            foreach (var (name, sub) in layer.Dirs)
            {
                target.Invalidate();
                target.Files.Remove(name);
                var dir = target.Dirs.TryGetValue(name, out var existing) ? existing : target.EnsureDir(name, sub.MetaChecksum!.Value);
                stack.Push((dir, sub));
            }
        }
    }

    // Container builds leave empty /etc/hostname and /etc/resolv.conf behind; bootc drops them.
    private static void RemoveEmptyFile(OstreeRepo repo, MutableTree root, params string[] path)
    {
        var dir = root;
        foreach (var part in path[..^1])
        {
            if (!dir.Dirs.TryGetValue(part, out dir))
            {
                return;
            }
        }

        if (dir.Files.TryGetValue(path[^1], out var c))
        {
            var content = repo.LoadContent(c);
            if (UnixMode.IsRegular(content.Header.Mode) && content.Size == 0)
            {
                dir.Invalidate();
                dir.Files.Remove(path[^1]);
            }
        }
    }
}
