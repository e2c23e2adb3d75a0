using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command InitFs()
    {
        var cmd = new Command("init-fs", "Initialize a root filesystem");
        var path = new Argument<string>("PATH");
        var modern = new Option<bool>("--modern") { Description = "Only boot/ and ostree/ (no dev, proc, ...)" };
        cmd.Arguments.Add(path);
        cmd.Options.Add(modern);
        CliSupport.SetRun(cmd, pr =>
        {
            OstreeSysroot.InitFs(pr.GetValue(path)!, pr.GetValue(modern));
            return 0;
        });
        return cmd;
    }
}
