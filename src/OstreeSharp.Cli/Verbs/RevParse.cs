using System.CommandLine;
using OstreeSharp.Objects;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command RevParse()
    {
        var cmd = new Command("rev-parse", "Output the target of a rev");
        var single = new Option<bool>("--single", "-S") { Description = "If the repository has exactly one commit, then print it; any other case will result in an error" };
        var rev = new Argument<string?>("REV") { Arity = ArgumentArity.ZeroOrOne };
        cmd.Options.Add(single);
        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(single))
            {
                var commits = repo.EnumerateObjects().Where(o => o.Type == ObjectType.Commit).ToList();
                if (commits.Count != 1)
                {
                    throw new OstreeException(OstreeErrorCode.InvalidArgument, commits.Count == 0 ? "No commit objects found" : "Multiple commit objects found");
                }

                Console.WriteLine(commits[0].Checksum.ToHex());
                return 0;
            }

            Console.WriteLine(repo.Resolve(pr.GetValue(rev) ?? throw new ArgumentException("A REV argument is required")).ToHex());
            return 0;
        });
        return cmd;
    }
}
