// The summary file (spec: ostree-repo-format.md, section 2.8).
using System.Buffers.Binary;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>Builds and reads <c>summary</c>.</summary>
public static class Summary
{
    /// <summary>The summary type.</summary>
    public static readonly GVariantType Type = GVariantType.Parse("(a(s(taya{sv}))a{sv})");
    private static readonly GVariantType RefEntry = GVariantType.Parse("(s(taya{sv}))");
    private static readonly GVariantType CollectionMapEntry = GVariantType.Parse("{sa(s(taya{sv}))}");

    /// <summary>Regenerates <c>summary</c> (unsigned) and removes a stale <c>summary.sig</c>.</summary>
    public static byte[] Update(OstreeRepo repo, IEnumerable<KeyValuePair<string, GVariantValue>>? extraMetadata = null)
    {
        GVariantValue Entry(string name, Checksum checksum)
        {
            // Not hashed, as libostree writes it: every client checks each commit it fetches.
            var bytes = repo.ReadMetadataBytes(ObjectType.Commit, checksum, verify: false);
            var commit = Commit.Parse(bytes);
            var meta = new List<KeyValuePair<string, GVariantValue>>();
            if (commit.Version is { } v)
            {
                meta.Add(new("ostree.commit.version", GVariantValue.FromString(v)));
            }

            meta.Add(new("ostree.commit.timestamp", GVariantValue.FromUInt64(BinaryPrimitives.ReverseEndianness(commit.Timestamp))));
            return GVariantValue.FromTuple(
                GVariantValue.FromString(name),
                GVariantValue.FromTuple(GVariantValue.FromUInt64((ulong)bytes.Length), GVariantValue.FromBytes(checksum.ToBytes()), GVariantValue.FromVarDict(meta)));
        }

        // As libostree: a repository without a collection id lists its local refs; one with lists the refs of its own
        // collection there, and every other collection's (mirrors, remotes with a collection id) in the collection map.
        var entries = new List<GVariantValue>();
        if (repo.CollectionId is null)
        {
            foreach (var (name, checksum) in repo.ListRefs(includeRemotes: false).OrderBy(r => r.Key, Utf8NameComparer.Instance))
            {
                entries.Add(Entry(name, checksum));
            }
        }

        var map = new List<GVariantValue>();
        foreach (var group in repo.ListCollectionRefs().GroupBy(kv => kv.Key.Collection).OrderBy(g => g.Key, Utf8NameComparer.Instance))
        {
            var refs = group.OrderBy(kv => kv.Key.Ref, Utf8NameComparer.Instance).Select(kv => Entry(kv.Key.Ref, kv.Value)).ToList();
            if (group.Key == repo.CollectionId)
            {
                entries.AddRange(refs);
            }
            else
            {
                map.Add(GVariantValue.FromDictEntry(GVariantValue.FromString(group.Key), GVariantValue.FromArray(RefEntry, refs)));
            }
        }

        var repoMeta = new List<KeyValuePair<string, GVariantValue>>(extraMetadata ?? [])
        {
            new("ostree.summary.last-modified", GVariantValue.FromUInt64(BinaryPrimitives.ReverseEndianness((ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds()))),
            new("ostree.summary.mode", GVariantValue.FromString(repo.Mode.ToConfigName())),
            new("ostree.summary.tombstone-commits", GVariantValue.FromBoolean(repo.Config.GetBoolean("core", "tombstone-commits", false))),
            new("ostree.summary.indexed-deltas", GVariantValue.FromBoolean(true)),
        };
        if (repo.CollectionId is { } cid)
        {
            repoMeta.Add(new("ostree.summary.collection-id", GVariantValue.FromString(cid)));
        }

        if (map.Count > 0)
        {
            repoMeta.Add(new("ostree.summary.collection-map", GVariantValue.FromArray(CollectionMapEntry, map)));
        }

        // Deltas are listed in the summary (for older clients) and in delta-indexes/ (what indexed-deltas promises).
        // core.no-deltas-in-summary leaves them to delta-indexes/ alone, as libostree.
        var deltas = Deltas.StaticDeltas.Index(repo);
        if (deltas.Count > 0 && !repo.Config.GetBoolean("core", "no-deltas-in-summary", false))
        {
            repoMeta.Add(new("ostree.static-deltas", Deltas.StaticDeltas.IndexValue(deltas)));
        }

        Deltas.StaticDeltas.WriteIndexes(repo, deltas);

        var summary = GVariantValue.FromTuple(GVariantValue.FromArray(RefEntry, entries), GVariantValue.FromVarDict(GHashTableOrder.Reorder(repoMeta))).ToBytes();
        FileUtil.WriteAtomic(System.IO.Path.Combine(repo.Path, "summary"), summary, repo.Fsync);
        File.Delete(System.IO.Path.Combine(repo.Path, "summary.sig"));
        return summary;
    }

    /// <summary>The ref of a collection repository's metadata commit.</summary>
    public const string MetadataRef = "ostree-metadata";

    /// <summary>
    /// As <c>ostree summary --update</c> does in a repository with a collection id: a new commit on
    /// <c>ostree-metadata</c> (after the last one) of an empty tree, whose metadata is <paramref name="additionalMetadata"/>
    /// with the commit's collection and ref bindings, made at <paramref name="now"/>. Returns its checksum.
    /// </summary>
    public static Checksum WriteMetadataCommit(OstreeRepo repo, IEnumerable<KeyValuePair<string, GVariantValue>> additionalMetadata, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var collection = repo.CollectionId ?? throw new OstreeException(OstreeErrorCode.RepositoryConfigInvalid, $"{repo.Path} has no collection id");
        var meta = new List<KeyValuePair<string, GVariantValue>>(additionalMetadata)
        {
            new("ostree.collection-binding", GVariantValue.FromString(collection)),
            new("ostree.ref-binding", GVariantValue.FromArray(GVariantType.Parse("s"), [GVariantValue.FromString(MetadataRef)])),
        };
        var parent = repo.ResolveRev(MetadataRef, allowMissing: true);
        using var tx = repo.BeginTransaction();
        var dirMeta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(0, 0, 0x41ED, Xattrs.Empty).ToBytes());
        var dirTree = tx.WriteMetadata(ObjectType.DirTree, new DirTree([], []).ToBytes());
        var commit = new Commit(GVariantValue.FromVarDict(GHashTableOrder.Reorder(meta)), parent, string.Empty, string.Empty, (ulong)now.ToUnixTimeSeconds(), dirTree, dirMeta);
        var id = tx.WriteMetadata(ObjectType.Commit, commit.ToBytes());
        tx.SetRef(MetadataRef, id);
        tx.Commit();
        return id;
    }

