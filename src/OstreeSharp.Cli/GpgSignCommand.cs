using System.CommandLine;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

internal static class GpgSignCommand
{
    public static Command Create()
    {
        var cmd = new Command("gpg-sign", "Sign a commit with an OpenPGP key");
        var delete = new Option<bool>("--delete", "-d") { Description = "Delete signatures having any of the KEY-IDs" };
        var secretKey = new Option<string?>("--gpg-secret-key") { Description = "Exported (armored or binary) secret key file to sign with" };
        var passphrase = new Option<string?>("--gpg-passphrase-file") { Description = "File holding the passphrase of a protected secret key" };
        var homedir = new Option<string?>("--gpg-homedir") { Description = "GnuPG home folder (its private-keys-v1.d is not read: export the key with gpg --export-secret-keys)" };
        var commit = new Argument<string>("COMMIT");
        var keyIds = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.OneOrMore };
        foreach (var o in new Option[] { delete, secretKey, passphrase, homedir })
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

            var file = pr.GetValue(secretKey) ?? throw new ArgumentException("--gpg-secret-key=FILE is required to sign (export it with gpg --export-secret-keys --armor KEY-ID)");
            var pass = pr.GetValue(passphrase) is { } pf ? File.ReadAllText(pf).TrimEnd('\n', '\r') : null;
            foreach (var k in ids)
            {
                var key = GpgCommitSigner.LoadSecretKey(file, k, pass, out var secret);
                GpgCommitSigner.Sign(repo, id, key, secret);
            }

            return 0;
        });
        return cmd;
    }
}
