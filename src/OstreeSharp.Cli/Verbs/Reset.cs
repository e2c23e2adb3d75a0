using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Reset()
    {
        var cmd = new Command("reset", "Reset a REF to a previous COMMIT");
        var refArg = new Argument<string>("REF");
        var commitArg = new Argument<string>("COMMIT");
        cmd.Arguments.Add(refArg);
        cmd.Arguments.Add(commitArg);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree: REF must be an existing ref (any commit will do as the target, history or not).
            var repo = CliSupport.OpenRepo(pr);
            var r = pr.GetValue(refArg)!;
            if (!repo.ListRefs().ContainsKey(r))
            {
                throw new OstreeException(OstreeErrorCode.RefNotFound, $"Invalid ref '{r}'"); // ostree's words for a ref that does not exist
            }

            var target = repo.Resolve(pr.GetValue(commitArg)!);
            repo.SetRefImmediate(r, target);
            return 0;
        });
        return cmd;
    }
}
