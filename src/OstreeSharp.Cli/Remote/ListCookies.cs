using System.CommandLine;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command ListCookies()
    {
        var cmd = new Command("list-cookies", "Show remote repository cookies");
        var name = new Argument<string>("NAME");
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            Console.Write(OstreeSharp.Transfer.CookieJar.Format(OstreeSharp.Transfer.CookieJar.Read(OstreeSharp.Transfer.CookieJar.PathOf(repo.Path, pr.GetValue(name)!))));
            return 0;
        });
        return cmd;
    }
}
