using System.CommandLine;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

internal static class GpgSignCommand
{
    public static Command Create()
    {
        var cmd = new Command("gpg-sign", "Sign a commit with an OpenPGP key");
        var delete = new Option<bool>("--delete", "-d") { Description = "Delete signatures having any of the KEY-IDs" };
        var gpgOptions = new CliSupport.GpgSigningOptions();
        gpgOptions.AddTo(cmd);
        var commit = new Argument<string>("COMMIT");
        var keyIds = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.OneOrMore };
        cmd.Options.Add(delete);

        cmd.Arguments.Add(commit);
        cmd.Arguments.Add(keyIds);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var id = repo.Resolve(pr.GetValue(commit)!);
            var ids = pr.GetValue(keyIds)!;
            if (pr.GetValue(delete))
            {
                Console.WriteLine($"Signatures deleted: {GpgCommitSigner.Delete(repo, id, ids)}");
                return 0;
            }

            foreach (var k in ids)
            {
                var (key, pub) = gpgOptions.Load(pr, k);
                GpgCommitSigner.Sign(repo, id, key, pub);
            }

            return 0;
        });
        return cmd;
    }
}
