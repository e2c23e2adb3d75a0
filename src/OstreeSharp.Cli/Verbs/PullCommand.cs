using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Internal;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

/// <summary>`pull REMOTE [REF...]`: fetch commits from an archive repository over HTTP.</summary>
internal static class PullCommand
{
    public static Command Create()
    {
        var cmd = new Command("pull", "Download commits (and their trees) from a remote archive repository over HTTP; every object is verified, an interrupted pull resumes");
        var remote = new Argument<string>("REMOTE");
        var refs = new Argument<string[]>("REF") { Arity = ArgumentArity.ZeroOrMore, Description = "Refs or commit checksums (default: the remote's branches)" };
        var mirror = new Option<bool>("--mirror") { Description = "Write refs as local heads; without REF, pull every ref of the remote's summary and copy the summary" };
        var commitOnly = new Option<bool>("--commit-metadata-only") { Description = "Fetch only the commit objects and their detached metadata" };
        var depth = new Option<int>("--depth") { Description = "Traverse DEPTH parents (-1=infinite) (default: 0)" };
        var retries = new Option<int>("--network-retries") { Description = "Retry a failed request N times (default: 5)", DefaultValueFactory = _ => 5 };
        var requests = new Option<int>("--max-requests") { Description = "Requests in flight at most (default: 8)", DefaultValueFactory = _ => 8 };
        var noDeltas = new Option<bool>("--disable-static-deltas") { Description = "Do not use static deltas" };
        var needDeltas = new Option<bool>("--require-static-deltas") { Description = "Require static deltas" };
        var json = new Option<bool>("--json") { Description = "Print what was pulled as JSON" };
        var lowSpeedLimit = new Option<uint>("--low-speed-limit-bytes") { Description = "Abort a request that averages fewer bytes a second than N over --low-speed-time-seconds, then retry it (default: 1000)", DefaultValueFactory = _ => 1000 };
        var lowSpeedTime = new Option<uint>("--low-speed-time-seconds") { Description = "The time in seconds over which a request's speed is averaged for --low-speed-limit-bytes (default: 30)", DefaultValueFactory = _ => 30 };
        var noRetry = new Option<bool>("--disable-retry-on-network-errors") { Description = "Do not retry when network issues happen, instead fail at once" };
        var disableFsync = new Option<bool>("--disable-fsync") { Description = "Do not invoke fsync()" };
        var perObjectFsync = new Option<bool>("--per-object-fsync") { Description = "Flush each object to disk on its own instead of with one syncfs at the end" };
        var bareUserOnly = new Option<bool>("--bareuseronly-files") { Description = "Reject regular files with mode outside of 0775 (world writable, suid, etc.)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only print information on what will be downloaded (requires static deltas)" };
        var untrusted = new Option<bool>("--untrusted") { Description = "Verify checksums of local sources (always for non-local repos)" };
        var httpTrusted = new Option<bool>("--http-trusted") { Description = "Do not verify checksums of HTTP sources (mostly useful when mirroring)" };
        var url = new Option<string?>("--url") { Description = "Pull objects from this URL instead of the one from the remote config" };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Use custom cache dir" };
        var subpath = new Option<string[]>("--subpath") { Description = "Only pull the provided subpath(s)" };
        var noBindings = new Option<bool>("--disable-verify-bindings") { Description = "Do not verify commit bindings" };
        var localCache = new Option<string[]>("--localcache-repo", "-L") { Description = "Add REPO as local cache source for objects during this pull" };
        var headers = new Option<string[]>("--http-header") { Description = "Add NAME=VALUE as HTTP header to all requests" };
        var userAgent = new Option<string?>("--append-user-agent") { Description = "Append string to user agent" };
        var tsCheck = new Option<bool>("--timestamp-check", "-T") { Description = "Require fetched commits to have newer timestamps" };
        var tsCheckFrom = new Option<string?>("--timestamp-check-from-rev") { Description = "Require fetched commits to have newer timestamps than given rev" };
        cmd.Arguments.Add(remote);
        cmd.Arguments.Add(refs);
        foreach (var o in new Option[] { mirror, commitOnly, depth, retries, requests, noDeltas, needDeltas, json, lowSpeedLimit, lowSpeedTime, noRetry, disableFsync, perObjectFsync, bareUserOnly, untrusted, httpTrusted, dryRun, url, headers, userAgent, tsCheck, tsCheckFrom, cacheDir, subpath, localCache, noBindings })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(disableFsync))
            {
                repo.Fsync = false;
            }

            if (pr.GetValue(perObjectFsync))
            {
                repo.PerObjectFsync = true;
            }

