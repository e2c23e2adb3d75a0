using System.CommandLine;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

internal static class SignCommand
{
    public static Command Create()
    {
        var cmd = new Command("sign", "Sign a commit (ed25519)");
        var delete = new Option<bool>("--delete", "-d") { Description = "Delete signatures having any of the KEY-IDs" };
        var verify = new Option<bool>("--verify") { Description = "Verify signatures" };
        var type = new Option<string>("--sign-type", "-s") { Description = "Signature type to use (defaults to 'ed25519')", DefaultValueFactory = _ => "ed25519" };
        var keysFile = new Option<string?>("--keys-file") { Description = "Read key(s) from file" };
        var commit = new Argument<string>("COMMIT");
        var keys = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.ZeroOrMore };
        foreach (var o in new Option[] { delete, verify, type, keysFile })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(commit);
        cmd.Arguments.Add(keys);
        CliSupport.SetRun(cmd, pr =>
        {
            if (pr.GetValue(type) != "ed25519")
            {
                throw new ArgumentException($"Requested signature type '{pr.GetValue(type)}' is not implemented (ed25519 is; OpenPGP signing uses gpg-sign)");
            }

            var repo = CliSupport.OpenRepo(pr);
            var id = repo.Resolve(pr.GetValue(commit)!);
            var keyArgs = pr.GetValue(keys) ?? [];
            var file = pr.GetValue(keysFile);
            if (pr.GetValue(verify))
            {
                var trusted = keyArgs.Select(Ed25519PublicKey.Parse).ToList();
                if (file is not null)
                {
                    trusted.AddRange(Ed25519Keys.ReadPublicKeys(file));
                }

                var bytes = repo.ReadMetadataBytes(Objects.ObjectType.Commit, id);
                var result = Ed25519CommitSigner.Verify(bytes, repo.LoadDetachedMetadata(id), trusted);
                Console.WriteLine($"Signature verified successfully with key '{result.Key.Base64}'");
                return 0;
            }

            if (pr.GetValue(delete))
            {
                var pubs = keyArgs.Select(Ed25519PublicKey.Parse).ToList();
                if (file is not null)
                {
                    pubs.AddRange(Ed25519Keys.ReadPublicKeys(file));
                }

                int n = Ed25519CommitSigner.Delete(repo, id, pubs);
                Console.WriteLine($"Deleted {n} signature(s)");
                return 0;
            }

            var secrets = keyArgs.Select(Ed25519SecretKey.Parse).ToList();
            if (file is not null)
            {
                secrets.AddRange(Ed25519Keys.ReadKeyFile(file, Ed25519SecretKey.Parse));
            }

            if (secrets.Count == 0)
            {
                throw new ArgumentException("No keys given: pass KEY-ID arguments or --keys-file");
            }

            Ed25519CommitSigner.Sign(repo, id, secrets);
            return 0;
        });
        return cmd;
    }
}
