// `pull REMOTE [REF...]` from an archive repository served over HTTP (or file://), as libostree
// does it (spec: ostree-repo-format.md, section 6): summary (checked per the remote's config) or
// refs/heads, config, then per commit its detached metadata and the commit (signatures checked
// before anything of its tree is fetched), then dirtrees, dirmetas and content objects with a
// bounded number of parallel requests. Every object is verified against its id. Objects fetched
// by a pull that fails are kept, with state/COMMIT.commitpartial, so the next pull resumes.
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using OstreeSharp.Deltas;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Transfer;

/// <summary>How to pull.</summary>
public sealed record PullOptions
{
    /// <summary>Write refs as local heads (refs/heads) and, when no refs are given, pull every ref of the summary.</summary>
    public bool Mirror { get; init; }

    /// <summary>Fetch only commit objects and their detached metadata.</summary>
    public bool CommitMetadataOnly { get; init; }

    /// <summary>
    /// Collection refs to pull instead of refs (libostree's <c>collection-refs</c>, used by <c>find-remotes --pull</c>
    /// and <c>create-usb</c>): each at the commit given or, without one, at the commit the remote's summary lists for it
    /// (among its main refs when the collection is the summary's, else in its collection map). Not with refs.
    /// </summary>
    public IReadOnlyList<CollectionRefRequest>? CollectionRefs { get; init; }

    /// <summary>
    /// Only these paths of each commit's tree (<c>--subpath</c>): the folders leading to them (not their other files)
    /// and everything below them. The commits stay partial (<c>state/COMMIT.commitpartial</c>) until a full pull.
    /// </summary>
    public IReadOnlyList<string>? Subpaths { get; init; }

    /// <summary>
    /// Repositories on this machine to take objects from before asking the remote (<c>--localcache-repo</c>): what
    /// they have is copied (linked when it can be) and counted as local. Commits taken from them are verified as
    /// fetched ones are.
    /// </summary>
    public IReadOnlyList<OstreeRepo> LocalCacheRepos { get; init; } = [];

    /// <summary>Skip the checks of the commits' ref and collection bindings (<c>--disable-verify-bindings</c>).</summary>
    public bool DisableVerifyBindings { get; init; }

    /// <summary>
    /// Verify commits with this policy instead of the remote's, and read its summary without checking its signatures:
    /// how <c>find-remotes --pull</c> pulls, as libostree's pull from a finder's results.
    /// </summary>
    internal VerificationPolicy? PolicyOverride { get; init; }

    /// <summary>The remote's collection id, which pulled commits must be bound to; set by the pull from the remote's config.</summary>
    internal string? RemoteCollectionId { get; init; }

    /// <summary>Parents to follow (-1: all history).</summary>
    public int Depth { get; init; }

    /// <summary>Requests in flight at most (and HTTP connections).</summary>
    public int MaxConcurrentRequests { get; init; } = 8;

    /// <summary>Retries of a request that failed on the network or with a 5xx answer.</summary>
    public int NetworkRetries { get; init; } = 5;

    /// <summary>A request slower than this many bytes a second, averaged over <see cref="LowSpeedTimeSeconds"/>, is aborted (and retried); 0: never.</summary>
    public long LowSpeedLimitBytes { get; init; } = 1000;

    /// <summary>The window of <see cref="LowSpeedLimitBytes"/>, in seconds; 0: never abort.</summary>
    public int LowSpeedTimeSeconds { get; init; } = 30;

    /// <summary>Progress: objects fetched, objects known to be needed so far, bytes received.</summary>
    public IProgress<TreeProgress>? Progress { get; init; }

    /// <summary>Never use static deltas; fetch objects.</summary>
    public bool DisableStaticDeltas { get; init; }

    /// <summary>Fail unless every commit comes from a static delta.</summary>
    public bool RequireStaticDeltas { get; init; }

    /// <summary>
    /// <c>--http-trusted</c>: a mirror into an archive repository keeps content objects fetched over HTTP as they
    /// come, without hashing them, as libostree does. Pulls into other modes always check them.
    /// </summary>
    public bool HttpTrusted { get; init; }

    /// <summary>
    /// <c>--untrusted</c>: also check the content objects of a <c>file://</c> remote pulled into an archive
    /// repository, which libostree (and so this pull) otherwise trusts as a local repository.
    /// </summary>
    public bool Untrusted { get; init; }

    /// <summary>
    /// <c>--dry-run</c>: find the static deltas and report what they would fetch (<see cref="PullResult.DryRun"/>),
    /// writing nothing. Needs <see cref="RequireStaticDeltas"/>, as in libostree.
    /// </summary>
    public bool DryRun { get; init; }

    /// <summary>Refuse a regular file with permission bits outside 0775 (setuid, setgid, sticky, world-writable), as <c>--bareuseronly-files</c>.</summary>
    public bool BareUserOnlyFiles { get; init; }

    /// <summary>
    /// libostree's <c>timestamp-check-from-rev</c>: every commit pulled must be no older than this local commit,
    /// checked on the commit object before anything else of it is fetched (an upgrade never goes backwards).
    /// </summary>
    public Checksum? TimestampCheckFromRev { get; init; }

    /// <summary>Pull from this URL instead of the remote's (<c>--url</c>).</summary>
    public string? Url { get; init; }

    /// <summary>Keep cached summaries in this folder's <c>summaries</c> instead of the repository's <c>tmp/cache</c> (<c>--cache-dir</c>).</summary>
    public string? CacheDir { get; init; }

    /// <summary>Headers added to every request (<c>--http-header NAME=VALUE</c>).</summary>
    public IReadOnlyList<(string Name, string Value)> HttpHeaders { get; init; } = [];

    /// <summary>Products appended to the User-Agent (<c>--append-user-agent</c>).</summary>
    public string? AppendUserAgent { get; init; }

    /// <summary>Each commit pulled for a ref must be no older than the commit the ref has now (<c>--timestamp-check</c>).</summary>
    public bool TimestampCheck { get; init; }

    /// <summary>Told why a delta the server offers was not used (the pull then fetches objects).</summary>
    public IProgress<string>? Warnings { get; init; }
}

/// <summary>A collection ref to pull, at <paramref name="Commit"/> or (null) at what the remote's summary says.</summary>
public sealed record CollectionRefRequest(string Collection, string Ref, Checksum? Commit = null);

/// <summary>What a pull did.</summary>
public sealed record PullResult(IReadOnlyList<(string Ref, Checksum Commit)> Refs, int MetadataFetched, int ContentFetched, long BytesTransferred, long ContentBytesWritten, TimeSpan Elapsed, int RequestsRetried)
{
    /// <summary>The static deltas used, by name.</summary>
    public IReadOnlyList<string> DeltasUsed { get; init; } = [];

    /// <summary>Metadata objects taken from a <c>--localcache-repo</c> instead of fetched.</summary>
    public int MetadataLocal { get; init; }

    /// <summary>Content objects taken from a <c>--localcache-repo</c> instead of fetched.</summary>
    public int ContentLocal { get; init; }

    /// <summary>With <see cref="PullOptions.DryRun"/>: what the deltas would fetch; nothing was written.</summary>
    public DeltaDryRun? DryRun { get; init; }
}

/// <summary>
/// What a pull through static deltas would fetch, as libostree's <c>pull --dry-run</c> counts it: parts (fallback
/// objects counted as parts), those whose objects are all here already, and their compressed and uncompressed sizes.
/// </summary>
public sealed record DeltaDryRun(int FetchedParts, int TotalParts, long FetchedSize, long TotalSize, long TotalUncompressedSize);

/// <summary>Pulls from archive repositories over HTTP.</summary>
public static partial class RemotePull
{
    private const long MaxMetadataSize = 10 * 1024 * 1024;

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex CommitId();

