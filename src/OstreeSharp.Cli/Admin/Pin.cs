using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Pin()
    {
        var cmd = new Command("pin", "Change the \"pinning\" state of a deployment");
        var sysroot = SysrootOption();
        var unpin = new Option<bool>("--unpin", "-u") { Description = "Unset pin" };
        var indexes = new Argument<int[]>("INDEX") { Arity = ArgumentArity.OneOrMore };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(unpin);
        cmd.Arguments.Add(indexes);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                bool pin = !pr.GetValue(unpin);
                foreach (var i in pr.GetValue(indexes)!)
                {
                    bool changed = s.SetPinned(i, pin);
                    Console.WriteLine(changed ? $"Deployment {i} is now {(pin ? "pinned" : "unpinned")}" : $"Deployment {i} is already {(pin ? "pinned" : "unpinned")}");
                }

                return 0;
            });
        });
        return cmd;
    }
}
