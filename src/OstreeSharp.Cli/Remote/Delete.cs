using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command Delete()
    {
        var cmd = new Command("delete", "Delete a remote repository");
        var ifExists = new Option<bool>("--if-exists") { Description = "Do nothing if the provided remote does not exist" };
        var sysroot = SysrootOption();
        var name = new Argument<string>("NAME");
        cmd.Options.Add(ifExists);
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            OpenRepoOrSysroot(pr, sysroot).DeleteRemote(pr.GetValue(name)!, pr.GetValue(ifExists));
            return 0;
        });
        return cmd;
    }

    private static Option<string?> SysrootOption() => new("--sysroot") { Description = "Use sysroot at PATH (overrides --repo)" };

    // As ostree's remote add and delete: --sysroot names a sysroot whose repository is a system repository (its
    // remotes may live in the deployment's etc/ostree/remotes.d); else --repo and its defaults.
    private static OstreeSharp.Repository.OstreeRepo OpenRepoOrSysroot(ParseResult pr, Option<string?> sysroot) =>
        pr.GetValue(sysroot) is { } path ? OstreeSharp.Repository.OstreeRepo.OpenForSysroot(path) : CliSupport.OpenRepo(pr);
}
