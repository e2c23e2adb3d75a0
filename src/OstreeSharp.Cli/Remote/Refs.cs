using System.CommandLine;
using OstreeSharp.Internal;
using OstreeSharp.Operations;
using OstreeSharp.Signing;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command Refs()
    {
        var cmd = new Command("refs", "List remote refs");
        var name = new Argument<string>("NAME");
        cmd.Arguments.Add(name);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var remote = pr.GetValue(name)!;
            var fetched = await RemoteSummary.FetchAsync(repo, remote, cancellationToken: CliSupport.Stopping);
            foreach (var r in Operations.Summary.ReadRefs(fetched.Summary).Select(x => x.Ref).Order(StringComparer.Ordinal))
            {
                Console.WriteLine($"{remote}:{r}");
            }

            return 0;
        });
        return cmd;
    }

    private static int ImportKeys(OstreeSharp.Repository.OstreeRepo repo, string remote, IEnumerable<string> files, IReadOnlyCollection<string>? ids = null, bool stdin = false)
    {
        repo.RequireRemote(remote);
        var target = Path.Combine(repo.Path, remote + ".trustedkeys.gpg");
        var source = new GpgKeyring();
        foreach (var f in files)
        {
            source.AddPath(f);
        }

        if (stdin)
        {
            // AddStream reads the whole stream into memory first, so a pipe will do.
            using var input = Console.OpenStandardInput();
            source.AddStream(input, "standard input");
        }

        // KEY-IDs pick the keys to import from the sources, as ostree does.
        if (ids is { Count: > 0 } && source.KeepOnly(ids) is { } missing)
        {
            throw new SignatureException($"No key {missing} in the keys to import");
        }

        var keyring = new GpgKeyring();
        if (File.Exists(target))
        {
            keyring.AddFile(target);
        }

        // A key already there gets what is new in it (a later expiry, a revocation) and is not counted, as with
        // gpg --import.
        int n = source.Rings.Count(keyring.Merge);
        FileUtil.WriteAtomic(target, keyring.ToBinary(), repo.Fsync);
        Console.WriteLine($"Imported {n} GPG key{(n == 1 ? string.Empty : "s")} to remote \"{remote}\"");
        return n;
    }

    // `remote gpg-list-keys [NAME]`: the keys a remote trusts (its own keyring and gpgkeypath), or without NAME the
    // global keyring folder's, in ostree's layout.
}
