using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Cleanup()
    {
        var cmd = new Command("cleanup", "Delete untagged deployments and repository objects");
        var sysroot = SysrootOption();
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                s.Cleanup(prune: true);
                return 0;
            });
        });
        return cmd;
    }
}
