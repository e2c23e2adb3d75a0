// `find-remotes`: which repositories serve given collection refs, found as libostree's repo finders find them: the
// remotes of the repository's config that have a collection id ("config"), and repositories on mounted removable
// media ("mount": .ostree/repos.d/*, .ostree/repo, ostree/repo, var/lib/flatpak/repo). Each candidate's summary is
// read; for each ref only the remotes listing its newest commit are kept, and the results can then be pulled, each ref
// from the first result that has it.
using System.Globalization;
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Transfer;

/// <summary>A ref of a collection.</summary>
public sealed record CollectionRef(string Collection, string Ref)
{
    /// <summary>libostree's hash of a collection ref (<c>ostree_collection_ref_hash</c>), which orders its tables.</summary>
    internal uint GHash => GHashTableOrder.StrHash(Collection) ^ GHashTableOrder.StrHash(Ref);

    /// <inheritdoc/>
    public override string ToString() => $"({Collection}, {Ref})";
}

/// <summary>The finders <c>find-remotes --finders</c> knows.</summary>
public enum RepoFinderKind
{
    /// <summary>The remotes configured in the repository ("config").</summary>
    Config,

    /// <summary>Repositories on mounted removable media ("mount").</summary>
    Mount,
}

/// <summary>
/// A repository that serves some of the refs asked for: its remote (configured, or made up for a repository on a
/// mount), the remote whose OpenPGP keys verify it, and for every ref asked for the commit it has when that is the
/// newest any result has (null otherwise).
/// </summary>
public sealed record RepoFinderResult(string RemoteName, string Url, string KeyringRemote, RepoFinderKind Finder, int Priority, IReadOnlyList<KeyValuePair<CollectionRef, Checksum?>> Refs, ulong SummaryLastModified)
{
    /// <summary>The GObject type name libostree prints for the finder.</summary>
    public string FinderName => Finder == RepoFinderKind.Config ? "OstreeRepoFinderConfig" : "OstreeRepoFinderMount";

    /// <summary>The keyring file name libostree prints (REMOTE.trustedkeys.gpg).</summary>
    public string Keyring => KeyringRemote + ".trustedkeys.gpg";
}

/// <summary>Finds remotes for collection refs and pulls from them.</summary>
public static class RepoFinder
{
    private const int ConfigPriority = 100, MountPriority = 50;

