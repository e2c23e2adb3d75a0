using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command ShowUrl()
    {
        var cmd = new Command("show-url", "Show remote repository URL");
        var name = new Argument<string>("NAME");
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            Console.WriteLine(CliSupport.OpenRepo(pr).RequireRemote(pr.GetValue(name)!).RequireUrl());
            return 0;
        });
        return cmd;
    }
}
