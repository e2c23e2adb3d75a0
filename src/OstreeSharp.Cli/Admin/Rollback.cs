using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Rollback()
    {
        var cmd = new Command("rollback", "Make the previous deployment the default boot entry");
        var sysroot = SysrootOption();
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var d = s.Rollback();
                Console.WriteLine($"Moving '{d.DirectoryName}' to be first deployment");
                return 0;
            });
        });
        return cmd;
    }
}
