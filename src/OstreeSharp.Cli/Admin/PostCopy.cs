using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command PostCopy()
    {
        var cmd = new Command("post-copy", "Update the sysroot after a copy with file-level tools (fs-verity on objects and composefs images)");
        var sysroot = SysrootOption();
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr => Locked(pr, sysroot, s =>
        {
            s.UpdatePostCopy();
            return 0;
        }));
        return cmd;
    }
}
