using System.CommandLine;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

internal static class SignCommand
{
    public static Command Create()
    {
        var cmd = new Command("sign", "Sign a commit");
        var delete = new Option<bool>("--delete", "-d") { Description = "Delete signatures having any of the KEY-IDs" };
        var verify = new Option<bool>("--verify") { Description = "Verify signatures" };
        var type = new Option<string>("--sign-type", "-s") { Description = "Signature type to use (defaults to 'ed25519')", DefaultValueFactory = _ => "ed25519" };
        var keysFile = new Option<string?>("--keys-file") { Description = "Read key(s) from file" };
        var keysDir = new Option<string?>("--keys-dir") { Description = "Redefine system-wide directories with public and revoked keys for verification" };
        var commit = new Argument<string>("COMMIT");
        var keys = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.ZeroOrMore };
        foreach (var o in new Option[] { delete, verify, type, keysFile, keysDir })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(commit);
        cmd.Arguments.Add(keys);
        CliSupport.SetRun(cmd, pr =>
        {
            var keyArgs = pr.GetValue(keys) ?? [];
            var file = pr.GetValue(keysFile);
            bool verifying = pr.GetValue(verify);
            if (!verifying && file is null && keyArgs.Length == 0)
            {
                throw new ArgumentException("Need at least one KEY-ID to sign with");
            }

            var repo = CliSupport.OpenRepo(pr);
            var id = repo.Resolve(pr.GetValue(commit)!);
            var engine = SignEngine.Create(pr.GetValue(type)!);
            if (pr.GetValue(delete))
            {
                if (verifying)
                {
                    throw new ArgumentException("--delete and --verify cannot be combined");
                }

                return Delete(repo, id, engine, keyArgs, file);
            }

            return verifying ? Verify(repo, id, engine, keyArgs, file, pr.GetValue(keysDir)) : Sign(repo, id, engine, keyArgs, file);
        });
        return cmd;
    }

    // As ostree: each KEY-ID in turn (one that does not parse is passed over); then, when no KEY-ID was given or with
    // --keys-file, the keys of that file or of the well-known places (--keys-dir). The first success is printed.
    private static int Verify(Repository.OstreeRepo repo, Objects.Checksum id, SignEngine engine, string[] keyArgs, string? file, string? keysDir)
    {
        foreach (var k in keyArgs)
        {
            try
            {
                engine.SetPublicKey(k);
                Console.WriteLine(engine.VerifyCommit(repo, id).Message);
                return 0;
            }
            catch (SignatureException)
            {
                // As ostree: on to the next key; the failure is reported as the lack of a valid signature.
            }
        }

        if (keyArgs.Length == 0 || file is not null)
        {
            engine.LoadPublicKeys(file, keysDir);
            Console.WriteLine(engine.VerifyCommit(repo, id).Message);
            return 0;
        }

        throw new SignatureException("No valid signatures found", SignatureFailure.UnknownKey);
    }

    private static int Sign(Repository.OstreeRepo repo, Objects.Checksum id, SignEngine engine, string[] keyArgs, string? file)
    {
        foreach (var k in keyArgs)
        {
            engine.SetSecretKey(k);
            engine.SignCommit(repo, id);
        }

        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new ArgumentException($"File object '{file}' is not a regular file");
            }

            foreach (var line in File.ReadLines(file))
            {
                engine.SetSecretKey(line);
                engine.SignCommit(repo, id);
            }
        }

        return 0;
    }

    // ostree 2022.7 and 2026.4 accept --delete and then sign; we remove the signatures the keys verify (ed25519 only).
    private static int Delete(Repository.OstreeRepo repo, Objects.Checksum id, SignEngine engine, string[] keyArgs, string? file)
    {
        if (engine is not Ed25519SignEngine)
        {
            throw new ArgumentException($"--delete works with ed25519 signatures, not {engine.Name}");
        }

        var pubs = keyArgs.Select(Ed25519PublicKey.Parse).ToList();
        if (file is not null)
        {
            pubs.AddRange(Ed25519Keys.ReadPublicKeys(file));
        }

        Console.WriteLine($"Deleted {Ed25519CommitSigner.Delete(repo, id, pubs)} signature(s)");
        return 0;
    }
}