    /// <summary>
    /// Writes <c>summary.sig</c>: each signer signs the exact summary bytes (spec 5.3); OpenPGP signatures first, then
    /// each engine's appended under its key, as ostree adds them.
    /// </summary>
    public static void Sign(OstreeRepo repo, byte[] summary, IReadOnlyList<Signing.SignEngine> signers, IReadOnlyList<Func<byte[], byte[]>> gpgSigners)
    {
        ArgumentNullException.ThrowIfNull(signers);
        if (gpgSigners.Count == 0 && signers.Count == 0)
        {
            return;
        }

        GVariantValue? sig = gpgSigners.Count == 0 ? null : Signing.SignatureMetadata.WithArray(null, Signing.GpgCommitSigner.MetadataKey, gpgSigners.Select(g => g(summary)));
        foreach (var s in signers)
        {
            sig = s.AppendSignature(sig, summary);
        }

        FileUtil.WriteAtomic(System.IO.Path.Combine(repo.Path, "summary.sig"), sig!.ToBytes(), repo.Fsync);
    }

    /// <summary>
    /// What a summary lists, from one parse: every ref as libostree's <c>ostree_repo_remote_list_collection_refs</c>
    /// reads them (its main refs under the summary's collection id, null when it names none, then those of its
    /// collection map), that collection id, and when the summary was written.
    /// </summary>
    public static SummaryListing ReadListing(byte[] summary)
    {
        var v = GVariantValue.Parse(Type, summary);
        string? main = null;
        GVariantValue? map = null;
        ulong modified = 0;
        foreach (var (key, value) in v[1].GetVarDictEntries())
        {
            switch (key)
            {
                case "ostree.summary.collection-id" when value.Type.Text == "s":
                    main = value.GetString();
                    break;
                case "ostree.summary.collection-map" when value.Type.Text == "a{sa(s(taya{sv}))}":
                    map = value;
                    break;
                case "ostree.summary.last-modified" when value.Type.Text == "t":
                    modified = BinaryPrimitives.ReverseEndianness(value.GetUInt64()); // stored big-endian, as libostree
                    break;
            }
        }

        var refs = new List<SummaryRef>();
        void Add(string? collection, GVariantValue entries)
        {
            foreach (var e in entries.GetChildren())
            {
                refs.Add(new SummaryRef(collection, e[0].GetString(), new Checksum(e[1][1].GetBytes()), e[1][0].GetUInt64(), e[1][2]));
            }
        }

        Add(main, v[0]);
        foreach (var entry in map?.GetChildren() ?? [])
        {
            Add(entry[0].GetString(), entry[1]);
        }

        return new SummaryListing(main, modified, refs);
    }

    /// <summary>Reads the refs listed in summary bytes.</summary>
    public static IReadOnlyList<(string Ref, Checksum Commit, ulong Size, GVariantValue Metadata)> ReadRefs(byte[] summary)
    {
        var v = GVariantValue.Parse(Type, summary);
        return v[0].GetChildren().Select(e => (e[0].GetString(), new Checksum(e[1][1].GetBytes()), e[1][0].GetUInt64(), e[1][2])).ToList();
    }
}

/// <summary>
/// What a summary lists: its collection id (null: none), when it was written (seconds since 1970, 0 when it does not
/// say), and its refs.
/// </summary>
public sealed record SummaryListing(string? CollectionId, ulong LastModified, IReadOnlyList<SummaryRef> Refs)
{
    /// <summary>The commit the summary lists for a ref of a collection (null: one of its main refs of no collection).</summary>
    public Checksum? Find(string? collection, string refName) => Refs.FirstOrDefault(r => r.Collection == collection && r.Ref == refName)?.Commit;
}

/// <summary>A ref a summary lists: its collection (null: none named), name, commit, the commit's size and the ref's metadata.</summary>
public sealed record SummaryRef(string? Collection, string Ref, Checksum Commit, ulong CommitSize, GVariantValue Metadata)
{
    /// <summary>The commit's timestamp the summary gives (<c>ostree.commit.timestamp</c>, big-endian), 0 when it does not.</summary>
    public ulong CommitTimestamp => Metadata.Lookup("ostree.commit.timestamp") is { Type.Text: "t" } t ? BinaryPrimitives.ReverseEndianness(t.GetUInt64()) : 0;
}
