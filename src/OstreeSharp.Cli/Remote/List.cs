using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command List()
    {
        var cmd = new Command("list", "List remote repository names");
        var urls = new Option<bool>("--show-urls", "-u") { Description = "Show remote URLs in list" };
        cmd.Options.Add(urls);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var names = repo.ListRemotes().Order(StringComparer.Ordinal).ToList();
            int width = names.Count == 0 ? 0 : names.Max(n => n.Length);
            foreach (var n in names)
            {
                Console.WriteLine(pr.GetValue(urls) ? $"{n.PadRight(width)}  {repo.GetRemote(n)!.Url}" : n);
            }

            return 0;
        });
        return cmd;
    }
}
