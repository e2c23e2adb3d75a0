// Deltas between two images made by `container encapsulate` (docs/container-deltas.md). `Generate` pulls both images
// into a scratch repository, then streams each ostree layer of B that A lacks: tar headers and metadata go into the
// delta as literals, a file A already has becomes a reference to its object, a file that replaces a similar file of
// A becomes a bsdiff patch against it, anything else a literal. The layer deltas are published as an OCI artifact
// whose subject is B, found through the referrers API or, for registries without it, the `sha256-HEX` tag that lists
// B's referrers (the OCI 1.1 fallback). `FindAsync` is the client side.
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Deltas;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Deltas;

/// <summary>One layer delta made.</summary>
public sealed record LayerDeltaStats(string TargetLayer, long TargetLayerSize, long TarSize, string DeltaDigest, long DeltaSize, long Objects, long Patches, long LiteralBytes, int Version);

/// <summary>What <see cref="ContainerDeltas.GenerateAsync"/> made.</summary>
public sealed record ContainerDeltaResult(Digest From, Digest To, Digest DeltaManifest, IReadOnlyList<LayerDeltaStats> Layers);

/// <summary>Generates, publishes and finds container image deltas.</summary>
public static partial class ContainerDeltas
{
    private const long MaxPatchTotal = 128_000_000;
    private static readonly byte[] EmptyJson = "{}"u8.ToArray();

    [GeneratedRegex("^(?:\\./)?sysroot/ostree/repo/objects/([0-9a-f]{2})/([0-9a-f]{62})\\.(file|dirtree|dirmeta)$")]
    private static partial Regex ObjectPath();

    [GeneratedRegex("^(?:\\./)?sysroot/ostree/repo/objects/([0-9a-f]{2})/([0-9a-f]{62})\\.(?:file-xattrs-link|file\\.xattrs)$")]
    private static partial Regex XattrsLinkPath();

    /// <summary>
    /// Makes the delta from image <paramref name="from"/> to image <paramref name="to"/> and publishes it next to
    /// <paramref name="to"/> (same registry repository or OCI layout). Work files live under <paramref name="workDir"/>.
    /// </summary>
    /// <exception cref="ContainerException">An image is not an ostree container, or a layer is not what its config says.</exception>
    public static async Task<ContainerDeltaResult> GenerateAsync(ImageReference from, ImageReference to, string workDir, RegistryOptions? registry = null, Action<string>? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var scratch = Path.Combine(workDir, $"container-delta-{Guid.NewGuid():N}");
        Directory.CreateDirectory(scratch);
        try
        {
            var repo = OstreeRepo.Create(Path.Combine(scratch, "repo"), RepoMode.BareUser);
            log?.Invoke($"Reading {from}");
            var store = new ImageStore(repo, new ImageStoreOptions { Registry = registry });
            var a = await store.PullAsync(new OstreeImageReference(SignaturePolicy.AllowInsecure, null, from), null, cancellationToken).ConfigureAwait(false);
            log?.Invoke($"Reading {to}");
            var b = await store.PullAsync(new OstreeImageReference(SignaturePolicy.AllowInsecure, null, to), null, cancellationToken).ConfigureAwait(false);
            var aCommit = a.Image.BaseCommit!.Value;
            var aIndex = DeltaTreeIndex.Of(repo, repo.LoadCommit(aCommit));
            var bIndex = DeltaTreeIndex.Of(repo, repo.LoadCommit(b.Image.BaseCommit!.Value));
            var aLayers = a.Image.Manifest.AsManifest().Layers.Select(l => l.Digest).ToHashSet(StringComparer.Ordinal);

            await using var source = ImageTransports.OpenSource(to, registry);
            var layout = await Unencapsulator.FetchLayoutAsync(source, cancellationToken).ConfigureAwait(false);
            if (layout.Manifest.Digest != b.Image.ManifestDigest)
            {
                throw new ContainerException(OstreeErrorCode.Failed, $"{to} changed while the delta was being made");
            }

            var made = new List<(Descriptor Blob, string File, LayerDeltaStats Stats)>();
            var ostreeLayers = new[] { layout.RequireOstreeLayer() }.Concat(layout.ChunkLayers).ToList();
            int ostreeIndex = layout.Parsed.Layers.IndexOf(ostreeLayers[0]);
            foreach (var layer in ostreeLayers.Where(l => !aLayers.Contains(l.Digest)))
            {
                int index = layout.Parsed.Layers.IndexOf(layer);
                var diffId = Digest.Parse(layout.Config.RootFs.DiffIds[index]);
                var file = Path.Combine(scratch, $"layer-{index}.delta");
                log?.Invoke($"Layer {layer.Digest[..19]} ({layer.Size} bytes)");
                // A client checks the ostree layer of an image labelled with its commit by that commit, not by the
                // layer's diff-id: its delta need only carry the objects the client lacks (version 2).
                bool newObjectsOnly = index == ostreeIndex && Unencapsulator.LabelledCommit(layout) == b.Image.BaseCommit;
                var stats = await Task.Run(() => MakeLayerDelta(repo, source, layer, diffId, new Source(aCommit, aIndex), bIndex, newObjectsOnly, file, cancellationToken), cancellationToken).ConfigureAwait(false);
                var blob = Descriptor.Create(newObjectsOnly ? ContainerDeltaFormat.NewObjectsLayerDeltaMediaType : ContainerDeltaFormat.LayerDeltaMediaType, stats.Digest, stats.Size);
                blob.Annotations = new Dictionary<string, string>
                {
                    [ContainerDeltaFormat.TargetLayerAnnotation] = layer.Digest,
                    [ContainerDeltaFormat.TargetDiffIdAnnotation] = diffId.ToString(),
                };
                made.Add((blob, file, new LayerDeltaStats(layer.Digest, layer.Size, stats.TarSize, stats.Digest.ToString(), stats.Size, stats.Objects, stats.Patches, stats.Literal, stats.Version)));
                log?.Invoke($"  delta {stats.Size} bytes (version {stats.Version}): {stats.Objects} objects kept, {stats.Patches} patched, {stats.Literal} literal bytes of {stats.TarSize}");
            }

            var manifest = await PublishAsync(to, layout.Manifest, a.Image.ManifestDigest, made.Select(m => (m.Blob, m.File)).ToList(), registry, cancellationToken).ConfigureAwait(false);
            return new ContainerDeltaResult(a.Image.ManifestDigest, layout.Manifest.Digest, manifest, made.Select(m => m.Stats).ToList());
        }
        finally
        {
            FileUtil.DeleteAny(scratch);
        }
    }

