using System.CommandLine;
using OstreeSharp.Repository;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Init()
    {
        var cmd = new Command("init", "Initialize a new empty repository");
        var mode = new Option<string>("--mode") { Description = "Initialize repository in given mode (bare, bare-user, bare-user-only, archive)", DefaultValueFactory = _ => "bare" };
        var cid = new Option<string?>("--collection-id") { Description = "Globally unique ID for this repository's collection of refs" };
        var extra = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Hidden = true };
        cmd.Options.Add(mode);
        cmd.Options.Add(cid);
        cmd.Arguments.Add(extra);
        CliSupport.SetRun(cmd, pr =>
        {
            // ostree's init ignores arguments (libostree's own tests pass one); say so rather than fail.
            if (pr.GetValue(extra) is { Length: > 0 } ignored)
            {
                Console.Error.WriteLine($"warning: init takes no arguments; ignoring {string.Join(' ', ignored)}");
            }

            var path = CliSupport.RepoPath(pr);
            OstreeRepo.Create(path, RepoModeNames.Parse(pr.GetValue(mode)!), pr.GetValue(cid));
            return 0;
        });
        return cmd;
    }
}
