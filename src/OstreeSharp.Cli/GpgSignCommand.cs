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
        var homedir = new Option<string?>("--gpg-homedir") { Description = "GnuPG home folder (its private-keys-v1.d is not read: export the key with gpg --export-secret-keys)" };
        var commit = new Argument<string>("COMMIT");
        var keyIds = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.OneOrMore };
        foreach (var o in new Option[] { delete, homedir })
        {
            cmd.Options.Add(o);
        }

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
                var (key, secret) = gpgOptions.Load(pr, k);
                GpgCommitSigner.Sign(repo, id, key, secret);
            }

            return 0;
        });
        return cmd;
    }
}