    private sealed record MadeLayer(Digest Digest, long Size, long TarSize, long Objects, long Patches, long Literal, int Version);

    // The image the client has: its commit, its tree, and the table of its objects deltas refer to by index.
    private sealed class Source
    {
        public Source(Checksum commit, DeltaTreeIndex index)
        {
            Commit = commit;
            Index = index;
            var sorted = index.SortedObjects();
            Sorted = sorted;
            for (int i = 0; i < sorted.Count; i++)
            {
                Objects[sorted[i]] = i;
                ByChecksum.TryAdd(sorted[i].Checksum, i);
            }
        }

        public Checksum Commit { get; }

        public DeltaTreeIndex Index { get; }

        public IReadOnlyList<DeltaObject> Sorted { get; }

        public Dictionary<DeltaObject, int> Objects { get; } = [];

        public Dictionary<Checksum, int> ByChecksum { get; } = [];
    }

    // Streams one layer of B into a layer delta, then compresses it with xz into `file`.
    private static async Task<MadeLayer> MakeLayerDelta(OstreeRepo repo, IImageSource source, Descriptor layer, Digest diffId, Source a, DeltaTreeIndex bIndex, bool newObjectsOnly, string file, CancellationToken ct)
    {
        var raw = file + ".raw";
        byte version = newObjectsOnly ? ContainerDeltaFormat.NewObjectsOnly : ContainerDeltaFormat.WholeTar;
        long tarSize;
        LayerDeltaWriter writer;
        await using (var blob = await source.GetBlobAsync(layer, 0, ct).ConfigureAwait(false))
        using (var tar = LayerStreams.Decompress(blob, layer.MediaType))
        using (var hashing = new HashingStream(tar))
        using (var output = new FileStream(raw, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            // The size is not known before the walk: a placeholder is patched in after it.
            writer = new LayerDeltaWriter(output, version, diffId, 0, a.Commit, a.ByChecksum, a.Sorted);
            Walk(repo, hashing, writer, a, bIndex, newObjectsOnly, ct);
            writer.Finish();
            tarSize = newObjectsOnly ? writer.Produced : hashing.Length;
            await blob.CopyToAsync(Stream.Null, ct).ConfigureAwait(false); // checks the blob's digest
            if (hashing.Digest() != diffId)
            {
                throw new DigestMismatchException($"Layer {layer.Digest} of {source.Reference} uncompresses to {hashing.Digest()}, its config says {diffId}");
            }
        }

        // Rewrite the header with the real size (the varint may grow, so the records are copied after it).
        var final = file + ".records";
        using (var input = File.OpenRead(raw))
        using (var output = new FileStream(final, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            _ = new LayerDeltaWriter(output, version, diffId, tarSize, a.Commit, a.ByChecksum, a.Sorted);
            input.Position = ContainerDeltaFormat.Magic.Length + 1 + 32 + 1 + 32;
            input.CopyTo(output);
        }

        File.Delete(raw);
        using (var input = File.OpenRead(final))
        using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16))
        {
            // Preset 6: an 8 MiB dictionary. The records of a large layer are tens of MB of tar headers; preset 9's
            // 64 MiB dictionary made a delta no smaller (within 0.01%) but made every client fault in and copy through
            // up to 64 MiB, three times the decoding time and 50 MB more memory than 8 MiB.
            Xz.Compress(input, output, 6);
        }

        File.Delete(final);
        using var sha = File.OpenRead(file);
        var digest = Digest.FromHash("sha256", SHA256.HashData(sha));
        return new MadeLayer(digest, new FileInfo(file).Length, tarSize, writer.ObjectRecords, writer.PatchRecords, writer.LiteralBytes, version);
    }