    // Parses what a server sent; malformed bytes are reported with their URL.
    private static T ParseRemote<T>(string url, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (OstreeFormatException e)
        {
            throw new RemoteFetchException(url, "malformed: " + e.Message, e);
        }
    }

    /// <summary>
    /// Pulls <paramref name="refs"/> (refs or commit ids; empty: the remote's <c>branches</c>, or with
    /// <see cref="PullOptions.Mirror"/> every ref of its summary) from the configured remote.
    /// </summary>
    /// <exception cref="RemoteFetchException">The remote could not be read.</exception>
    /// <exception cref="ObjectCorruptedException">An object does not hash to its id.</exception>
    /// <exception cref="SignatureException">A commit or the summary fails the remote's signature policy.</exception>
    public static async Task<PullResult> RunAsync(OstreeRepo repo, string remote, IReadOnlyList<string> refs, PullOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(refs);
        options ??= new PullOptions();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var info = repo.RequireRemote(remote);
        // As libostree: a remote its owner has not finished setting up says why, in its own words.
        if (info.Options.TryGetValue("unconfigured-state", out var unconfigured))
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"remote unconfigured-state: {unconfigured}");
        }

        // As libostree: such a remote's content is fetched by something else.
        if (info.Options.TryGetValue("custom-backend", out var backend))
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Cannot fetch via libostree - remote '{remote}' uses custom backend '{backend}'");
        }

        info.RequireUrl();

        if (options.DryRun && !options.RequireStaticDeltas)
        {
            throw new ArgumentException($"{nameof(PullOptions.DryRun)} needs {nameof(PullOptions.RequireStaticDeltas)}", nameof(options));
        }

        // As libostree: a delta's content comes uncompressed, so an archive repository never applies deltas.
        if (repo.Mode == RepoMode.Archive && options.RequireStaticDeltas)
        {
            throw new OstreeException(OstreeErrorCode.InvalidArgument, "Can't use static deltas in an archive repo");
        }

        // As libostree: metadata (config, summary, refs, detached metadata) comes from url, objects and deltas from
        // contenturl when the remote has one (--url stands for both); either may be mirrorlist=URL.
        var metaUrl = options.Url ?? info.Url;
        var contentUrl = options.Url ?? info.Options.GetValueOrDefault("contenturl");
        var connection = RemoteConnection.FromRemote(remote, info.Options);
        var (fetcher, metalinkSummary) = await OpenFetcherAsync(metaUrl, repo, remote, options, connection, cancellationToken).ConfigureAwait(false);
        using var disposeFetcher = fetcher;
        using var contentFetcher = contentUrl is null ? null : (await OpenFetcherAsync(contentUrl, repo, remote, options, connection, cancellationToken).ConfigureAwait(false)).Fetcher;
        var objects = contentFetcher ?? fetcher;

        // The config first: only archive repositories can be pulled.
        var configBytes = await fetcher.GetBytesAsync("config", MaxMetadataSize, cancellationToken).ConfigureAwait(false)
            ?? throw new RemoteFetchException(fetcher.UrlOf("config"), fetcher.NotFoundReason + ": is this the URL of an ostree repository?");
        var remoteConfig = KeyFile.Parse(System.Text.Encoding.UTF8.GetString(configBytes), fetcher.UrlOf("config"));
        var remoteMode = remoteConfig.Get("core", "mode") ?? "bare";
        if (!remoteMode.StartsWith("archive", StringComparison.Ordinal) && fetcher.IsLocal)
        {
            // As libostree: a file:// remote is a repository on this machine, imported as pull-local would, whatever
            // its mode.
            return PullFromLocal(repo, remote, info, new Uri(fetcher.UrlOf(string.Empty)).LocalPath, refs, options, started, cancellationToken);
        }

        if (!remoteMode.StartsWith("archive", StringComparison.Ordinal))
        {
            throw new OstreeException(OstreeErrorCode.NotSupported, $"Can't pull from archives with mode \"{remoteMode}\" ({info.Url})");
        }

        // As libostree, the summary (which may be large) is fetched only when needed: to mirror every ref, to resolve
        // a ref to its commit, or to find deltas on a server whose config does not say they are indexed.
        bool deltasWanted = !options.DisableStaticDeltas && !options.CommitMetadataOnly && options.Subpaths is null && repo.Mode != RepoMode.Archive;
        bool indexedDeltas = remoteConfig.GetBoolean("core", "indexed-deltas", false);
        bool needSummary = (options.CollectionRefs is { } wantedCollectionRefs
                ? wantedCollectionRefs.Any(c => c.Commit is null)
                : refs.Count == 0 || refs.Any(r => !HasCommit(r)))
            || (deltasWanted && !indexedDeltas);
        byte[]? summary = null, sigBytes = null;
        if (needSummary)
        {
            // The signatures are checked on the raw bytes; then the summary is parsed once, so that a malformed one
            // is named by its URL (every later read of it parses the same bytes).
            sigBytes = await fetcher.GetBytesAsync("summary.sig", MaxMetadataSize, cancellationToken).ConfigureAwait(false);
            var cached = SummaryCache.LoadIfSameSignature(repo, remote, options.Url ?? info.Url, sigBytes, options.CacheDir);
            bool cacheVerified = false;
            if (cached is not null)
            {
                try
                {
                    if (options.PolicyOverride is null)
                    {
                        RemoteSummary.Verify(repo, remote, cached, sigBytes);
                    }

                    cacheVerified = true;
                }
                catch (SignatureException)
                {
                    // As libostree: a cached summary that does not match its signature is fetched again.
                    if (OstreeRepo.TestErrorRequested("invalid-cache"))
                    {
                        throw new OstreeException(OstreeErrorCode.Failed, $"Remote {remote} cached summary invalid and OSTREE_REPO_TEST_ERROR_INVALID_CACHE specified");
                    }

                    cached = null;
                }
            }

            summary = metalinkSummary ?? cached ?? await fetcher.GetBytesAsync("summary", MaxMetadataSize, cancellationToken).ConfigureAwait(false);
            if (summary is not null)
            {
                if (!cacheVerified && options.PolicyOverride is null)
                {
                    ParseRemote(fetcher.UrlOf("summary.sig"), () => RemoteSummary.Verify(repo, remote, summary, sigBytes));
                }

                ParseRemote(fetcher.UrlOf("summary"), () => GVariantValue.Parse(Summary.Type, summary));
                if (cached is null && sigBytes is not null)
                {
                    SummaryCache.Store(repo, remote, options.Url ?? info.Url, summary, sigBytes, options.CacheDir);
                }
            }
            else if (options.PolicyOverride is null && (RemoteSummary.IsTrue(info.Options.GetValueOrDefault("gpg-verify-summary")) || SignEngine.ForRemote(info, "sign-verify-summary") is not null))
            {
                throw new SignatureException($"Remote \"{remote}\" requires a signed summary, but {fetcher.UrlOf("summary")} does not exist", SignatureFailure.NoSignature);
            }
        }

        var targets = await ResolveTargetsAsync(fetcher, info, summary, refs, options, cancellationToken).ConfigureAwait(false);
        var policy = options.PolicyOverride ?? VerificationPolicy.ForRemote(repo, remote);
        var run = new PullRun(repo, objects, fetcher, options with { RemoteCollectionId = info.CollectionId }, cancellationToken);
        try
        {
            foreach (var (name, commit, _) in targets)
            {
                // --timestamp-check-from-rev: against that commit; --timestamp-check: against what the ref has now.
                var against = options.TimestampCheckFromRev
                    ?? (options.TimestampCheck && name is not null ? repo.ResolveRev(options.Mirror ? name : $"{remote}:{name}", allowMissing: true) : null);
                if (against is { } fromRev)
                {
                    await run.CheckTimestampAsync(commit, fromRev).ConfigureAwait(false);
                }
            }

            var deltas = deltasWanted ? new DeltaSource(objects, summary, indexedDeltas, cancellationToken) : null;
            foreach (var (name, commit, collection) in targets)
            {
                // A commit that is here complete needs no delta, required or not (libostree's "unchanged").
                if (deltas is not null && !(repo.HasObject(commit, ObjectType.Commit) && !repo.IsCommitPartial(commit)))
                {
                    var from = await BestDeltaStartAsync(repo, deltas, commit, name is null ? null : repo.ResolveRev($"{remote}:{name}", allowMissing: true)).ConfigureAwait(false);

                    if (from != commit && !await run.TryStaticDeltaAsync(deltas, from, commit, policy).ConfigureAwait(false) && options.RequireStaticDeltas)
                    {
                        // libostree's words (its printf shows a missing start as "(null)"), then where.
                        throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"Static deltas required, but none found for {from?.ToHex() ?? "(null)"} to {commit} at {info.Url}");
                    }
                }

                if (options.DryRun)
                {
                    continue;
                }

                await run.PullCommitAsync(commit, name, policy).ConfigureAwait(false);
                if (name is not null)
                {
                    SetPulledRef(run.Tx, remote, name, collection, commit, options.Mirror);
                }
            }

            if (options.DryRun)
            {
                run.Tx.Dispose(); // nothing is kept
                return new PullResult([], 0, 0, BytesFetched(), 0, started.Elapsed, Retries()) { DryRun = run.DryRunTotals };
            }

            await run.DrainAsync().ConfigureAwait(false);
            run.Finish();
        }
        catch
        {
            run.KeepWhatWasFetched();
            throw;
        }

        if (options.Mirror && refs.Count == 0 && options.CollectionRefs is null && summary is not null)
        {
            FileUtil.WriteAtomic(Path.Combine(repo.Path, "summary"), summary, fsync: repo.Fsync);
            var sigPath = Path.Combine(repo.Path, "summary.sig");
            if (sigBytes is not null)
            {
                FileUtil.WriteAtomic(sigPath, sigBytes, fsync: repo.Fsync);
            }
            else
            {
                File.Delete(sigPath);
            }
        }

        return new PullResult(targets.Where(t => t.Name is not null).Select(t => (t.Name!, t.Commit)).ToList(), run.MetadataFetched, run.ContentFetched, BytesFetched(), run.Stats?.ContentBytesWritten ?? 0, started.Elapsed, Retries())
        {
            DeltasUsed = run.DeltasUsed,
            MetadataLocal = run.MetadataLocal,
            ContentLocal = run.ContentLocal,
        };

        long BytesFetched() => fetcher.BytesFetched + (contentFetcher?.BytesFetched ?? 0);
        int Retries() => fetcher.Retries + (contentFetcher?.Retries ?? 0);
    }

    private static PullResult PullFromLocal(OstreeRepo repo, string remote, RemoteInfo info, string path, IReadOnlyList<string> refs, PullOptions options, System.Diagnostics.Stopwatch started, CancellationToken ct)
    {
        var source = OstreeRepo.Open(path);
        var localOptions = new PullLocalOptions
        {
            Depth = options.Depth,
            CommitMetadataOnly = options.CommitMetadataOnly,
            Policy = options.PolicyOverride ?? VerificationPolicy.ForRemote(repo, remote), // gpg-verify and sign-verify, as for any pull
            GpgVerifySummary = options.PolicyOverride is null && RemoteSummary.IsTrue(info.Options.GetValueOrDefault("gpg-verify-summary")),
            BareUserOnlyFiles = options.BareUserOnlyFiles,
            Trusted = !options.Untrusted,
            RequireStaticDeltas = options.RequireStaticDeltas,
            VerifyBindings = !options.DisableVerifyBindings,
            CollectionId = info.CollectionId ?? source.CollectionId,
        };
        var wanted = refs.Count > 0 || options.CollectionRefs is not null ? refs : [.. source.ListRefs(includeRemotes: false).Keys];

        // As libostree, the source's refs are read from its summary when it has one (a mirror writes them as refs of the
        // summary's collection), else from its refs; a collection ref is looked up among every ref of its collection.
        // Only the targets below need them: a plain pull of refs leaves the summary unread.
        var summaryPath = Path.Combine(path, "summary");
        SummaryListing? ReadSummary() => File.Exists(summaryPath) ? ParseRemote(summaryPath, () => Summary.ReadListing(File.ReadAllBytes(summaryPath))) : null;
        List<PullLocalTarget>? targets = null;
        if (options.CollectionRefs is { } collectionRefs)
        {
            var listing = collectionRefs.Any(c => c.Commit is null) ? ReadSummary() : null;
            targets = collectionRefs.Select(c => new PullLocalTarget(c.Ref, c.Commit ?? PullLocal.ResolveCollectionRef(source, listing, c.Collection, c.Ref), c.Collection)).ToList();
        }
        else if (options.Mirror || wanted.Any(r => r.Contains('@', StringComparison.Ordinal)))
        {
            var listing = ReadSummary();
            targets = [];
            foreach (var r in wanted.Where(r => !CommitId().IsMatch(r)))
            {
                int at = r.IndexOf('@', StringComparison.Ordinal);
                var name = at >= 0 ? r[..at] : r;
                var commit = at >= 0 ? Checksum.Parse(r[(at + 1)..])
                    : listing is not null ? listing.Find(listing.CollectionId, name) ?? throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"No such branch '{name}' in repository summary of {info.Url}")
                    : source.Resolve(name);
                targets.Add(new PullLocalTarget(name, commit, at < 0 ? listing?.CollectionId : null));
            }
        }

        var stats = targets is null
            ? PullLocal.Import(source, repo, wanted, remote, localOptions, null, ct)
            : PullLocal.Import(source, repo, [], remote, localOptions with { Targets = targets, Mirror = options.Mirror }, null, ct);
        var pulled = targets is not null
            ? targets.Select(t => (t.Ref, t.Commit)).ToList()
            : wanted.Where(r => !CommitId().IsMatch(r)).Select(r => (r, repo.Resolve($"{remote}:{r}"))).ToList();
        return new PullResult(pulled, stats.Metadata, stats.Content, 0, stats.ContentBytesWritten, started.Elapsed, 0);
    }

    // A fetcher for a remote URL, for the mirrors of a mirrorlist=URL, or for the repository a metalink=URL leads to
    // (with the summary it gave); with the pull's headers, the remote's cookies and its TLS settings.
    private static async Task<(RemoteFetcher Fetcher, byte[]? Summary)> OpenFetcherAsync(string url, OstreeRepo repo, string remote, PullOptions options, RemoteConnection? connection, CancellationToken ct)
    {
        var (mirrors, summary) = await RemoteFetcher.ResolveRemoteUrlAsync(url, options.NetworkRetries, ct, connection).ConfigureAwait(false);
        var fetcher = new RemoteFetcher(mirrors, options.MaxConcurrentRequests, options.NetworkRetries, options.LowSpeedLimitBytes, options.LowSpeedTimeSeconds, connection);
        fetcher.AddHeaders(options.HttpHeaders, options.AppendUserAgent);
        fetcher.AddCookies(CookieJar.PathOf(repo.Path, remote));
        return (fetcher, summary);
    }

    /// <summary>
    /// libostree's timestamp check, in its words: <paramref name="target"/> may not be older than
    /// <paramref name="current"/> (an upgrade never goes back in time without --allow-downgrade).
    /// </summary>
    public static void EnsureNotOlder(Checksum target, DateTimeOffset targetTime, Checksum current, DateTimeOffset currentTime)
    {
        if (targetTime < currentTime)
        {
            throw new OstreeException(OstreeErrorCode.Downgrade, $"Upgrade target revision '{target}' with timestamp '{Iso8601(targetTime)}' is chronologically older than current revision '{current}' with timestamp '{Iso8601(currentTime)}'; use --allow-downgrade to permit");
        }

        static string Iso8601(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Where a delta to <paramref name="to"/> should start, as libostree chooses: of the deltas the server lists to it,
    /// the one from the newest commit this repository has complete; else from nothing. When the server lists no
    /// deltas, the commit the ref has here (<paramref name="local"/>), whose superblock is then asked for.
    /// </summary>
    private static async Task<Checksum?> BestDeltaStartAsync(OstreeRepo repo, DeltaSource deltas, Checksum to, Checksum? local)
    {
        bool Complete(Checksum c) => repo.HasObject(c, ObjectType.Commit) && !repo.IsCommitPartial(c);
        var listed = await deltas.ListToAsync(to).ConfigureAwait(false);
        if (listed is null)
        {
            return local is { } l && Complete(l) ? l : null;
        }

        return listed.Where(d => d.From is { } f && Complete(f))
            .Select(d => d.From!.Value)
            .OrderByDescending(f => repo.LoadCommit(f).Timestamp)
            .Cast<Checksum?>()
            .FirstOrDefault();
    }

    /// <summary>Whether a requested ref names its commit itself (a checksum, or REF@COMMIT), needing no summary.</summary>
    private static bool HasCommit(string requested) => CommitId().IsMatch(requested) || requested.Contains('@', StringComparison.Ordinal);

    // Where a pulled ref is written, as libostree: REMOTE:REF; in a mirror, the ref of its collection (a local ref when
    // it names none or the repository's own, else refs/mirrors/COLLECTION/REF).
    private static void SetPulledRef(RepoTransaction tx, string remote, string name, string? collection, Checksum commit, bool mirror)
    {
        if (!mirror)
        {
            tx.SetRef($"{remote}:{name}", commit);
        }
        else if (collection is null)
        {
            tx.SetRef(name, commit);
        }
        else
        {
            tx.SetCollectionRef(collection, name, commit);
        }
    }

    private static async Task<List<(string? Name, Checksum Commit, string? Collection)>> ResolveTargetsAsync(RemoteFetcher fetcher, RemoteInfo info, byte[]? summary, IReadOnlyList<string> refs, PullOptions options, CancellationToken ct)
    {
        var listing = summary is null ? null : Summary.ReadListing(summary);
        if (options.CollectionRefs is { } collectionRefs)
        {
            if (refs.Count > 0)
            {
                throw new ArgumentException("Refs and collection refs cannot be pulled together");
            }

            return collectionRefs.Select(c =>
            {
                OstreeRepo.ValidateCollectionId(c.Collection);
                OstreeRepo.ValidateRefName(c.Ref);
                var commit = c.Commit
                    ?? listing?.Find(c.Collection, c.Ref)
                    ?? throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"No such branch ({c.Collection}, {c.Ref}) in repository summary of {info.Url}");
                return ((string?)c.Ref, commit, (string?)c.Collection);
            }).ToList();
        }

        // As libostree: a ref named without a collection is one of the summary's main refs, of its collection if any.
        var mainCollection = listing?.CollectionId;
        var fromSummary = listing?.Refs.Where(l => l.Collection == mainCollection).ToDictionary(r => r.Ref, r => r.Commit, StringComparer.Ordinal);
        var names = refs.ToList();
        if (names.Count == 0)
        {
            if (options.Mirror)
            {
                names = fromSummary?.Keys.ToList()
                    ?? throw new OstreeException(OstreeErrorCode.FetchFailed, "Fetching all refs was requested in mirror mode, but remote repository does not have a summary");
            }
            else
            {
                names = (info.Options.GetValueOrDefault("branches") ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                if (names.Count == 0)
                {
                    throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"No configured branches for remote {info.Name}");
                }
            }
        }

        var result = new List<(string?, Checksum, string?)>();
        foreach (var name in names)
        {
            if (CommitId().IsMatch(name))
            {
                result.Add((null, Checksum.Parse(name), null));
                continue;
            }

            // REF@COMMIT, as ostree: that commit, written to the ref (an override of what the server's ref says).
            int at = name.IndexOf('@', StringComparison.Ordinal);
            if (at >= 0)
            {
                var pinned = name[(at + 1)..];
                OstreeRepo.ValidateRefName(name[..at]);
                result.Add((name[..at], CommitId().IsMatch(pinned) ? Checksum.Parse(pinned) : throw new OstreeFormatException($"Invalid checksum '{pinned}' in {name}"), null));
                continue;
            }

            OstreeRepo.ValidateRefName(name);
            if (fromSummary is not null)
            {
                result.Add((name, fromSummary.TryGetValue(name, out var c) ? c : throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"No such branch '{name}' in repository summary of {info.Url}"), mainCollection));
                continue;
            }

            var text = await fetcher.GetBytesAsync("refs/heads/" + name, 4096, ct).ConfigureAwait(false)
                ?? throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"Remote {info.Name} has no ref {name} ({fetcher.UrlOf("refs/heads/" + name)} not found)");
            var hex = System.Text.Encoding.UTF8.GetString(text).TrimEnd();
            if (!CommitId().IsMatch(hex))
            {
                // libostree's words; a server that answers with a page of HTML gets only its first 64 bytes shown.
                var raw = System.Text.Encoding.UTF8.GetBytes(hex);
                var why = raw.Length != 64
                    ? "Invalid rev " + System.Text.Encoding.UTF8.GetString(raw, 0, Math.Min(64, raw.Length)).Replace('\n', ' ')
                    : $"Invalid character '{raw.First(b => b is not ((>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f')))}' in rev '{hex}'";
                throw new OstreeFormatException($"Fetching checksum for ref ((empty), {name}): {why}");
            }

            result.Add((name, Checksum.Parse(hex), null));
        }

        return result;
    }

    /// <summary>
    /// Where a pull finds deltas: the summary's <c>ostree.static-deltas</c>, or <c>delta-indexes/</c> when the summary
    /// says its deltas are indexed; without a summary, the superblock is asked for directly.
    /// </summary>
    internal sealed class DeltaSource(RemoteFetcher fetcher, byte[]? summary, bool indexedByConfig, CancellationToken ct)
    {
        private readonly GVariantValue? _summaryMeta = summary is null ? null : GVariantValue.Parse(Summary.Type, summary)[1];

        // Each commit's index, fetched once: the start of a delta is chosen from it, then its superblock checked against it.
        private readonly Dictionary<Checksum, Dictionary<string, byte[]>?> _indexes = [];

        private Dictionary<string, byte[]>? _summaryIndex;

        private Dictionary<string, byte[]>? SummaryIndex => _summaryMeta is null ? null : _summaryIndex ??= ReadIndex(_summaryMeta.Lookup("ostree.static-deltas"));

        private bool Indexed => indexedByConfig || (_summaryMeta?.Lookup("ostree.summary.indexed-deltas") is { Type.Kind: 'b' } b && b.GetBoolean());

        private static Dictionary<string, byte[]> ReadIndex(GVariantValue? v)
        {
            var map = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            if (v is { Type.Text: "a{sv}" })
            {
                foreach (var (k, value) in v.GetVarDictEntries())
                {
                    if (value.Type.Text == "ay")
                    {
                        map[k] = value.GetBytes();
                    }
                }
            }

            return map;
        }

        // The deltas to TO and their superblocks' checksums: the commit's delta index when deltas are indexed (empty
        // when it has none), else the summary's list (null without a summary).
        private async Task<Dictionary<string, byte[]>?> IndexToAsync(Checksum to)
        {
            if (!Indexed)
            {
                return SummaryIndex;
            }

            if (!_indexes.TryGetValue(to, out var index))
            {
                var bytes = await fetcher.GetBytesAsync(DeltaName.IndexPath(to), MaxMetadataSize, ct).ConfigureAwait(false);
                index = bytes is null ? [] : ParseRemote(fetcher.UrlOf(DeltaName.IndexPath(to)), () => ReadIndex(GVariantValue.Parse(GVariantType.VarDict, bytes).Lookup("ostree.static-deltas")));
                _indexes[to] = index;
            }

            return index;
        }

        /// <summary>
        /// The deltas the server lists as leading to <paramref name="to"/> (its summary, or the commit's delta index);
        /// null when it lists none at all (no summary and no index), so only asking for a superblock can tell.
        /// </summary>
        public async Task<List<DeltaName>?> ListToAsync(Checksum to)
        {
            var index = await IndexToAsync(to).ConfigureAwait(false);
            if (index is null)
            {
                return null;
            }

            var found = new List<DeltaName>();
            foreach (var key in index.Keys)
            {
                DeltaName name;
                try
                {
                    name = DeltaName.Parse(key);
                }
                catch (OstreeFormatException e)
                {
                    throw new RemoteFetchException(fetcher.UrlOf(Indexed ? DeltaName.IndexPath(to) : "summary"), $"malformed: delta name {key}: {e.Message}", e);
                }

                if (name.To == to)
                {
                    found.Add(name);
                }
            }

            return found;
        }

        /// <summary>The superblock of <paramref name="name"/>, checked against the index; null when the server has no such delta.</summary>
        public async Task<DeltaSuperblock?> FindAsync(DeltaName name)
        {
            var index = await IndexToAsync(name.To).ConfigureAwait(false);

            byte[]? expected = null;
            if (index is not null && !index.TryGetValue(name.ToString(), out expected))
            {
                return null;
            }

            var superblock = await fetcher.GetBytesAsync(name.SuperblockPath, MaxMetadataSize, ct).ConfigureAwait(false);
            if (superblock is null)
            {
                return expected is null ? null : throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"Static delta superblock {fetcher.UrlOf(name.SuperblockPath)} is listed but missing");
            }

            if (expected is not null && !Checksum.Compute(superblock).ToBytes().AsSpan().SequenceEqual(expected))
            {
                throw new ObjectCorruptedException(fetcher.UrlOf(name.SuperblockPath), $"superblock checksum {Checksum.Compute(superblock)} is not the indexed {Convert.ToHexStringLower(expected)}");
            }

            var parsed = DeltaSuperblock.Parse(SignedSuperblock.Plain(superblock, fetcher.UrlOf(name.SuperblockPath)), fetcher.UrlOf(name.SuperblockPath));
            return parsed.Name == name ? parsed : throw new OstreeFormatException($"{fetcher.UrlOf(name.SuperblockPath)}: superblock is for delta {parsed.Name}");
        }
    }

    /// <summary>One pull's transaction and its in-flight fetches.</summary>
    private sealed class PullRun
    {
        private readonly OstreeRepo _repo;
        private readonly RemoteFetcher _fetcher;
        private readonly PullOptions _options;
        private readonly CancellationTokenSource _cts;
        private readonly ConcurrentQueue<Task> _pending = new();
        // Only what is in flight is remembered (and the dirtrees walked): an object, once written, is found in the
        // transaction, so memory does not grow with the number of files.
        private readonly ConcurrentDictionary<Checksum, bool> _contentInFlight = new();
        private readonly ConcurrentDictionary<Checksum, bool> _walked = new();
        private readonly ConcurrentDictionary<(Checksum, ObjectType), Lazy<Task<byte[]>>> _metadataFetches = new();
        // The tree walk waits here before it queues a content fetch: a queued fetch costs a few KB (its tasks, its
        // request, its place in the connection queue) before it even starts, and a tree has hundreds of thousands.
        private readonly SemaphoreSlim _contentQueue = new(MaxQueuedContent);
        private const int MaxQueuedContent = 64;
        private readonly HashSet<Checksum> _incomplete = [];
        private readonly HashSet<Checksum> _complete = [];

        // Objects and deltas come from _fetcher (contenturl), detached metadata from _meta (url), as in libostree.
        private readonly RemoteFetcher _meta;
        private int _metadata, _content, _needed, _localMetadata, _localContent;
        private long _lastReport;

        // Content kept as fetched, unhashed: see PullOptions.HttpTrusted and PullOptions.Untrusted.
        private readonly bool _trustedContent;

        public PullRun(OstreeRepo repo, RemoteFetcher fetcher, RemoteFetcher meta, PullOptions options, CancellationToken ct)
        {
            _repo = repo;
            _fetcher = fetcher;
            _meta = meta;
            _options = options;
            _cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Tx = repo.BeginTransaction();
            Tx.BareUserOnlyFiles = options.BareUserOnlyFiles;
            _trustedContent = repo.Mode == RepoMode.Archive && !options.BareUserOnlyFiles
                && (fetcher.IsLocal ? !options.Untrusted : options.HttpTrusted && options.Mirror);
        }

        public RepoTransaction Tx { get; }

        public int MetadataFetched => _metadata;

        public int ContentFetched => _content;

        public int MetadataLocal => _localMetadata;

        public int ContentLocal => _localContent;

        public TransactionStats? Stats { get; private set; }

        public List<string> DeltasUsed { get; } = [];

        /// <summary>The totals of <c>--dry-run</c> over every delta found so far.</summary>
        public DeltaDryRun DryRunTotals { get; private set; } = new(0, 0, 0, 0, 0);

        // As libostree counts them: a part whose objects are all here is fetched already; a fallback object is one
        // more part, fetched when it is here.
        private void CountDryRun(DeltaSuperblock superblock)
        {
            var t = DryRunTotals;
            int fetched = t.FetchedParts, total = t.TotalParts;
            long fetchedSize = t.FetchedSize, size = t.TotalSize, usize = t.TotalUncompressedSize;
            foreach (var f in superblock.Fallbacks)
            {
                total++;
                size += (long)f.CompressedSize;
                usize += (long)f.UncompressedSize;
                if (Tx.HasObject(f.Checksum, f.Type))
                {
                    fetched++;
                    fetchedSize += (long)f.CompressedSize;
                }
            }

            foreach (var part in superblock.Parts)
            {
                total++;
                size += (long)part.CompressedSize;
                usize += (long)part.UncompressedSize;
                if (part.Objects.All(o => Tx.HasObject(o.Checksum, o.Type)))
                {
                    fetched++;
                    fetchedSize += (long)part.CompressedSize;
                }
            }

            DryRunTotals = new DeltaDryRun(fetched, total, fetchedSize, size, usize);
        }

        private void CheckDeltaFits(long unpacked)
        {
            var fs = Native.StatVfs(_repo.Path);
            if ((ulong)unpacked / fs.BlockSize > fs.FreeBlocks)
            {
                throw new OstreeException(OstreeErrorCode.InsufficientSpace,
                    $"Delta requires {SizeFormat.FormatAsGlibPrints(unpacked)} free space, but only {SizeFormat.FormatAsGlibPrints((long)(fs.BlockSize * fs.FreeBlocks))} available");
            }
        }

        /// <summary>
        /// Whether a commit's tree may lack objects: it is marked partial, or (as libostree treats every commit of a
        /// resumed transaction) it is only staged, in a staging folder this pull took over from one that stopped.
        /// </summary>
        private bool IsPartial(Checksum commit) => _repo.IsCommitPartial(commit) || (Tx.Resumed && !_repo.HasObject(commit, ObjectType.Commit));

        /// <summary>
        /// Rebuilds <paramref name="to"/> from a static delta when the server has one from <paramref name="from"/> (or,
        /// with nothing local, from nothing): the superblock is checked against the delta index, its commit against
        /// the id and the remote's signature policy, every part against its checksum and every object against its id.
        /// A delta that is missing, malformed or corrupt is reported and the pull fetches objects instead (what the delta
        /// wrote stays: it was verified). The tree is walked afterwards as for any pull, which fetches anything missing.
        /// </summary>
        public async Task<bool> TryStaticDeltaAsync(DeltaSource source, Checksum? from, Checksum to, VerificationPolicy policy)
        {
            if (Tx.HasObject(to, ObjectType.Commit) && !IsPartial(to))
            {
                return false;
            }

            var name = new DeltaName(from, to);
            DeltaSuperblock superblock;
            try
            {
                var found = await source.FindAsync(name).ConfigureAwait(false);
                if (found is null)
                {
                    return false;
                }

                superblock = found;
            }
            catch (Exception e) when (e is OstreeFormatException or ObjectCorruptedException or ObjectNotFoundException or RemoteFetchException && !_options.RequireStaticDeltas)
            {
                _options.Warnings?.Report($"static delta {name} not used: {e.Message}");
                return false;
            }

            // The commit is checked as a fetched commit would be: its id, then the signatures, before any of its tree.
            var actual = Checksum.Compute(superblock.CommitBytes);
            if (actual != to)
            {
                throw new ObjectCorruptedException($"{to}.commit", $"checksum mismatch in static delta {name}, actual {actual} ({_fetcher.UrlOf(name.SuperblockPath)})");
            }

            if (_options.DryRun)
            {
                CountDryRun(superblock);
                return true;
            }

            var detached = superblock.DetachedMetadata;
            if (detached is null && await _meta.GetBytesAsync(ObjectPath(to, ObjectType.CommitMeta), MaxMetadataSize, Ct).ConfigureAwait(false) is { } metaBytes)
            {
                detached = ParseRemote(_meta.UrlOf(ObjectPath(to, ObjectType.CommitMeta)), () => GVariantValue.Parse(GVariantType.VarDict, metaBytes));
            }

            try
            {
                CommitVerifier.Verify(superblock.CommitBytes, detached, policy);
            }
            catch (SignatureException e)
            {
                throw new SignatureException($"Commit {to} from {_fetcher.UrlOf(string.Empty)}: {e.Message}", e.Reason);
            }

            Tx.WriteMetadataTrusted(ObjectType.Commit, to, superblock.CommitBytes);
            if (detached is not null)
            {
                Tx.WriteCommitDetachedMetadata(to, detached);
            }

            Interlocked.Increment(ref _metadata);
            _incomplete.Add(to);

            // As libostree, before any part is fetched: the parts still needed, unpacked, must fit in the free blocks
            // of the repository's filesystem.
            var needed = Enumerable.Range(0, superblock.Parts.Count).Where(i => !superblock.Parts[i].Objects.All(o => Tx.HasObject(o.Checksum, o.Type))).ToList();
            CheckDeltaFits(needed.Sum(i => (long)superblock.Parts[i].UncompressedSize));
            try
            {
                var work = new List<Task>();
                foreach (int index in needed)
                {
                    work.Add(Task.Run(() => ApplyPartAsync(superblock, index), Ct));
                }

                foreach (var f in superblock.Fallbacks)
                {
                    if (f.Type == ObjectType.File && _contentInFlight.TryAdd(f.Checksum, true))
                    {
                        Interlocked.Increment(ref _needed);
                        work.Add(Task.Run(
                            async () =>
                            {
                                await FetchContentAsync(f.Checksum).ConfigureAwait(false);
                                _contentInFlight.TryRemove(f.Checksum, out _);
                            },
                            Ct));
                    }
                }

                await Task.WhenAll(work).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OstreeFormatException or ObjectCorruptedException or ObjectNotFoundException && !_options.RequireStaticDeltas)
            {
                _options.Warnings?.Report($"static delta {name} failed, fetching objects instead: {e.Message}");
                return false;
            }

            DeltasUsed.Add(name.ToString());
            return true;
        }

        private async Task ApplyPartAsync(DeltaSuperblock superblock, int index)
        {
            var header = superblock.Parts[index];
            var path = superblock.Name.PartPath(index);
            var bytes = StaticDeltas.InlinePart(superblock, index)
                ?? await _fetcher.GetBytesAsync(path, (long)Math.Min(header.CompressedSize, int.MaxValue - 1), Ct).ConfigureAwait(false)
                ?? throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"Static delta part {_fetcher.UrlOf(path)} not found");
            int written = DeltaPartExecutor.Execute(Tx, header, bytes, _fetcher.UrlOf(path));
            Interlocked.Add(ref _content, written);
            Report();
        }

        private CancellationToken Ct => _cts.Token;

        /// <summary>Fetches a commit (and its parents up to the depth) and queues its tree.</summary>
        private async Task RefreshDetachedMetadataAsync(Checksum c, VerificationPolicy policy)
        {
            var path = ObjectPath(c, ObjectType.CommitMeta);
            if (await _meta.GetBytesAsync(path, MaxMetadataSize, Ct).ConfigureAwait(false) is not { } bytes)
            {
                return;
            }

            var detached = ParseRemote(_meta.UrlOf(path), () => GVariantValue.Parse(GVariantType.VarDict, bytes));
            try
            {
                CommitVerifier.Verify(Tx.ReadMetadataBytes(ObjectType.Commit, c), detached, policy);
            }
            catch (SignatureException e)
            {
                throw new SignatureException($"Commit {c} from {_fetcher.UrlOf(string.Empty)}: {e.Message}", e.Reason);
            }

            if (_repo.LoadDetachedMetadata(c) is not { } local || !local.ToBytes().AsSpan().SequenceEqual(detached.ToBytes()))
            {
                Tx.WriteCommitDetachedMetadata(c, detached);
            }
        }

        public async Task PullCommitAsync(Checksum commit, string? refName, VerificationPolicy policy)
        {
            Checksum? next = commit;
            for (int depth = 0; next is { } c && (_options.Depth < 0 || depth <= _options.Depth); depth++)
            {
                bool present = Tx.HasObject(c, ObjectType.Commit);
                if (present && !IsPartial(c) && !_incomplete.Contains(c))
                {
                    // Complete already: its tree is all here. As libostree, the requested commit's detached metadata
                    // is fetched again all the same, in case new signatures appeared (or the local copy was lost).
                    if (depth == 0)
                    {
                        await RefreshDetachedMetadataAsync(c, policy).ConfigureAwait(false);
                    }

                    next = _repo.LoadCommit(c).Parent;
                    continue;
                }

                byte[] bytes;
                Commit parsed;
                if (present)
                {
                    bytes = Tx.ReadMetadataBytes(ObjectType.Commit, c);
                    parsed = ParseFetchedCommit(c, bytes);
                }
                else
                {
                    var path = ObjectPath(c, ObjectType.CommitMeta);
                    var cache = _options.LocalCacheRepos.FirstOrDefault(r => r.HasObject(c, ObjectType.Commit));
                    var detachedBytes = cache is not null ? cache.LoadDetachedMetadata(c)?.ToBytes() : await _meta.GetBytesAsync(path, MaxMetadataSize, Ct).ConfigureAwait(false);
                    var fetched = cache is not null ? cache.ReadMetadataBytes(ObjectType.Commit, c) : await _fetcher.GetBytesAsync(ObjectPath(c, ObjectType.Commit), MaxMetadataSize, Ct).ConfigureAwait(false);
                    if (fetched is null)
                    {
                        if (depth > 0)
                        {
                            break; // history ends on the server
                        }

                        throw new ObjectNotFoundException($"No such commit {c} at {_fetcher.UrlOf(ObjectPath(c, ObjectType.Commit))}");
                    }

                    bytes = fetched;
                    var actual = Checksum.Compute(bytes);
                    if (actual != c)
                    {
                        throw ObjectCorruptedException.ChecksumMismatch(c.ToHex(), "commit", actual.ToHex(), _fetcher.UrlOf(ObjectPath(c, ObjectType.Commit)));
                    }

                    GVariantValue? detached = null;
                    try
                    {
                        detached = detachedBytes is null ? null : ParseRemote(_meta.UrlOf(ObjectPath(c, ObjectType.CommitMeta)), () => GVariantValue.Parse(GVariantType.VarDict, detachedBytes));
                    }
                    catch (RemoteFetchException e) when (!policy.RequireGpg && policy.SignVerifiers.Count == 0)
                    {
                        // Nothing is verified with it: the commit is pulled as ostree pulls it, without the malformed
                        // detached metadata (ostree would store the bytes; we keep nothing that does not parse).
                        _options.Warnings?.Report(e.Message + "; pulled without its detached metadata");
                    }
                    try
                    {
                        CommitVerifier.Verify(bytes, detached, policy);
                    }
                    catch (SignatureException e)
                    {
                        throw new SignatureException($"Commit {c} from {_fetcher.UrlOf(string.Empty)}: {e.Message}", e.Reason);
                    }

                    // Parsed before it is staged: a failed pull keeps what it fetched, and only objects that parse.
                    parsed = ParseFetchedCommit(c, bytes);
                    if (cache is not null)
                    {
                        Interlocked.Increment(ref _localMetadata);
                    }
                    else
                    {
                        // As libostree counts: the commit and the request for its detached metadata, found or not.
                        Interlocked.Add(ref _metadata, 2);
                    }

                    Tx.WriteMetadataTrusted(ObjectType.Commit, c, bytes);
                    if (detached is not null)
                    {
                        Tx.WriteCommitDetachedMetadata(c, detached);
                    }
                }

                if (!_options.DisableVerifyBindings)
                {
                    CommitBindings.Verify(c, parsed, depth == 0 ? refName : null, _options.RemoteCollectionId);
                }

                _incomplete.Add(c);
                if (!_options.CommitMetadataOnly)
                {
                    var root = parsed.RootTree;
                    var rootMeta = parsed.RootMeta;
                    var commitId = c;
                    Spawn(async () =>
                    {
                        await FetchMetadataAsync(rootMeta, ObjectType.DirMeta).ConfigureAwait(false);
                        await WalkTreeAsync(root, "/").ConfigureAwait(false);
                    });
                    if (_options.Subpaths is null)
                    {
                        _complete.Add(commitId);
                    }
                }

                next = parsed.Parent;
            }
        }

        private static string ObjectPath(Checksum c, ObjectType type)
        {
            var hex = c.ToHex();
            return $"objects/{hex[..2]}/{hex[2..]}.{(type == ObjectType.File ? "filez" : type.ToName())}";
        }

        private void Spawn(Func<Task> work) => _pending.Enqueue(Task.Run(work, Ct));

        /// <summary>Waits for every queued fetch (and the ones they queue); the first failure cancels the rest.</summary>
        public async Task DrainAsync()
        {
            Exception? first = null;
            while (_pending.TryDequeue(out var t))
            {
                try
                {
                    await t.ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    if (first is null && !(e is OperationCanceledException && _cts.IsCancellationRequested))
                    {
                        first = e;
                    }

                    await _cts.CancelAsync().ConfigureAwait(false);
                }
            }

            if (first is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
            }

            Ct.ThrowIfCancellationRequested();
        }

        /// <summary>
        /// The bytes of a metadata object (none for a dirmeta kept already): local, or fetched (once, however many
        /// trees ask for it at the same time), verified and staged.
        /// </summary>
        private async Task<byte[]> FetchMetadataAsync(Checksum c, ObjectType type)
        {
            var key = (c, type);
            var fetch = _metadataFetches.GetOrAdd(key, k => new Lazy<Task<byte[]>>(() => FetchMetadataCoreAsync(k.Item1, k.Item2)));
            try
            {
                return await fetch.Value.ConfigureAwait(false);
            }
            finally
            {
                // Later askers find it staged.
                _metadataFetches.TryRemove(KeyValuePair.Create(key, fetch));
            }
        }

        /// <summary>Fails when <paramref name="commit"/> (fetched and verified by its id) is older than <paramref name="fromRev"/>.</summary>
        public async Task CheckTimestampAsync(Checksum commit, Checksum fromRev)
        {
            if (commit == fromRev)
            {
                return;
            }

            var url = _fetcher.UrlOf(ObjectPath(commit, ObjectType.Commit));
            var bytes = Tx.HasObject(commit, ObjectType.Commit) ? Tx.ReadMetadataBytes(ObjectType.Commit, commit)
                : await _fetcher.GetBytesAsync(ObjectPath(commit, ObjectType.Commit), MaxMetadataSize, Ct).ConfigureAwait(false)
                    ?? throw new ObjectNotFoundException($"No such commit {commit} at {url}");
            if (Checksum.Compute(bytes) != commit)
            {
                throw new ObjectCorruptedException($"{commit}.commit", $"checksum mismatch ({url})");
            }

            EnsureNotOlder(commit, ParseFetchedCommit(commit, bytes).Time, fromRev, _repo.LoadCommit(fromRev).Time);
        }

        private Commit ParseFetchedCommit(Checksum c, byte[] bytes)
        {
            try
            {
                return Commit.Parse(bytes);
            }
            catch (OstreeFormatException e)
            {
                throw new ObjectCorruptedException($"{c}.commit", $"{e.Message} ({_fetcher.UrlOf(ObjectPath(c, ObjectType.Commit))})", e);
            }
        }

        private async Task<byte[]> FetchMetadataCoreAsync(Checksum c, ObjectType type)
        {
            if (Tx.HasObject(c, type))
            {
                return type == ObjectType.DirMeta ? [] : Tx.ReadMetadataBytes(type, c);
            }

            if (TryLocalMetadata(c, type) is { } local)
            {
                return local;
            }

            var path = ObjectPath(c, type);
            Interlocked.Increment(ref _needed);
            // Metadata goes first: a dirtree must not wait behind the content found so far, or the
            // walk (which finds the work) stalls while the content queue drains.
            var bytes = await _fetcher.GetBytesAsync(path, MaxMetadataSize, Ct, priority: true).ConfigureAwait(false);

            if (bytes is null)
            {
                throw new ObjectNotFoundException($"Remote object {c}.{type.ToName()} not found at {_fetcher.UrlOf(path)} ({_fetcher.NotFoundReason})");
            }

            var actual = Checksum.Compute(bytes);
            if (actual != c)
            {
                throw ObjectCorruptedException.ChecksumMismatch(c.ToHex(), type.ToName(), actual.ToHex(), _fetcher.UrlOf(path));
            }

            CheckParses(c, type, bytes, _fetcher.UrlOf(path));

            Tx.WriteMetadataTrusted(type, c, bytes);
            Interlocked.Increment(ref _metadata);
            Report();
            return bytes;
        }

        // As libostree decides which entries a --subpath pull takes: a folder on the way to a requested path, the path
        // itself (file or folder), and everything below it.
        private bool Wanted(string file, bool isDir)
        {
            if (_options.Subpaths is not { } wanted)
            {
                return true;
            }

            foreach (var p in wanted)
            {
                if (p.StartsWith(file, StringComparison.Ordinal))
                {
                    var rest = p.AsSpan(file.Length);
                    if (rest.IsEmpty || (rest[0] == '/' && isDir))
                    {
                        return true;
                    }
                }
                else if (file.StartsWith(p, StringComparison.Ordinal) && file.Length > p.Length && file[p.Length] == '/')
                {
                    return true;
                }
            }

            return false;
        }

        private async Task WalkTreeAsync(Checksum tree, string path)
        {
            DirTree parsed;
            try
            {
                parsed = DirTree.Parse(await FetchMetadataAsync(tree, ObjectType.DirTree).ConfigureAwait(false));
            }
            catch (OstreeFormatException e)
            {
                throw new ObjectCorruptedException($"{tree}.dirtree", e.Message, e);
            }

            foreach (var f in parsed.Files)
            {
                if (!Wanted(path + f.Name, isDir: false))
                {
                    continue;
                }

                // In flight first, then kept: a fetch leaves the in-flight set only once its object is staged.
                var cs = f.Checksum;
                if (_contentInFlight.TryAdd(cs, true))
                {
                    if (Tx.HasObject(cs, ObjectType.File))
                    {
                        _contentInFlight.TryRemove(cs, out _);
                        continue;
                    }

                    Interlocked.Increment(ref _needed);
                    await _contentQueue.WaitAsync(Ct).ConfigureAwait(false);
                    Spawn(async () =>
                    {
                        try
                        {
                            await FetchContentAsync(cs).ConfigureAwait(false);
                            _contentInFlight.TryRemove(cs, out _);
                        }
                        finally
                        {
                            _contentQueue.Release();
                        }
                    });
                }
            }

            foreach (var d in parsed.Dirs)
            {
                var sub = d;
                var subPath = path + d.Name;
                if (!Wanted(subPath, isDir: true))
                {
                    continue;
                }

                // A tree seen before is all here or on its way, unless a --subpath pull took only part of it.
                if (_options.Subpaths is not null || _walked.TryAdd(sub.TreeChecksum, true))
                {
                    Spawn(async () =>
                    {
                        await FetchMetadataAsync(sub.MetaChecksum, ObjectType.DirMeta).ConfigureAwait(false);
                        await WalkTreeAsync(sub.TreeChecksum, subPath + "/").ConfigureAwait(false);
                    });
                }
                else
                {
                    Spawn(() => FetchMetadataAsync(sub.MetaChecksum, ObjectType.DirMeta));
                }
            }
        }

        // Only trees and folder metadata that parse (names, order, nesting) are staged; a fault names where the bytes came from.
        private static void CheckParses(Checksum c, ObjectType type, byte[] bytes, string from)
        {
            try
            {
                _ = type == ObjectType.DirTree ? DirTree.Parse(bytes) : (object)DirMeta.Parse(bytes);
            }
            catch (OstreeFormatException e)
            {
                throw new ObjectCorruptedException($"{c}.{type.ToName()}", $"{e.Message} ({from})", e);
            }
        }

        // A dirtree or dirmeta from a --localcache-repo: the same checks as a fetched one, then staged.
        private byte[]? TryLocalMetadata(Checksum c, ObjectType type)
        {
            foreach (var cache in _options.LocalCacheRepos)
            {
                if (!cache.HasObject(c, type))
                {
                    continue;
                }

                var bytes = cache.ReadMetadataBytes(type, c);
                if (Checksum.Compute(bytes) != c)
                {
                    continue; // damaged there: fetched instead
                }

                CheckParses(c, type, bytes, cache.ObjectPath(c, type));
                Tx.WriteMetadataTrusted(type, c, bytes);
                Interlocked.Increment(ref _localMetadata);
                return bytes;
            }

            return null;
        }

        // A content object from a --localcache-repo: linked when the modes allow, else copied (and so checked).
        private bool TryLocalContent(Checksum c)
        {
            foreach (var cache in _options.LocalCacheRepos)
            {
                if (!cache.HasObject(c, ObjectType.File))
                {
                    continue;
                }

                if (!Tx.TryImportByHardlink(cache, c, ObjectType.File))
                {
                    var content = cache.LoadContent(c);
                    using var data = content.OpenData();
                    Tx.WriteContent(content.Header, data, content.Size, c);
                }

                Interlocked.Increment(ref _localContent);
                return true;
            }

            return false;
        }

        private async Task FetchContentAsync(Checksum c)
        {
            if (TryLocalContent(c))
            {
                return;
            }

            var path = ObjectPath(c, ObjectType.File);
            bool found = await _fetcher.GetAsync(path, async (body, length, ct) =>
            {
                // Small objects are read into memory, large ones spooled to a file under tmp/ (at most one MiB in memory
                // per connection).
                if (length is >= 0 and <= 1 << 20)
                {
                    var buffer = new MemoryStream((int)length);
                    await body.CopyToAsync(buffer, ct).ConfigureAwait(false);
                    buffer.Position = 0;
                    Tx.WriteArchiveContent(c, buffer, absent: true, _trustedContent);
                    return true;
                }

                var spool = Path.Combine(_repo.Path, "tmp", $"pull-{Guid.NewGuid():N}.filez");
                try
                {
                    await using var fs = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
                    await body.CopyToAsync(fs, ct).ConfigureAwait(false);
                    fs.Position = 0;
                    Tx.WriteArchiveContent(c, fs, absent: true, _trustedContent);
                    return true;
                }
                finally
                {
                    File.Delete(spool);
                }
            }, false, Ct).ConfigureAwait(false);

            if (!found)
            {
                throw new ObjectNotFoundException($"Remote object {c}.file not found at {_fetcher.UrlOf(path)} ({_fetcher.NotFoundReason})");
            }

            Interlocked.Increment(ref _content);
            Report();
        }

        private void Report()
        {
            if (_options.Progress is not { } p)
            {
                return;
            }

            long now = Environment.TickCount64;
            long last = Interlocked.Read(ref _lastReport);
            if (now - last >= 100 && Interlocked.CompareExchange(ref _lastReport, now, last) == last)
            {
                int done = _metadata + _content;
                p.Report(new TreeProgress(done, Math.Max(_needed, done + 1), _fetcher.BytesFetched, 0)); // done == total only at the end
            }
        }

        /// <summary>Publishes everything, moves the refs, clears the markers of the commits now complete.</summary>
        public void Finish()
        {
            MarkPartial(_incomplete);

            // The markers go once the objects are in place and before the refs move: a kill between the two
            // otherwise left a ref on a commit still marked partial (found by bench/fault-inject.sh: 3 of 34 pulls).
            Tx.BeforeRefs = () =>
            {
                foreach (var c in _complete)
                {
                    File.Delete(MarkerPath(c));
                }
            };
            Stats = Tx.Commit();

            _options.Progress?.Report(new TreeProgress(_metadata + _content, _metadata + _content, _fetcher.BytesFetched, 0));
        }

        /// <summary>After a failure: the verified objects fetched so far are published (refs do not move), commits stay partial.</summary>
        public void KeepWhatWasFetched()
        {
            _cts.Cancel();
            try
            {
                // Let in-flight writers stop before the staging folder is published.
                while (_pending.TryDequeue(out var t))
                {
                    try
                    {
                        t.Wait();
                    }
                    catch (AggregateException)
                    {
                    }
                }

                MarkPartial(_incomplete);
                Tx.DropRefs();
                Tx.Commit();
            }
            catch (Exception e) when (e is IOException or OstreeException)
            {
                Tx.Abort();
            }
        }

        private void MarkPartial(IEnumerable<Checksum> commits)
        {
            var state = Path.Combine(_repo.Path, "state");
            Directory.CreateDirectory(state);
            foreach (var c in commits)
            {
                File.WriteAllBytes(MarkerPath(c), []);
            }
        }

        private string MarkerPath(Checksum c) => Path.Combine(_repo.Path, "state", c.ToHex() + ".commitpartial");
    }
}
