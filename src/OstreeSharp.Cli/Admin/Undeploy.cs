using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Undeploy()
    {
        var cmd = new Command("undeploy", "Delete deployment INDEX");
        var sysroot = SysrootOption();
        var index = new Argument<int>("INDEX");
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(index);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var d = s.Undeploy(pr.GetValue(index));
                Console.WriteLine($"Deleted deployment {d.DirectoryName}");
                s.Cleanup(prune: true);
                return 0;
            });
        });
        return cmd;
    }
}