    /// <summary>
    /// The finders to use when none are given: the repository's <c>core.default-repo-finders</c>, else config and mount
    /// (libostree's "lan" needs Avahi, which this build does not have, so it is left out as libostree without it does).
    /// </summary>
    /// <exception cref="OstreeException">The setting names an unknown finder, or none.</exception>
    public static IReadOnlyList<RepoFinderKind> DefaultFinders(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var configured = repo.Config.Get("core", "default-repo-finders");
        if (configured is null)
        {
            return [RepoFinderKind.Config, RepoFinderKind.Mount];
        }

        var names = configured.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, "Invalid empty default-repo-finders configuration");
        }

        var result = new List<RepoFinderKind>();
        foreach (var n in names)
        {
            switch (n)
            {
                case "config": result.Add(RepoFinderKind.Config); break;
                case "mount": result.Add(RepoFinderKind.Mount); break;
                case "lan": break;
                default: throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Invalid configured repo-finder '{n}'");
            }
        }

        return result.Distinct().ToList();
    }

    /// <summary>
    /// Finds the repositories that serve <paramref name="refs"/>, best first (lower priority number, then as libostree
    /// orders its results). Candidates whose summary cannot be read, or disagrees with another's about a commit, are
    /// left out; so is any that has no ref at its newest commit.
    /// </summary>
    public static async Task<IReadOnlyList<RepoFinderResult>> FindAsync(OstreeRepo repo, IReadOnlyList<CollectionRef> refs, IReadOnlyList<RepoFinderKind> finders, IReadOnlyList<string>? mountRoots = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(refs);
        ArgumentNullException.ThrowIfNull(finders);
        var candidates = new List<Candidate>();
        foreach (var finder in finders)
        {
            candidates.AddRange(finder == RepoFinderKind.Config
                ? await FindInConfigAsync(repo, refs, cancellationToken).ConfigureAwait(false)
                : FindOnMounts(repo, refs, mountRoots ?? MountTable.UserVisibleMounts(Environment.GetEnvironmentVariable("HOME"))));
        }

        // Each candidate's summary says which commit it has for each ref, with the commit's timestamp and size.
        var commits = new Dictionary<Checksum, (ulong Timestamp, ulong Size)>();
        var table = new Dictionary<(int Ref, int Result), Checksum>();
        var lastModified = new ulong[candidates.Count];
        var dropped = new bool[candidates.Count];
        for (int i = 0; i < candidates.Count; i++)
        {
            var summary = candidates[i].Summary ?? await TryFetchSummaryAsync(repo, candidates[i], cancellationToken).ConfigureAwait(false);
            if (summary is null)
            {
                dropped[i] = true;
                continue;
            }

            lastModified[i] = summary.LastModified;

            // A dynamic remote serves only the collection of the remote whose keys verify it.
            var only = candidates[i].Dynamic ? repo.GetRemote(candidates[i].KeyringRemote)?.CollectionId : null;
            foreach (var listed in summary.Refs)
            {
                if (listed.Collection is null || (candidates[i].Dynamic && only != listed.Collection))
                {
                    continue;
                }

                int r = IndexOf(refs, listed.Collection, listed.Ref);
                if (r < 0)
                {
                    continue;
                }

                var known = commits.TryGetValue(listed.Commit, out var k) ? k
                    : (repo.HasObject(listed.Commit, ObjectType.Commit) ? repo.LoadCommit(listed.Commit).Timestamp : 0, listed.CommitSize);
                if (known.Item1 == 0)
                {
                    known.Item1 = listed.CommitTimestamp;
                }
                else if (listed.CommitTimestamp != 0 && known.Item1 != listed.CommitTimestamp)
                {
                    dropped[i] = true; // as libostree: a summary that disagrees about a commit is not trusted
                    break;
                }

                if (known.Item2 != listed.CommitSize)
                {
                    dropped[i] = true;
                    break;
                }

                commits[listed.Commit] = known;
                table[(r, i)] = listed.Commit;
            }
        }

        // A commit whose timestamp no summary gave is fetched from a result that has it and verified.
        foreach (var (commit, (timestamp, size)) in commits.ToList())
        {
            if (timestamp != 0)
            {
                continue;
            }

            for (int i = 0; i < candidates.Count; i++)
            {
                if (!dropped[i] && table.Any(kv => kv.Key.Result == i && kv.Value == commit))
                {
                    commits[commit] = (await FetchCommitTimestampAsync(repo, candidates[i], commit, cancellationToken).ConfigureAwait(false), size);
                    break;
                }
            }
        }

        // The newest commit of each ref across the results (the first result listed wins a tie, as libostree's
        // strictly-newer comparison does).
        var latest = new Checksum?[refs.Count];
        for (int r = 0; r < refs.Count; r++)
        {
            for (int j = 0; j < candidates.Count; j++)
            {
                if (!dropped[j] && table.TryGetValue((r, j), out var c) && (latest[r] is not { } l || commits[c].Timestamp > commits[l].Timestamp))
                {
                    latest[r] = c;
                }
            }
        }

        var results = new List<RepoFinderResult>();
        for (int i = 0; i < candidates.Count; i++)
        {
            if (dropped[i])
            {
                continue;
            }

            // Of every ref asked for, the commit this result has when it is the newest; the refs in libostree's table order.
            var entries = new List<KeyValuePair<CollectionRef, Checksum?>>();
            for (int r = 0; r < refs.Count; r++)
            {
                entries.Add(new(refs[r], table.TryGetValue((r, i), out var mine) && mine == latest[r] ? mine : null));
            }

            if (entries.All(e => e.Value is null))
            {
                continue;
            }

            var order = GHashTableOrder.Order(entries.Select(e => e.Key), k => k.GHash, EqualityComparer<CollectionRef>.Default);
            var byRef = entries.GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.First().Value);
            var c0 = candidates[i];
            results.Add(new RepoFinderResult(c0.Name, c0.Url, c0.KeyringRemote, c0.Finder, c0.Finder == RepoFinderKind.Config ? ConfigPriority : MountPriority, order.Select(k => new KeyValuePair<CollectionRef, Checksum?>(k, byRef[k])).ToList(), lastModified[i]));
        }

        results.Sort(Compare);
        return results;
    }

    /// <summary>
    /// Pulls every ref the results found, each from the first result that has it at its newest commit, trying the next
    /// one that does when a pull fails. Refs go to REMOTE:REF (the remote whose keys verify the result), or with
    /// <paramref name="mirror"/> to the ref of their collection. Commits are verified with that remote's OpenPGP keys
    /// whatever its config says, as libostree does.
    /// </summary>
    /// <exception cref="OstreeException">Some refs could not be pulled from any result (named, in libostree's words).</exception>
    public static async Task PullAsync(OstreeRepo repo, IReadOnlyList<RepoFinderResult> results, bool mirror, PullOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(results);
        options ??= new PullOptions();
        var pulled = new Dictionary<CollectionRef, bool>();
        foreach (var result in results)
        {
            var wanted = result.Refs.Where(kv => kv.Value is not null && !(pulled.TryGetValue(kv.Key, out var done) && done)).ToList();
            if (wanted.Count == 0)
            {
                continue;
            }

            bool ok;
            try
            {
                await RemotePull.RunAsync(repo, result.KeyringRemote, [], options with
                {
                    Url = result.Url,
                    Mirror = mirror,
                    CollectionRefs = wanted.Select(kv => new CollectionRefRequest(kv.Key.Collection, kv.Key.Ref, kv.Value)).ToList(),
                    PolicyOverride = VerificationPolicy.ForGpg(VerificationPolicy.RemoteGpgKeys(repo, result.KeyringRemote)),
                }, cancellationToken).ConfigureAwait(false);
                ok = true;
            }
            catch (Exception e) when (e is OstreeException or IOException or HttpRequestException)
            {
                options.Warnings?.Report($"Failed to pull refs from '{result.RemoteName}': {e.Message}");
                ok = false;
            }

            foreach (var kv in wanted)
            {
                pulled[kv.Key] = ok;
            }
        }

        var failed = pulled.Where(kv => !kv.Value).Select(kv => kv.Key.ToString()).ToList();
        if (failed.Count > 0)
        {
            throw new OstreeException(OstreeErrorCode.FetchFailed, "Failed to pull some refs from the remotes: " + string.Join(", ", failed));
        }
    }

    /// <summary>libostree's order of results (<c>ostree_repo_finder_result_compare</c>).</summary>
    public static int Compare(RepoFinderResult a, RepoFinderResult b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Priority != b.Priority)
        {
            return a.Priority.CompareTo(b.Priority);
        }

        if (a.SummaryLastModified != 0 && b.SummaryLastModified != 0 && a.SummaryLastModified != b.SummaryLastModified)
        {
            return a.SummaryLastModified.CompareTo(b.SummaryLastModified);
        }

        int na = a.Refs.Count(kv => kv.Value is not null), nb = b.Refs.Count(kv => kv.Value is not null);
        return na != nb ? na.CompareTo(nb) : string.CompareOrdinal(a.RemoteName, b.RemoteName);
    }

    // A repository that may serve some of the refs, before its summary is read.
    private sealed record Candidate(string Name, string Url, string KeyringRemote, RepoFinderKind Finder, bool Dynamic, SummaryListing? Summary = null);

    private static int IndexOf(IReadOnlyList<CollectionRef> refs, string collection, string name)
    {
        for (int i = 0; i < refs.Count; i++)
        {
            if (refs[i].Collection == collection && refs[i].Ref == name)
            {
                return i;
            }
        }

        return -1;
    }

    // "config": every remote with a valid collection id whose summary lists one of the refs of that collection.
    private static async Task<List<Candidate>> FindInConfigAsync(OstreeRepo repo, IReadOnlyList<CollectionRef> refs, CancellationToken ct)
    {
        var found = new List<Candidate>();
        foreach (var name in repo.ListRemotes())
        {
            var remote = repo.GetRemote(name);
            if (remote?.CollectionId is not { } collection || !IsValidCollectionId(collection) || !refs.Any(r => r.Collection == collection))
            {
                continue;
            }

            SummaryListing summary;
            try
            {
                summary = Summary.ReadListing((await RemoteSummary.FetchAsync(repo, name, ct).ConfigureAwait(false)).Summary);
            }
            catch (Exception e) when (e is OstreeException or IOException or HttpRequestException)
            {
                continue; // as libostree: a remote whose refs cannot be listed is left out
            }

            if (refs.Any(r => r.Collection == collection && summary.Find(collection, r.Ref) is not null))
            {
                found.Add(new Candidate(name, remote.Url, name, RepoFinderKind.Config, false, summary));
            }
        }

        return found;
    }

    // "mount": on each mount, the repositories of .ostree/repos.d (by name), then the well-known folders; for each ref
    // the first of them that has it, verified with the keys of the first remote configured for its collection.
    private static List<Candidate> FindOnMounts(OstreeRepo repo, IReadOnlyList<CollectionRef> refs, IReadOnlyList<string> mountRoots)
    {
        var found = new List<Candidate>();
        var self = Native.FileIdentity(repo.Path);
        foreach (var root in mountRoots)
        {
            if (Native.FileIdentity(root) is not { } rootId)
            {
                continue;
            }

            var repos = new List<(string Path, SortedDictionary<(string Collection, string Ref), Checksum> Refs)>();
            var reposD = Path.Combine(root, ".ostree", "repos.d");
            var candidates = Directory.Exists(reposD)
                ? Directory.EnumerateFileSystemEntries(reposD).Order(StringComparer.Ordinal).ToList()
                : [];
            candidates.AddRange(new[] { ".ostree/repo", "ostree/repo", "var/lib/flatpak/repo" }.Select(p => Path.Combine(root, p)));
            foreach (var path in candidates)
            {
                try
                {
                    if (!Directory.Exists(path) || Native.FileIdentity(path) is not { } id || id.Device != rootId.Device || id == self)
                    {
                        continue; // not there, elsewhere than on this mount, or the repository asking
                    }

                    var other = OstreeRepo.Open(path);
                    repos.Add((path, other.ListCollectionRefs(excludeRemotes: true)));
                }
                catch (Exception e) when (e is OstreeException or IOException or UnauthorizedAccessException)
                {
                    // as libostree: a folder that is not a readable repository is passed over
                }
            }

            var byRepo = new HashSet<(string Url, string Keyring)>();
            foreach (var r in refs)
            {
                foreach (var (path, listed) in repos)
                {
                    if (!listed.ContainsKey((r.Collection, r.Ref)))
                    {
                        continue;
                    }

                    var keyring = KeyringRemoteFor(repo, r.Collection);
                    if (keyring is null)
                    {
                        continue;
                    }

                    var url = "file://" + Native.RealPath(path);
                    if (byRepo.Add((url, keyring)))
                    {
                        found.Add(new Candidate(DynamicName(url, keyring + ".trustedkeys.gpg"), url, keyring, RepoFinderKind.Mount, true));
                    }

                    break;
                }
            }
        }

        return found;
    }

    // libostree's ostree_repo_resolve_keyring_for_collection: the first remote configured with that collection id.
    private static string? KeyringRemoteFor(OstreeRepo repo, string collection) =>
        repo.ListRemotes().Order(StringComparer.Ordinal).FirstOrDefault(n => repo.GetRemote(n)?.CollectionId == collection);

    // The name libostree gives the remote it makes up for a repository on a mount: the URI and keyring, URI-escaped,
    // joined by '_', with every '%' made '_'.
    internal static string DynamicName(string url, string keyring) =>
        (Uri.EscapeDataString(url) + "_" + Uri.EscapeDataString(keyring)).Replace('%', '_');

    private static bool IsValidCollectionId(string id)
    {
        try
        {
            OstreeRepo.ValidateCollectionId(id);
            return true;
        }
        catch (OstreeFormatException)
        {
            return false;
        }
    }

    // The candidate's summary, parsed; null when it cannot be read or does not parse (the candidate is left out).
    private static async Task<SummaryListing?> TryFetchSummaryAsync(OstreeRepo repo, Candidate c, CancellationToken ct)
    {
        try
        {
            // A configured remote's summary is checked as its config says; a mount's is read unsigned, as libostree.
            var bytes = c.Dynamic
                ? await RemoteSummary.FetchFileAsync(c.Url, "summary", ct).ConfigureAwait(false)
                : (await RemoteSummary.FetchAsync(repo, c.Name, ct).ConfigureAwait(false)).Summary;
            return bytes is null ? null : Summary.ReadListing(bytes);
        }
        catch (Exception e) when (e is OstreeException or IOException or HttpRequestException)
        {
            return null;
        }
    }

    // The timestamp of a commit no summary dated: the commit fetched from the result, checked against its id and
    // verified with the result's keys; 0 when that fails.
    private static async Task<ulong> FetchCommitTimestampAsync(OstreeRepo repo, Candidate c, Checksum commit, CancellationToken ct)
    {
        try
        {
            var hex = commit.ToHex();
            var bytes = await RemoteSummary.FetchFileAsync(c.Url, $"objects/{hex[..2]}/{hex[2..]}.commit", ct).ConfigureAwait(false);
            if (bytes is null || Checksum.Compute(bytes) != commit)
            {
                return 0;
            }

            var detached = await RemoteSummary.FetchFileAsync(c.Url, $"objects/{hex[..2]}/{hex[2..]}.commitmeta", ct).ConfigureAwait(false);
            CommitVerifier.Verify(bytes, detached is null ? null : GVariant.GVariantValue.Parse(GVariant.GVariantType.VarDict, detached), VerificationPolicy.ForGpg(VerificationPolicy.RemoteGpgKeys(repo, c.KeyringRemote)));
            return Commit.Parse(bytes).Timestamp;
        }
        catch (Exception e) when (e is OstreeException or IOException or HttpRequestException)
        {
            return 0;
        }
    }

    /// <summary>The time libostree prints for a result's summary (<c>%FT%TZ</c>), or "unknown" for none.</summary>
    public static string FormatLastModified(ulong seconds) =>
        seconds == 0 ? "unknown"
        : seconds > 253402300799 ? "invalid"
        : DateTimeOffset.FromUnixTimeSeconds((long)seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>The report <c>ostree find-remotes</c> prints, in its words.</summary>
    public static string Format(IReadOnlyList<RepoFinderResult> results, IReadOnlyList<CollectionRef> refs)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(refs);
        var sb = new StringBuilder();
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            sb.Append(CultureInfo.InvariantCulture, $"Result {i}: {r.Url}\n - Finder: {r.FinderName}\n - Keyring: {r.Keyring}\n - Priority: {r.Priority}\n - Summary last modified: {FormatLastModified(r.SummaryLastModified)}\n - Refs:\n");
            foreach (var (key, value) in r.Refs)
            {
                sb.Append(CultureInfo.InvariantCulture, $"    - ({key.Collection}, {key.Ref}) = {value?.ToHex() ?? "(not found)"}\n");
            }

            sb.Append('\n');
        }

        if (results.Count == 0)
        {
            return sb.Append("No results.\n").ToString();
        }

        var found = results.SelectMany(r => r.Refs).Where(kv => kv.Value is not null).Select(kv => kv.Key).ToHashSet();
        var distinct = refs.Distinct().ToList();
        sb.Append(CultureInfo.InvariantCulture, $"{found.Count}/{refs.Count} refs were found.\n");
        if (found.Count != refs.Count)
        {
            sb.Append("Refs not found in any remote:\n");
            foreach (var r in distinct.Where(r => !found.Contains(r)))
            {
                sb.Append(CultureInfo.InvariantCulture, $" - ({r.Collection}, {r.Ref})\n");
            }
        }

        return sb.ToString();
    }
}
