// Building commit objects with ostree commit's metadata rules (spec: ostree-repo-format.md, section 4.5).
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>What goes into a new commit besides its tree.</summary>
public sealed class CommitRequest
{
    /// <summary>Branch to update (and to bind the commit to), unless orphan.</summary>
    public string? Branch { get; init; }

    /// <summary>Subject line.</summary>
    public string Subject { get; init; } = string.Empty;

    /// <summary>Body text.</summary>
    public string Body { get; init; } = string.Empty;

    /// <summary>Commit time; default SOURCE_DATE_EPOCH or now.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Explicit parent; null means the branch's current commit.</summary>
    public Checksum? Parent { get; init; }

    /// <summary>No parent at all (<c>--parent=none</c>).</summary>
    public bool NoParent { get; init; }

    /// <summary>Do not write a ref (<c>--orphan</c>).</summary>
    public bool Orphan { get; init; }

    /// <summary>Metadata entries in command-line order (strings first, then typed values).</summary>
    public IReadOnlyList<KeyValuePair<string, GVariantValue>> Metadata { get; init; } = [];

    /// <summary>Detached metadata entries.</summary>
    public IReadOnlyList<KeyValuePair<string, GVariantValue>> DetachedMetadata { get; init; } = [];

    /// <summary>Extra refs to bind to (<c>--bind-ref</c>).</summary>
    public IReadOnlyList<string> BindRefs { get; init; } = [];

    /// <summary>Leave out the ref and collection bindings (<c>--no-bindings</c>).</summary>
    public bool NoBindings { get; init; }

    /// <summary>Add <c>ostree.bootable</c> and <c>ostree.linux</c>.</summary>
    public bool Bootable { get; init; }

    /// <summary>Add <c>ostree.sizes</c>.</summary>
    public bool GenerateSizes { get; init; }

    /// <summary>Add <c>ostree.composefs.digest.v0</c>, the fs-verity digest of the commit's composefs image.</summary>
    public bool GenerateComposefsMetadata { get; init; }

    /// <summary>Skip the commit when the tree equals the parent's.</summary>
    public bool SkipIfUnchanged { get; init; }

    /// <summary>Signatures to add over the commit bytes, in the same transaction (the ref never sees an unsigned commit).</summary>
    public IReadOnlyList<CommitSigner> Signers { get; init; } = [];
}

/// <summary>One signature to make over new commit bytes, stored under <paramref name="MetadataKey"/> (e.g. <c>ostree.gpgsigs</c>).</summary>
public sealed record CommitSigner(string MetadataKey, Func<byte[], byte[]> Sign);

/// <summary>Result of a commit.</summary>
public sealed record CommitResult(Checksum Commit, bool Skipped, TransactionStats? Stats);

/// <summary>Writes commit objects.</summary>
public static class CommitWriter
{
    /// <summary>Resolves the timestamp rule: explicit, else SOURCE_DATE_EPOCH, else now.</summary>
    public static ulong ResolveTimestamp(DateTimeOffset? explicitTime)
    {
        if (explicitTime is { } t)
        {
            return (ulong)t.ToUnixTimeSeconds();
        }

        var sde = Environment.GetEnvironmentVariable("SOURCE_DATE_EPOCH");
        if (sde is not null)
        {
            // As libostree reads it (strtoll): leading blanks, a sign and the digits that follow; trailing text is
            // ignored; no digits, or a value outside 64-bit signed, is refused in its words.
            var text = sde.TrimStart(' ', '\t', '\n', '\r', '\f', '\v');
            int end = text.Length > 0 && text[0] is '+' or '-' ? 1 : 0;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }

            if (end == 0 || !char.IsAsciiDigit(text[end - 1]))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Failed to convert SOURCE_DATE_EPOCH");
            }

            return long.TryParse(text.AsSpan(0, end), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var s)
                ? unchecked((ulong)s)
                : throw new OstreeException(OstreeErrorCode.InvalidArgument, "Parsing SOURCE_DATE_EPOCH: Numerical result out of range");
        }

        return (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    /// <summary>Writes the root of <paramref name="root"/>, the commit, its detached metadata and (queued) the ref.</summary>
    public static CommitResult Write(RepoTransaction tx, MutableTree root, CommitRequest req)
    {
        var repo = tx.Repo;
        Checksum? parent = null;
        if (!req.NoParent)
        {
            parent = req.Parent ?? (req.Branch is not null && !req.Orphan ? repo.ResolveRev(req.Branch, allowMissing: true) : null);
        }

        var (tree, meta) = root.Write(tx);
        if (req.SkipIfUnchanged && parent is { } p)
        {
            var pc = repo.LoadCommit(p);
            if (pc.RootTree == tree && pc.RootMeta == meta)
            {
                return new CommitResult(p, true, null);
            }
        }

        var entries = new List<KeyValuePair<string, GVariantValue>>(req.Metadata);
        if (entries.Any(e => e.Key.Length == 0))
        {
            // libostree refuses such a commit as malformed, in these words.
            throw new OstreeException(OstreeErrorCode.InvalidArgument, "Empty metadata key");
        }

        if (!req.NoBindings)
        {
            var bindings = new List<string>(req.BindRefs);
            if (req.Branch is not null && !req.Orphan)
            {
                bindings.Add(req.Branch);
            }

            entries.Add(new("ostree.ref-binding", GVariantValue.FromStringArray(bindings.Distinct().Order(StringComparer.Ordinal))));
            if (repo.CollectionId is { } cid)
            {
                entries.Add(new("ostree.collection-binding", GVariantValue.FromString(cid)));
            }
        }

        if (req.Bootable)
        {
            var kver = BootableTree.FindKernelVersion(root);
            entries.Add(new("ostree.bootable", GVariantValue.FromBoolean(true)));
            if (kver is not null)
            {
                entries.Add(new("ostree.linux", GVariantValue.FromString(kver)));
            }

            entries = GHashTableOrder.Reorder(entries);
        }

        if (req.GenerateComposefsMetadata)
        {
            // libostree adds it through a GVariantDict, after the bootable keys.
            entries.Add(new(Composefs.OstreeComposefs.DigestMetadataKey, GVariantValue.FromBytes(Composefs.OstreeComposefs.ComputeCommitDigest(tx, tree, meta))));
            entries = GHashTableOrder.Reorder(entries);
        }

        if (req.GenerateSizes)
        {
            entries.Add(new("ostree.sizes", SizesIndex.Build(tx)));
        }

        var commit = new Commit(GVariantValue.FromVarDict(entries), parent, req.Subject, req.Body, ResolveTimestamp(req.Timestamp), tree, meta);
        var bytes = commit.ToBytes();
        var id = tx.WriteMetadata(ObjectType.Commit, bytes);
        var detached = req.DetachedMetadata.Count > 0 ? GVariantValue.FromVarDict(req.DetachedMetadata) : null;
        foreach (var group in req.Signers.GroupBy(s => s.MetadataKey))
        {
            detached = Signing.SignatureMetadata.WithArray(detached, group.Key, group.Select(s => s.Sign(bytes)));
        }

        if (detached is not null)
        {
            tx.WriteCommitDetachedMetadata(id, detached);
        }

        if (req.Branch is not null && !req.Orphan)
        {
            tx.SetRef(req.Branch, id);
        }

        return new CommitResult(id, false, null);
    }
}
