using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Cat()
    {
        var cmd = new Command("cat", "Concatenate contents of files");
        var rev = new Argument<string>("COMMIT");
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        cmd.Arguments.Add(rev);
        cmd.Arguments.Add(paths);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var c = repo.LoadCommit(repo.Resolve(pr.GetValue(rev)!));
            using var stdout = Console.OpenStandardOutput();
            foreach (var p in pr.GetValue(paths)!)
            {
                using var s = OpenInCommit(repo, c, p);
                s.CopyTo(stdout);
            }

            return 0;
        });
        return cmd;
    }
}
