using System.CommandLine;
using OstreeSharp.Operations;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command Summary()
    {
        var cmd = new Command("summary", "Show remote summary (verified as the remote's gpg-verify-summary and sign-verify-summary say)");
        var name = new Argument<string>("NAME");
        var raw = new Option<bool>("--raw") { Description = "Show raw variant data" };
        cmd.Arguments.Add(name);
        cmd.Options.Add(raw);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var fetched = await RemoteSummary.FetchAsync(repo, pr.GetValue(name)!, cancellationToken: CliSupport.Stopping);
            if (pr.GetValue(raw))
            {
                Console.WriteLine(GVariant.GVariantValue.Parse(Operations.Summary.Type, fetched.Summary).Byteswap().Print(true));
            }
            else
            {
                Console.Write(SummaryDump.Format(fetched.Summary));
            }

            if (fetched.Gpg is { } statuses && !pr.GetValue(raw))
            {
                Console.Write($"\nGPG: Verification enabled, found {statuses.Count} signature{(statuses.Count == 1 ? string.Empty : "s")}:\n");
                foreach (var st in statuses)
                {
                    Console.Write("\n" + st.Describe());
                }
            }

            return 0;
        });
        return cmd;
    }
}
