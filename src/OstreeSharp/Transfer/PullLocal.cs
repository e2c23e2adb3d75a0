// pull-local: copy commits and their objects from another repository, verifying every object.
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Transfer;

/// <summary>What a pull-local imported: metadata and content objects, and the content bytes written.</summary>
public sealed record PullLocalStats(int Metadata, int Content, long ContentBytesWritten);

/// <summary>How pull-local copies (the flags of <c>ostree pull-local</c>).</summary>
public sealed record PullLocalOptions
{
    /// <summary>Parents to follow (-1: all history).</summary>
    public int Depth { get; init; }

    /// <summary>Copy only commit objects and their detached metadata; the commits are marked partial.</summary>
    public bool CommitMetadataOnly { get; init; }

    /// <summary>Verify each commit's signatures with the remote's keys (requires a remote).</summary>
    public bool GpgVerify { get; init; }

    /// <summary>Verify the source's summary signature with the remote's keys (requires a remote).</summary>
    public bool GpgVerifySummary { get; init; }

    /// <summary>Refuse regular files whose mode is outside 0775 (world-writable, setuid, ...).</summary>
    public bool BareUserOnlyFiles { get; init; }

    /// <summary>
    /// Take objects under the ids the source gives without hashing them, as the ostree CLI's pull-local does unless
    /// given <c>--untrusted</c>. Metadata is parsed and checked either way.
    /// </summary>
    public bool Trusted { get; init; }

    /// <summary>
    /// Rebuild each commit from one of the source's static deltas (from the newest complete commit here, else from
    /// nothing), failing when it has none, as <c>--require-static-deltas</c>.
    /// </summary>
    public bool RequireStaticDeltas { get; init; }

    /// <summary>Check each commit's ref and collection bindings as a pull does (off: <c>--disable-verify-bindings</c>).</summary>
    public bool VerifyBindings { get; init; }

    /// <summary>
    /// The signatures each commit must carry, when a remote's whole policy applies (a <c>file://</c> remote pulled as
    /// pull-local: its gpg-verify and sign-verify); null: <see cref="GpgVerify"/> alone decides.
    /// </summary>
    public VerificationPolicy? Policy { get; init; }

    /// <summary>The collection the commits must be bound to (the source's); null: none checked.</summary>
    public string? CollectionId { get; init; }

    /// <summary>
    /// What to copy and where its refs go, instead of refs resolved in the source (which must then be empty): pinned
    /// commits (a pull's REF@COMMIT) and collection refs (a mirror's, <c>create-usb</c>'s).
    /// </summary>
    public IReadOnlyList<PullLocalTarget>? Targets { get; init; }

    /// <summary>Write the refs as a mirror does: a target's collection ref, or a local ref (not REMOTE:REF).</summary>
    public bool Mirror { get; init; }
}

/// <summary>
/// A commit to copy and its ref: written as REMOTE:REF (REF without a remote), or in a mirror as a ref of
/// <paramref name="Collection"/> (refs/heads for none or the repository's own, else refs/mirrors/COLLECTION/REF).
/// </summary>
public sealed record PullLocalTarget(string Ref, Checksum Commit, string? Collection = null);

