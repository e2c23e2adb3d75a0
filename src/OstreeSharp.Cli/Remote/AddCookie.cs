using System.CommandLine;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command AddCookie()
    {
        var cmd = new Command("add-cookie", "Add a cookie to remote");
        var args = new[] { "NAME", "DOMAIN", "PATH", "COOKIE_NAME", "VALUE" }.Select(n => new Argument<string>(n)).ToArray();
        foreach (var a in args)
        {
            cmd.Arguments.Add(a);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var v = args.Select(a => pr.GetValue(a)!).ToArray();
            OstreeSharp.Transfer.CookieJar.Add(OstreeSharp.Transfer.CookieJar.PathOf(repo.Path, v[0]), v[1], v[2], v[3], v[4], DateTimeOffset.UtcNow);
            return 0;
        });
        return cmd;
    }
}
