using System.CommandLine;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command DeleteCookie()
    {
        var cmd = new Command("delete-cookie", "Remove one cookie from remote");
        var args = new[] { "NAME", "DOMAIN", "PATH", "COOKIE_NAME" }.Select(n => new Argument<string>(n)).ToArray();

        // ostree reads four words and passes over the rest (its own tests pass the value too).
        var rest = new Argument<string[]>("VALUE") { Arity = ArgumentArity.ZeroOrMore, Description = "Not used (ostree takes and drops it too)" };
        foreach (var a in args)
        {
            cmd.Arguments.Add(a);
        }

        cmd.Arguments.Add(rest);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var v = args.Select(a => pr.GetValue(a)!).ToArray();
            if (!OstreeSharp.Transfer.CookieJar.Delete(OstreeSharp.Transfer.CookieJar.PathOf(repo.Path, v[0]), v[1], v[2], v[3], repo.Fsync))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Cookie not found in jar");
            }

            return 0;
        });
        return cmd;
    }
}