    // Walks the tar entry by entry. In a whole-tar delta (version 1) every byte ends up in the delta once, as a literal or
    // a reference. In a new-objects delta (version 2) the entries the client has no use for are left out: those outside
    // the repository (the checkout's hard links, folders), objects of A's tree, and the xattrs links of those objects.
    private static void Walk(OstreeRepo repo, Stream tar, LayerDeltaWriter writer, Source a, DeltaTreeIndex bIndex, bool newObjectsOnly, CancellationToken ct)
    {
        var block = new byte[512];
        var copy = new byte[1 << 16];
        // The extended headers (pax 'x', GNU 'L'/'K') of the entry being read, as they came.
        var extended = new List<(byte[] Header, byte[] Data)>();
        // As TarReader reads them: a GNU long name, and the records of the last pax header (its path wins).
        string? longName = null;
        (string? Path, long? Size)? pax = null;
        // Version 2: an xattrs link entry, held until the next entry says whether the object it binds is left out.
        (List<(byte[] Header, byte[] Data)> Extended, byte[] Header, byte[] Data, Checksum File)? link = null;
        while (ReadBlock(tar, block))
        {
            ct.ThrowIfCancellationRequested();
            if (block.AsSpan().IndexOfAnyExcept((byte)0) < 0)
            {
                FlushLink(writer, ref link);
                EmitExtended(writer, extended, all: true);
                writer.Literal(block);
                continue;
            }

            byte type = block[TarHeader.TypeFlag];
            long size = TarSize(block);
            long padded = (size + 511) & ~511L;
            if (type is (byte)'x' or (byte)'g' or (byte)'L' or (byte)'K')
            {
                if (size > TarReader.MaxMetaRecord)
                {
                    throw new TarFormatException($"an extended header of {size} bytes in the layer exceeds {TarReader.MaxMetaRecord} bytes");
                }

                var data = new byte[padded];
                tar.ReadExactly(data);
                if (type == (byte)'L')
                {
                    longName = System.Text.Encoding.UTF8.GetString(data, 0, (int)Math.Max(0, size - 1)).TrimEnd('\0');
                }
                else if (type == (byte)'x')
                {
                    pax = PaxRecords(data.AsSpan(0, (int)size));
                }

                extended.Add((block.ToArray(), data));
                continue;
            }

            // The entry's name and data as the importer's TarReader sees them: a version 2 delta leaves out exactly the
            // bytes of an entry, and the next header must be where the reader looks for it. Folders, links and devices
            // have no data whatever their size field says; a pax size overrides the header's.
            var name = pax?.Path ?? longName ?? UstarName(block);
            size = type is (byte)'5' or (byte)'2' or (byte)'1' or (byte)'3' or (byte)'4' or (byte)'6' ? 0 : pax?.Size ?? size;
            padded = (size + 511) & ~511L;
            longName = null;
            pax = null;
            if (newObjectsOnly)
            {
                var left = LeftOut(a, name, type);
                if (left is LeftOutKind.XattrsLink && size <= MaxLinkEntry)
                {
                    FlushLink(writer, ref link);
                    var data = new byte[padded];
                    tar.ReadExactly(data);
                    link = ([.. extended], block.ToArray(), data, XattrsLinkOf(name)!.Value);
                    extended.Clear();
                    continue;
                }

                if (left is LeftOutKind.Yes)
                {
                    // The xattrs link held for this object goes with it; any other goes out.
                    if (link is { } held && ObjectId(name) is { Type: ObjectType.File } dropped && dropped.Checksum == held.File)
                    {
                        EmitExtended(writer, held.Extended, all: false);
                        link = null;
                    }

                    FlushLink(writer, ref link);
                    // A global header applies to every entry after it: it goes out even when its entry does not.
                    EmitExtended(writer, extended, all: false);
                    Skip(tar, padded, copy);
                    continue;
                }

                FlushLink(writer, ref link);
            }

            EmitExtended(writer, extended, all: true);
            // The object a regular entry holds (by its path), and its index when the client keeps it: decided once, for
            // the header (whose size field the client can fill) and for the data.
            var (entry, kept) = type is (byte)'0' or 0 or (byte)'7' && size > 0 ? Classify(repo, a, name, size) : (null, null);
            int? keptIndex = entry?.Type == ObjectType.File ? kept : null;
            writer.Header(block, keptIndex, size);
            if (entry is { } o)
            {
                var kind = o.Type;
                if (kept is { } index)
                {
                    if (kind == ObjectType.File)
                    {
                        writer.Object(index, size);
                    }
                    else
                    {
                        writer.Metadata(index, size);
                    }

                    Skip(tar, size, copy);
                }
                else if (PatchSource(repo, a, bIndex, o, size) is { } from)
                {
                    var data = new byte[size];
                    tar.ReadExactly(data);
                    var old = kind == ObjectType.File ? repo.LoadContent(from.Checksum).ReadAllData() : repo.ReadMetadataBytes(kind, from.Checksum);
                    var patch = new System.Buffers.ArrayBufferWriter<byte>((int)Math.Min(size + 1024, int.MaxValue));
                    Bsdiff.Diff(old, data, patch);
                    writer.Patch(a.Objects[from], size, patch.WrittenSpan);
                }
                else
                {
                    CopyLiteral(tar, size, writer, copy);
                }

                CopyLiteral(tar, padded - size, writer, copy);
            }
            else
            {
                CopyLiteral(tar, padded, writer, copy);
            }
        }

        FlushLink(writer, ref link);
        EmitExtended(writer, extended, all: true);
    }

