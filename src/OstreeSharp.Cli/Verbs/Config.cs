using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Config()
    {
        var cmd = new Command("config", "Change repo configuration settings");
        var get = new Command("get", "Print a configuration value");
        var set = new Command("set", "Set a configuration value");
        var unset = new Command("unset", "Remove a configuration value");
        var group = new Option<string?>("--group") { Description = "Group name for remote config", Recursive = true };
        cmd.Options.Add(group);
        var keyG = new Argument<string>("SECTION.KEY");
        var keyS = new Argument<string>("SECTION.KEY");
        var value = new Argument<string>("VALUE");
        var keyU = new Argument<string>("SECTION.KEY");
        get.Arguments.Add(keyG);
        set.Arguments.Add(keyS);
        set.Arguments.Add(value);
        unset.Arguments.Add(keyU);
        var extras = new List<Argument<string[]>>();
        foreach (var c in new[] { get, set, unset })
        {
            var extra = new Argument<string[]>("EXTRA") { Arity = ArgumentArity.ZeroOrMore, Hidden = true };
            c.Arguments.Add(extra);
            extras.Add(extra);
        }

        (string, string) Split(ParseResult pr, string key)
        {
            // ostree's words for a line with arguments left over, which scripts check.
            if (extras.Any(e => pr.GetResult(e) is not null && (pr.GetValue(e)?.Length ?? 0) > 0))
            {
                throw new ArgumentException("Too many arguments given");
            }

            if (pr.GetValue(group) is { } g)
            {
                return (g, key);
            }

            // As ostree does: the group is everything before the first dot (use --group for remotes).
            int dot = key.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0)
            {
                throw new ArgumentException($"Key '{key}' must be of the form SECTION.KEY");
            }

            return (key[..dot], key[(dot + 1)..]);
        }

        CliSupport.SetRun(get, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var (s, k) = Split(pr, pr.GetValue(keyG)!);
            Console.WriteLine(repo.Config.Get(s, k) ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Key file does not have key “{k}” in group “{s}”"));
            return 0;
        });
        CliSupport.SetRun(set, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var (s, k) = Split(pr, pr.GetValue(keyS)!);
            repo.Config.Set(s, k, pr.GetValue(value)!);
            OstreeSharp.Repository.OstreeRepo.ValidateConfig(repo.Config, repo.ConfigPath); // as libostree: an invalid setting is not written
            repo.SaveConfig();
            return 0;
        });
        CliSupport.SetRun(unset, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var (s, k) = Split(pr, pr.GetValue(keyU)!);
            repo.Config.Remove(s, k);
            repo.SaveConfig();
            return 0;
        });
        cmd.Subcommands.Add(get);
        cmd.Subcommands.Add(set);
        cmd.Subcommands.Add(unset);
        return cmd;
    }
}