            var options = new PullOptions
            {
                Url = pr.GetValue(url),
                CacheDir = pr.GetValue(cacheDir),
                HttpHeaders = (pr.GetValue(headers) ?? []).Select(h => CliSupport.SplitKeyValue(h, "--http-header")).ToList(),
                AppendUserAgent = pr.GetValue(userAgent),
                TimestampCheck = pr.GetValue(tsCheck),
                TimestampCheckFromRev = pr.GetValue(tsCheckFrom) is { } from ? repo.Resolve(from) : null,
                Mirror = pr.GetValue(mirror),
                CommitMetadataOnly = pr.GetValue(commitOnly),
                Subpaths = pr.GetValue(subpath) is { Length: > 0 } sp ? sp : null,
                DisableVerifyBindings = pr.GetValue(noBindings),
                LocalCacheRepos = (pr.GetValue(localCache) ?? []).Select(OstreeSharp.Repository.OstreeRepo.Open).ToList(),
                Depth = pr.GetValue(depth),
                NetworkRetries = pr.GetValue(noRetry) ? 0 : pr.GetValue(retries),
                LowSpeedLimitBytes = pr.GetValue(lowSpeedLimit),
                LowSpeedTimeSeconds = (int)Math.Min(int.MaxValue, pr.GetValue(lowSpeedTime)),
                MaxConcurrentRequests = Math.Max(1, pr.GetValue(requests)),
                Progress = CliSupport.MakeProgress(pr, "pull"),
                DisableStaticDeltas = pr.GetValue(noDeltas),
                RequireStaticDeltas = pr.GetValue(needDeltas),
                BareUserOnlyFiles = pr.GetValue(bareUserOnly),
                HttpTrusted = pr.GetValue(httpTrusted),
                DryRun = pr.GetValue(dryRun),
                Untrusted = pr.GetValue(untrusted),
                Warnings = new StderrWarnings(),
            };
            if (options.DisableStaticDeltas && options.RequireStaticDeltas)
            {
                throw new ArgumentException("Cannot specify both --disable-static-deltas and --require-static-deltas");
            }

            if (options.DryRun && !options.RequireStaticDeltas)
            {
                throw new ArgumentException("--dry-run requires --require-static-deltas");
            }
            // As ostree: `pull REMOTE:REF` names the remote and one ref in one argument.
            var remoteName = pr.GetValue(remote)!;
            var refList = (pr.GetValue(refs) ?? []).ToList();
            if (remoteName.IndexOf(':', StringComparison.Ordinal) is > 0 and var colon)
            {
                if (refList.Count > 0)
                {
                    throw new ArgumentException($"Cannot give refs both in {remoteName} and as arguments");
                }

                refList.Add(remoteName[(colon + 1)..]);
                remoteName = remoteName[..colon];
            }

            var result = await RemotePull.RunAsync(repo, remoteName, refList, options, CliSupport.Stopping);
            if (result.DryRun is { } d)
            {
                // ostree's line, in its words and GLib's sizes.
                Console.WriteLine($"Delta update: {d.FetchedParts}/{d.TotalParts} parts, {SizeFormat.FormatAsGlibPrints(d.FetchedSize)}/{SizeFormat.FormatAsGlibPrints(d.TotalSize)}, {SizeFormat.FormatAsGlibPrints(d.TotalUncompressedSize)} total uncompressed");
                return 0;
            }

            if (pr.GetValue(json))
            {
                var j = new PullJson(
                    result.Refs.Select(r => new PulledRefJson(r.Ref, r.Commit.ToHex())).ToList(),
                    result.MetadataFetched,
                    result.ContentFetched,
                    result.BytesTransferred,
                    result.ContentBytesWritten,
                    Math.Round(result.Elapsed.TotalSeconds, 3),
                    result.RequestsRetried,
                    result.DeltasUsed.ToList());
                Console.WriteLine(JsonSerializer.Serialize(j, CliJsonContext.Writer.PullJson));
            }
            else
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{result.MetadataFetched} metadata, {result.ContentFetched} content objects fetched{(result.MetadataLocal + result.ContentLocal > 0 ? $" ({result.MetadataLocal} meta, {result.ContentLocal} content local)" : string.Empty)}{Transferred(result)}; {SizeFormat.Format(result.ContentBytesWritten)} content written{(result.RequestsRetried > 0 ? $"; {result.RequestsRetried} requests retried" : string.Empty)}{(result.DeltasUsed.Count > 0 ? $"; static delta {string.Join(", ", result.DeltasUsed)}" : string.Empty)}"));
            }

            return 0;
        });
        return cmd;
    }

    private sealed class StderrWarnings : IProgress<string>
    {
        public void Report(string value) => Console.Error.WriteLine("warning: " + value);
    }

    // libostree's words for what came over the wire: bytes below 1 KiB, else whole KiB; nothing when nothing did.
    private static string Transferred(PullResult r) =>
        r.BytesTransferred <= 0 ? string.Empty
        : string.Create(CultureInfo.InvariantCulture, $"; {(r.BytesTransferred < 1024 ? r.BytesTransferred : r.BytesTransferred / 1024)} {(r.BytesTransferred < 1024 ? "B" : "KiB")} transferred in {(int)r.Elapsed.TotalSeconds} seconds");
}