    // The extended headers gathered (all of them, or only the global ones of an entry left out), then none.
    private static void EmitExtended(LayerDeltaWriter writer, List<(byte[] Header, byte[] Data)> extended, bool all)
    {
        foreach (var (header, data) in extended)
        {
            if (all || header[TarHeader.TypeFlag] == (byte)'g')
            {
                writer.Header(header, null, 0);
                writer.LiteralWithPaths(data);
            }
        }

        extended.Clear();
    }

    // An xattrs link entry is a hard link or a small regular file (the xattrs themselves): it is held in memory.
    private const long MaxLinkEntry = 1 << 20;

    private enum LeftOutKind
    {
        No,
        Yes,
        XattrsLink,
    }

    // Whether a version 2 delta leaves an entry out: the importer ignores what lies outside the repository and folders,
    // and A's objects are in the client's repository. An xattrs link goes with the object it binds.
    private static LeftOutKind LeftOut(Source a, string name, byte type)
    {
        var n = name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name;
        if (!n.StartsWith(OstreeTarExporter.RepoPrefix + "/", StringComparison.Ordinal) || type == (byte)'5')
        {
            return LeftOutKind.Yes;
        }

        if (XattrsLinkOf(n) is not null)
        {
            return LeftOutKind.XattrsLink;
        }

        return ObjectId(n) is { } o && a.Objects.ContainsKey(o) ? LeftOutKind.Yes : LeftOutKind.No;
    }

