using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Objects;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command FsckVerb()
    {
        var cmd = new Command("fsck", "Check the repository for consistency");
        var delete = new Option<bool>("--delete") { Description = "Remove corrupted objects" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only print error messages" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var all = new Option<bool>("--all", "-a") { Description = "Don't stop on the first error (every problem is always reported here)" };
        var addTombstones = new Option<bool>("--add-tombstones") { Description = "Add tombstones for missing commits" };
        var verifyBindings = new Option<bool>("--verify-bindings") { Description = "Verify ref bindings" };
        var verifyBackRefs = new Option<bool>("--verify-back-refs") { Description = "Verify back-references (implies --verify-bindings)" };
        cmd.Options.Add(addTombstones);
        cmd.Options.Add(verifyBindings);
        cmd.Options.Add(verifyBackRefs);
        cmd.Options.Add(delete);
        cmd.Options.Add(all);
        cmd.Options.Add(quiet);
        cmd.Options.Add(json);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            bool talk = !pr.GetValue(quiet) && !pr.GetValue(json);
            if (talk)
            {
                // ostree's phases, in its words (scripts grep them).
                Console.WriteLine("Validating refs...");
                Console.WriteLine("Validating refs in collections...");
                Console.WriteLine("Enumerating commits...");
            }

            if (pr.GetValue(verifyBindings) || pr.GetValue(verifyBackRefs))
            {
                Fsck.VerifyBindings(repo, pr.GetValue(verifyBackRefs));
            }

            var result = Fsck.Run(repo, pr.GetValue(delete), CliSupport.MakeProgress(pr, "fsck"), CliSupport.Stopping);
            var tombstoned = pr.GetValue(addTombstones) ? Fsck.AddTombstones(repo) : [];
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(
                    new FsckJson(result.Commits, result.Objects, result.Deleted, result.Problems.Select(p => new FsckProblemJson(p.Kind, p.Checksum.ToHex(), p.Type.ToName(), p.TreePath, p.Commit, p.Message)).ToList(), [.. result.RefProblems]),
                    CliJsonContext.Default.FsckJson));
            }
            else
            {
                // In libostree's words and streams: a corrupt object is an error line ("In commits C: ID.TYPE: ..."),
                // printed without the "error: " prefix under --delete and --all, as a missing object always is;
                // each commit that lost part of its tree is marked partial.
                bool plain = pr.GetValue(delete) || pr.GetValue(all);
                foreach (var p in result.Problems.Where(p => p.Kind != "Missing"))
                {
                    Console.Error.WriteLine((plain ? string.Empty : "error: ") + p);
                }

                foreach (var p in result.Problems.Where(p => p.Kind == "Missing"))
                {
                    Console.Error.WriteLine(p);
                }

                foreach (var c in result.MarkedPartial)
                {
                    Console.Error.WriteLine($"Marking commit as partial: {c}");
                }

                foreach (var p in result.RefProblems)
                {
                    Console.Error.WriteLine("error: " + p);
                }

                if (talk)
                {
                    Console.WriteLine($"Verifying content integrity of {result.Commits} commit objects...");
                    if (result.Deleted > 0)
                    {
                        Console.WriteLine($"Deleted {result.Deleted} corrupted objects");
                    }
                }

                // ostree prints these even with --quiet.
                foreach (var c in tombstoned)
                {
                    Console.WriteLine($"Adding tombstone for commit {c}");
                }

                if (talk && result.PartialCommits > 0 && !pr.GetValue(addTombstones))
                {
                    Console.WriteLine($"{result.PartialCommits} partial commits not verified");
                }
            }

            if (result.Problems.Count + result.RefProblems.Count > 0)
            {
                return pr.GetValue(json) ? CliErrors.Status(OstreeErrorCode.ObjectCorrupted) : CliErrors.Report(OstreeErrorCode.ObjectCorrupted, "Repository corruption encountered");
            }

            if (result.FsckPartialCommits > 0)
            {
                // libostree counts every partial commit here, not only those fsck marked.
                return pr.GetValue(json) ? CliErrors.Status(OstreeErrorCode.ObjectCorrupted)
                    : CliErrors.Report(OstreeErrorCode.ObjectCorrupted, $"{result.PartialCommits} partial commits from fsck-detected corruption");
            }

            if (talk)
            {
                Console.WriteLine($"object fsck of {result.Commits} commits completed successfully - no errors found.");
            }

            return 0;
        });
        return cmd;
    }
}