/// <summary>Copies commits between local repositories of any modes.</summary>
public static class PullLocal
{
    /// <summary>
    /// The commit a pull from the local repository <paramref name="source"/> takes for a collection ref, found as
    /// libostree finds it there: in the source's summary when it has one (<paramref name="listing"/>), else among every
    /// ref of the collection (the source's own, its mirrors', its remotes').
    /// </summary>
    /// <exception cref="ObjectNotFoundException">Neither has it.</exception>
    public static Checksum ResolveCollectionRef(OstreeRepo source, SummaryListing? listing, string collection, string refName)
    {
        ArgumentNullException.ThrowIfNull(source);
        return listing?.Find(collection, refName)
            ?? (source.ListCollectionRefs(collection).TryGetValue((collection, refName), out var c) ? c
                : throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"No such branch ({collection}, {refName}) in {source.Path}"));
    }

    /// <summary>Copies <paramref name="refs"/> (all refs when empty) from <paramref name="source"/> as <paramref name="options"/> say (the defaults when null); returns objects copied.</summary>
    public static int Run(OstreeRepo source, OstreeRepo dest, IReadOnlyList<string> refs, string? remote, PullLocalOptions? options = null, IProgress<TreeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new PullLocalOptions();
        var stats = Import(source, dest, refs, remote, options, progress, cancellationToken);
        return stats.Metadata + stats.Content;
    }

    /// <summary>
    /// As <see cref="Run(OstreeRepo, OstreeRepo, IReadOnlyList{string}, string?, PullLocalOptions, IProgress{TreeProgress}?, CancellationToken)"/>,
    /// returning what was imported: metadata and content objects, and the content bytes the transaction wrote.
    /// </summary>
    public static PullLocalStats Import(OstreeRepo source, OstreeRepo dest, IReadOnlyList<string> refs, string? remote, PullLocalOptions options, IProgress<TreeProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        int depth = options.Depth;
        if ((options.GpgVerify || options.GpgVerifySummary) && remote is null)
        {
            throw new ArgumentException("GpgVerify and GpgVerifySummary need a remote whose keys verify", nameof(remote));
        }

        VerificationPolicy? policy = options.Policy ?? (options.GpgVerify ? VerificationPolicy.ForGpg(VerificationPolicy.RemoteGpgKeys(dest, remote!)) : null);
        if (options.GpgVerifySummary)
        {
            var summaryPath = Path.Combine(source.Path, "summary");
            var sigPath = Path.Combine(source.Path, "summary.sig");
            if (!File.Exists(summaryPath) || !File.Exists(sigPath))
            {
                throw new SignatureException($"GPG verification enabled, but no summary signatures found in {source.Path}", SignatureFailure.NoSignature);
            }

            // summary.sig is a{sv} as a commit's detached metadata is, its signatures over the summary's bytes.
            var sig = GVariant.GVariantValue.Parse(GVariant.GVariantType.VarDict, File.ReadAllBytes(sigPath));
            GpgCommitSigner.Verify(File.ReadAllBytes(summaryPath), sig, VerificationPolicy.RemoteGpgKeys(dest, remote!));
        }

        if (options.Targets is not null && refs.Count > 0)
        {
            throw new ArgumentException("Refs and explicit targets cannot be copied together");
        }

        var wanted = options.Targets is { } targets
            ? targets.Select(t => (Name: t.Ref, Commit: t.Commit, t.Collection)).ToList()
            : refs.Count == 0
            ? source.ListRefs().Select(kv => (Name: kv.Key, Commit: kv.Value, Collection: (string?)null)).ToList()
            : refs.Select(r => (Name: r, Commit: source.Resolve(r), Collection: (string?)null)).ToList();

        // Every ref of the source, as libostree takes them, includes its remotes' refs, which cannot be written as
        // local refs: refused in libostree's words, before anything is copied.
        if (refs.Count == 0 && wanted.FirstOrDefault(w => w.Name.Contains(':', StringComparison.Ordinal)) is { Name: { } mixed })
        {
            throw new OstreeFormatException(OstreeErrorCode.RefInvalid, $"Invalid ref name {mixed}");
        }
        if (options.RequireStaticDeltas)
        {
            foreach (var (_, commit, _) in wanted)
            {
                ApplySourceDelta(source, dest, commit);
            }
        }

        using var tx = dest.BeginTransaction();
        tx.BareUserOnlyFiles = options.BareUserOnlyFiles;
        int copied = 0, contentCopied = 0;

        // As libostree: the source's objects are taken as hardlinks where they can be (content only between
        // repositories of one mode), after being hashed unless the source is trusted; commits are parsed and their
        // trees walked either way.
        bool link = !options.BareUserOnlyFiles;
        var partial = new List<Checksum>();
        var complete = new List<Checksum>();
        var seen = new HashSet<(Checksum, ObjectType)>();
        foreach (var (name, commit, collection) in wanted)
        {
            Checksum? c = commit;
            for (int d = 0; c is { } cc && (depth < 0 || d <= depth); d++)
            {
                if (!source.HasObject(cc, ObjectType.Commit))
                {
                    // As libostree: history may end at a missing parent, but the commit asked for must be there.
                    if (d == 0)
                    {
                        throw new ObjectNotFoundException($"No such metadata object {cc}.commit");
                    }

                    break;
                }

                var bytes = source.ReadMetadataBytes(ObjectType.Commit, cc, verify: !options.Trusted);
                Commit parsed;
                try
                {
                    parsed = Commit.Parse(bytes);
                }
                catch (OstreeFormatException e)
                {
                    throw new ObjectCorruptedException($"{cc}.commit", e.Message, e);
                }

                if (options.VerifyBindings)
                {
                    CommitBindings.Verify(cc, parsed, d == 0 && !Checksum.TryParse(name, out _) ? name : null, options.CollectionId);
                }

                var detached = source.LoadDetachedMetadata(cc);
                if (policy is not null)
                {
                    CommitVerifier.Verify(bytes, detached, policy);
                }

                if (options.CommitMetadataOnly)
                {
                    if (!tx.HasObject(cc, ObjectType.Commit))
                    {
                        if (!(link && tx.TryImportByHardlink(source, cc, ObjectType.Commit)))
                        {
                            tx.WriteMetadataTrusted(ObjectType.Commit, cc, bytes, verifyChecksum: !options.Trusted);
                        }

                        partial.Add(cc);
                        copied++;
                    }

                    if (detached is not null)
                    {
                        tx.WriteCommitDetachedMetadata(cc, detached);
                    }

                    c = parsed.Parent;
                    continue;
                }

                var contents = new List<Checksum>();
                Reachability.WalkCommitTree(source, parsed, seen, r =>
                {
                    if (tx.HasObject(r.Checksum, r.Type))
                    {
                        return;
                    }

                    if (r.Type == ObjectType.File)
                    {
                        contents.Add(r.Checksum);
                    }
                    else
                    {
                        var metaBytes = options.Trusted ? null : source.ReadMetadataBytes(r.Type, r.Checksum, verify: true);
                        if (!(link && tx.TryImportByHardlink(source, r.Checksum, r.Type)))
                        {
                            tx.WriteMetadataTrusted(r.Type, r.Checksum, metaBytes ?? source.ReadMetadataBytes(r.Type, r.Checksum, verify: false), verifyChecksum: !options.Trusted);
                        }

                        copied++;
                    }
                });
                long done = 0;
                Parallel.ForEach(contents, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, cs =>
                {
                    if (link && (options.Trusted || tx.Repo.Mode != source.Mode || VerifiedContent(source, cs)) && tx.TryImportByHardlink(source, cs, ObjectType.File))
                    {
                        return;
                    }

                    var obj = source.LoadContent(cs);
                    using var data = obj.OpenData();
                    if (options.Trusted)
                    {
                        tx.WriteContentTrusted(obj.Header, data, obj.Size, cs);
                    }
                    else
                    {
                        tx.WriteContent(obj.Header, data, obj.Size, cs);
                    }

                    long n = Interlocked.Increment(ref done);
                    if (progress is not null && n % 256 == 0)
                    {
                        progress.Report(new TreeProgress(n, contents.Count, 0, 0));
                    }
                });
                contentCopied += contents.Count;
                if (!tx.HasObject(cc, ObjectType.Commit))
                {
                    if (!(link && tx.TryImportByHardlink(source, cc, ObjectType.Commit)))
                    {
                        tx.WriteMetadataTrusted(ObjectType.Commit, cc, bytes, verifyChecksum: !options.Trusted);
                    }

                    copied++;
                }

                if (detached is not null)
                {
                    tx.WriteCommitDetachedMetadata(cc, detached);
                }

                complete.Add(cc);
                c = parsed.Parent;
            }

            if (options.Mirror && collection is not null)
            {
                tx.SetCollectionRef(collection, name, commit);
            }
            else
            {
                tx.SetRef(remote is null || options.Mirror ? name : $"{remote}:{name}", commit);
            }
        }

        // As a pull: state/COMMIT.commitpartial marks a commit whose tree is not all here. Partial commits are marked
        // before their objects appear, complete ones unmarked before the refs move, so a kill never leaves a commit
        // that fsck would call corrupt or a ref on a commit marked partial.
        var state = Path.Combine(dest.Path, "state");
        Directory.CreateDirectory(state);
        foreach (var p in partial)
        {
            File.WriteAllBytes(Path.Combine(state, p.ToHex() + ".commitpartial"), []);
        }

        tx.BeforeRefs = () =>
        {
            foreach (var p in complete)
            {
                File.Delete(Path.Combine(state, p.ToHex() + ".commitpartial"));
            }
        };
        var written = tx.Commit();

        return new PullLocalStats(copied, contentCopied, written.ContentBytesWritten);
    }

    // An untrusted source's content object, hashed before it is linked; a mismatch is refused, naming it.
    private static bool VerifiedContent(OstreeRepo source, Checksum c) =>
        Fsck.Verify(source, c, ObjectType.File) is { } problem ? throw new ObjectCorruptedException($"{c}.file", problem) : true;

    // The delta to COMMIT that the source has, from the newest commit complete here (else from nothing), applied; the
    // commit stays marked partial until the walk that follows has copied its fallback objects.
    private static void ApplySourceDelta(OstreeRepo source, OstreeRepo dest, Checksum commit)
    {
        if (dest.HasObject(commit, ObjectType.Commit) && !dest.IsCommitPartial(commit))
        {
            return;
        }

        // The deltas the source publishes (its summary and its delta index of the commit), as a pull finds them.
        var deltas = Deltas.StaticDeltas.Published(source, commit).ToList();
        var from = deltas.Where(d => d.From is { } f && dest.HasObject(f, ObjectType.Commit) && !dest.IsCommitPartial(f))
            .Select(d => d.From).OrderByDescending(f => dest.LoadCommit(f!.Value).Timestamp).FirstOrDefault();
        if (from is null && !deltas.Any(d => d.From is null))
        {
            throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"Static deltas required, but none found for (null) to {commit} in {source.Path}");
        }

        dest.MarkCommitPartial(commit, byFsck: false);
        Deltas.StaticDeltas.ApplyOffline(dest, Path.Combine(source.Path, new Deltas.DeltaName(from, commit).RelativeDir), new Deltas.DeltaApplyOptions { AllowFallbacks = true });
    }
}