    // The object an entry named objects/XX/REST.{file,dirtree,dirmeta} holds.
    private static DeltaObject? ObjectId(string name)
    {
        var m = ObjectPath().Match(name);
        return m.Success && Checksum.TryParse(m.Groups[1].Value + m.Groups[2].Value, out var c)
            ? new DeltaObject(m.Groups[3].Value switch { "file" => ObjectType.File, "dirtree" => ObjectType.DirTree, _ => ObjectType.DirMeta }, c)
            : null;
    }

    // The content object an entry named objects/XX/REST.file-xattrs-link (or .file.xattrs) binds its xattrs to.
    private static Checksum? XattrsLinkOf(string name)
    {
        var m = XattrsLinkPath().Match(name);
        return m.Success && Checksum.TryParse(m.Groups[1].Value + m.Groups[2].Value, out var c) ? c : null;
    }

    // The xattrs link held, if any, goes out: its extended headers, its header and its data, as literals.
    private static void FlushLink(LayerDeltaWriter writer, ref (List<(byte[] Header, byte[] Data)> Extended, byte[] Header, byte[] Data, Checksum File)? link)
    {
        if (link is { } held)
        {
            EmitExtended(writer, held.Extended, all: true);
            writer.Header(held.Header, null, 0);
            writer.LiteralWithPaths(held.Data);
            link = null;
        }
    }

    // The object an entry named objects/XX/REST.{file,dirtree,dirmeta} holds, and its index in A's table when A has it
    // (a content object only with the same size).
    private static (DeltaObject? Object, int? Kept) Classify(OstreeRepo repo, Source a, string name, long size)
    {
        if (ObjectId(name) is not { } o)
        {
            return (null, null);
        }

        bool kept = a.Objects.TryGetValue(o, out int index) && (o.Type != ObjectType.File || repo.LoadContent(o.Checksum).Size == size);
        return (o, kept ? index : null);
    }

    // The object of A that a new object of B is a version of: the file at the same path (or a similar name), the
    // dirtree or dirmeta of the same folder.
    private static DeltaObject? PatchSource(OstreeRepo repo, Source a, DeltaTreeIndex b, DeltaObject o, long size)
    {
        if (o.Type == ObjectType.File)
        {
            return b.Files.TryGetValue(o.Checksum, out var path) && a.Index.FindSimilar(repo, path, size, MaxPatchTotal) is { } old
                ? new DeltaObject(ObjectType.File, old.Checksum)
                : null;
        }

        if (b.Folders.TryGetValue(o, out var folder) && a.Index.FolderPaths.TryGetValue(folder, out var was))
        {
            return new DeltaObject(o.Type, o.Type == ObjectType.DirTree ? was.Tree : was.Meta);
        }

        return null;
    }

    private static bool ReadBlock(Stream s, byte[] block)
    {
        int total = 0;
        while (total < block.Length)
        {
            int n = s.Read(block, total, block.Length - total);
            if (n == 0)
            {
                return total == 0 ? false : throw new TarFormatException($"tar ends inside a header block ({total} bytes)");
            }

            total += n;
        }

        return true;
    }

