using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Internal;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command PruneVerb()
    {
        var cmd = new Command("prune", "Search for unreachable objects");
        var noPrune = new Option<bool>("--no-prune") { Description = "Only display unreachable objects; don't delete" };
        var refsOnly = new Option<bool>("--refs-only") { Description = "Only compute reachability via refs" };
        var depth = new Option<int>("--depth") { Description = "Only traverse DEPTH parents for each commit (default: -1=infinite)", DefaultValueFactory = _ => -1 };
        var younger = new Option<string?>("--keep-younger-than") { Description = "Prune all commits older than the specified date" };
        var deleteCommit = new Option<string[]>("--delete-commit") { Description = "Specify a commit to delete" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var retain = new Option<string[]>("--retain-branch-depth") { Description = "Additionally retain BRANCH=DEPTH commits" };
        var onlyBranch = new Option<string[]>("--only-branch") { Description = "Only prune BRANCH (may be specified multiple times)" };
        var commitOnly = new Option<bool>("--commit-only") { Description = "Only traverse and delete commit objects." };
        var deltasOnly = new Option<bool>("--static-deltas-only") { Description = "Change the behavior of delete-commit and keep-younger-than to prune only static deltas" };
        foreach (var o in new Option[] { noPrune, refsOnly, depth, younger, deleteCommit, json, retain, onlyBranch, commitOnly, deltasOnly })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(deleteCommit) is { Length: > 0 } && pr.GetValue(noPrune))
            {
                throw new ArgumentException("Cannot specify both --delete-commit and --no-prune");
            }

            var keep = pr.GetValue(younger) is { } y ? CliSupport.ParseTimestamp(y) : (DateTimeOffset?)null;
            var retainDepths = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var bd in pr.GetValue(retain) ?? [])
            {
                // ostree's parsing and words.
                int eq = bd.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    throw new ArgumentException("Invalid value " + bd + ", must specify BRANCH=DEPTH");
                }

                retainDepths[bd[..eq]] = int.TryParse(bd[(eq + 1)..], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var d)
                    ? d : throw new ArgumentException($"Invalid depth {bd[(eq + 1)..]}");
            }

            foreach (var b in pr.GetValue(onlyBranch) ?? [])
            {
                repo.Resolve(b);
            }

            if (pr.GetValue(deltasOnly) && pr.GetValue(deleteCommit) is not { Length: > 0 })
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "--static-deltas-only requires --delete-commit; see https://github.com/ostreedev/ostree/issues/1479");
            }

            var result = Prune.Run(repo, new PruneOptions
            {
                DryRun = pr.GetValue(noPrune),
                RefsOnly = pr.GetValue(refsOnly) || keep is not null || retainDepths.Count > 0 || pr.GetValue(onlyBranch) is { Length: > 0 },
                Depth = pr.GetValue(depth),
                KeepYoungerThan = keep,
                RetainBranchDepth = retainDepths,
                OnlyBranches = pr.GetValue(onlyBranch) ?? [],
                CommitOnly = pr.GetValue(commitOnly),
                StaticDeltasOnly = pr.GetValue(deltasOnly),
                DeleteCommits = (pr.GetValue(deleteCommit) ?? []).Select(repo.Resolve).ToList(),
            });
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new PruneJson(result.TotalObjects, result.Deleted, result.BytesFreed), CliJsonContext.Default.PruneJson));
                return 0;
            }

            Console.WriteLine(pr.GetValue(commitOnly) ? $"Total (commit only) objects: {result.TotalObjects}" : $"Total objects: {result.TotalObjects}");
            Console.WriteLine(result.Deleted == 0
                ? "No unreachable objects"
                : pr.GetValue(noPrune) ? $"Would delete: {result.Deleted} objects, freeing {SizeFormat.Format(result.BytesFreed)}"
                : $"Deleted {result.Deleted} objects, {SizeFormat.Format(result.BytesFreed)} freed");
            return 0;
        });
        return cmd;
    }
}