    private static void Skip(Stream s, long count, byte[] buffer)
    {
        while (count > 0)
        {
            int n = s.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n == 0)
            {
                throw new TarFormatException("tar ends inside an entry");
            }

            count -= n;
        }
    }

    private static void CopyLiteral(Stream s, long count, LayerDeltaWriter writer, byte[] buffer)
    {
        while (count > 0)
        {
            int n = s.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (n == 0)
            {
                throw new TarFormatException("tar ends inside an entry");
            }

            writer.Literal(buffer.AsSpan(0, n));
            count -= n;
        }
    }

    private static long TarSize(byte[] header) =>
        TarHeader.TryReadNumber(TarHeader.Field(header, TarHeader.Size), out long size) && size >= 0 ? size
            : throw new TarFormatException("invalid size field in a tar header of the layer");

    private static string UstarName(byte[] header) => System.Text.Encoding.UTF8.GetString(TarHeader.RawName(header));

    // The path and size records of a pax header.
    private static (string? Path, long? Size) PaxRecords(ReadOnlySpan<byte> records)
    {
        string? path = null;
        long? size = null;
        while (!records.IsEmpty)
        {
            int space = records.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(records[..space], out int len) || len <= space || len > records.Length)
            {
                break;
            }

            var record = records[(space + 1)..len];
            int eq = record.IndexOf((byte)'=');
            if (eq > 0 && record[..eq].SequenceEqual("path"u8))
            {
                path = System.Text.Encoding.UTF8.GetString(record[(eq + 1)..^1]);
            }
            else if (eq > 0 && record[..eq].SequenceEqual("size"u8) && long.TryParse(record[(eq + 1)..^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n))
            {
                size = n;
            }

            records = records[len..];
        }

        return (path, size);
    }

    /// <summary>The reference of the tag that lists <paramref name="subject"/>'s referrers (OCI 1.1 fallback), next to <paramref name="image"/>.</summary>
    public static ImageReference ReferrersTag(ImageReference image, Digest subject)
    {
        ArgumentNullException.ThrowIfNull(image);
        var tag = $"{subject.Algorithm}-{subject.Hex}";
        return image.Transport == Transport.Registry
            ? new ImageReference(Transport.Registry, image.Docker.WithTag(tag).ToString())
            : new ImageReference(image.Transport, image.Path + ":" + tag);
    }

    // Uploads the layer deltas and the manifest that binds them to B; lists it under B's referrers tag unless the
    // registry indexes referrers itself.
    private static async Task<Digest> PublishAsync(ImageReference to, ManifestBlob target, Digest from, IReadOnlyList<(Descriptor Blob, string File)> layers, RegistryOptions? registry, CancellationToken ct)
    {
        var emptyConfig = Descriptor.Create(ContainerDeltaFormat.EmptyMediaType, Digest.Sha256(EmptyJson), EmptyJson.Length);
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            ArtifactType = ContainerDeltaFormat.ArtifactType,
            Config = emptyConfig,
            Layers = layers.Select(l => l.Blob).ToList(),
            Subject = target.ToDescriptor(),
            Annotations = new Dictionary<string, string> { [ContainerDeltaFormat.FromAnnotation] = from.ToString() },
        };
        var manifestBlob = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(manifest, OciJsonContext.Writer.ImageManifest), MediaTypes.OciManifest, to.ToString());
        var tagRef = ReferrersTag(to, target.Digest);
        var existing = await ReadReferrersTagAsync(tagRef, registry, ct).ConfigureAwait(false);
        await using var destination = ImageTransports.OpenDestination(tagRef, registry);
        foreach (var (blob, file) in layers)
        {
            if (!await destination.TryReuseBlobAsync(blob, null, ct).ConfigureAwait(false))
            {
                await destination.PutBlobAsync(blob, (offset, _) => Task.FromResult<Stream>(OpenAt(file, offset)), null, ct).ConfigureAwait(false);
            }
        }

        if (!await destination.TryReuseBlobAsync(emptyConfig, null, ct).ConfigureAwait(false))
        {
            await destination.PutBlobAsync(emptyConfig, (offset, _) => Task.FromResult<Stream>(new MemoryStream(EmptyJson[(int)offset..])), null, ct).ConfigureAwait(false);
        }

        var descriptor = manifestBlob.ToDescriptor();
        descriptor.ArtifactType = ContainerDeltaFormat.ArtifactType;
        descriptor.Annotations = manifest.Annotations;
        await destination.PutManifestAsync(manifestBlob, topLevel: false, ct).ConfigureAwait(false);
        if (destination is RegistryDestination rd
            && await rd.Client.GetReferrersAsync(tagRef.Docker.Path, target.Digest, to.ToString(), ct).ConfigureAwait(false) is not null)
        {
            return manifestBlob.Digest; // the registry lists the delta among B's referrers itself
        }

        // The fallback: an index of B's referrers under the tag sha256-HEX, this delta replacing any from the same image.
        var index = existing ?? new ImageIndex { MediaType = MediaTypes.OciIndex };
        index.Manifests.RemoveAll(d => d.ArtifactType == ContainerDeltaFormat.ArtifactType
            && d.Annotations?.GetValueOrDefault(ContainerDeltaFormat.FromAnnotation) == from.ToString());
        index.Manifests.Add(descriptor);
        var indexBlob = new ManifestBlob(JsonSerializer.SerializeToUtf8Bytes(index, OciJsonContext.Writer.ImageIndex), MediaTypes.OciIndex, tagRef.ToString());
        await destination.PutManifestAsync(indexBlob, topLevel: true, ct).ConfigureAwait(false);
        await destination.CommitAsync(ct).ConfigureAwait(false);
        return manifestBlob.Digest;
    }

    private static FileStream OpenAt(string file, long offset)
    {
        var fs = File.OpenRead(file);
        fs.Position = offset;
        return fs;
    }

    private static async Task<ImageIndex?> ReadReferrersTagAsync(ImageReference tagRef, RegistryOptions? registry, CancellationToken ct)
    {
        try
        {
            await using var source = ImageTransports.OpenSource(tagRef, registry);
            var blob = await source.GetManifestAsync(null, ct).ConfigureAwait(false);
            return blob.IsIndex ? blob.AsIndex() : null;
        }
        catch (Exception e) when (e is ContainerException or RegistryException or IOException)
        {
            return null; // no referrers yet (or no layout yet)
        }
    }

    /// <summary>
    /// The layer deltas published for going from image <paramref name="from"/> to the image <paramref name="source"/>
    /// reads (manifest <paramref name="to"/>), by the digest of the layer each rebuilds; empty when there is none.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, Descriptor>> FindAsync(IImageSource source, Digest from, Digest to, RegistryOptions? registry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ManifestBlob? referrers = null;
        if (((source as Signatures.PolicyCheckedSource)?.Inner ?? source) is RegistrySource rs)
        {
            referrers = await rs.Client.GetReferrersAsync(rs.Repository, to, source.Reference.ToString(), cancellationToken).ConfigureAwait(false);
        }

        var index = referrers?.AsIndex() ?? await ReadReferrersTagAsync(ReferrersTag(source.Reference, to), registry, cancellationToken).ConfigureAwait(false);
        var entry = index?.Manifests.LastOrDefault(d => d.ArtifactType == ContainerDeltaFormat.ArtifactType
            && d.Annotations?.GetValueOrDefault(ContainerDeltaFormat.FromAnnotation) == from.ToString());
        if (entry is null)
        {
            return new Dictionary<string, Descriptor>();
        }

        var manifest = (await source.GetManifestAsync(entry.GetDigest(), cancellationToken).ConfigureAwait(false)).AsManifest();
        if (manifest.Subject?.Digest != to.ToString() || manifest.ArtifactType != ContainerDeltaFormat.ArtifactType)
        {
            throw new ManifestException($"Delta manifest {entry.Digest} of {source.Reference} is not a delta to {to}");
        }

        return manifest.Layers
            .Where(l => l.MediaType is ContainerDeltaFormat.LayerDeltaMediaType or ContainerDeltaFormat.NewObjectsLayerDeltaMediaType && l.Annotations?.GetValueOrDefault(ContainerDeltaFormat.TargetLayerAnnotation) is not null)
            .ToDictionary(l => l.Annotations![ContainerDeltaFormat.TargetLayerAnnotation], l => l, StringComparer.Ordinal);
    }

    /// <summary>Opens the layer tar a layer delta rebuilds from <paramref name="repo"/>'s objects; the stream checks <paramref name="diffId"/> at its end.</summary>
    public static async Task<Stream> OpenRebuiltLayerAsync(IImageSource source, Descriptor delta, OstreeRepo repo, Digest diffId, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(delta);
        var blob = await source.GetBlobAsync(delta, 0, cancellationToken).ConfigureAwait(false);
        var what = $"delta {delta.Digest} of {source.Reference}";
        try
        {
            var counted = progress is null ? blob : new CountingReadStream(blob, progress);
            return new LayerDeltaStream(Xz.OpenDecompressing(counted, what), repo, diffId, what);
        }
        catch
        {
            await blob.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Reads through, counting the bytes and hashing them (sha256).</summary>
    private sealed class HashingStream(Stream inner) : ReadOnlyStream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _length;

        public override long Length => _length;

        public Digest Digest()
        {
            inner.CopyTo(Stream.Null); // trailing padding past the end-of-archive blocks counts too
            return Oci.Digest.FromHash("sha256", _hash.GetCurrentHash());
        }

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            _hash.AppendData(buffer[..n]);
            _length += n;
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

    private sealed class CountingReadStream(Stream inner, IProgress<long> progress) : ReadOnlyStream
    {
        private long _done;

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            _done += n;
            progress.Report(_done);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
