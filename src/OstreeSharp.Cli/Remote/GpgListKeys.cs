using System.CommandLine;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command GpgListKeys()
    {
        var cmd = new Command("gpg-list-keys", "Show remote GPG keys");
        var name = new Argument<string?>("NAME") { Arity = ArgumentArity.ZeroOrOne };
        var sysroot = SysrootOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr =>
        {
            GpgKeyring keys;
            if (pr.GetValue(name) is { } remote)
            {
                keys = VerificationPolicy.RemoteGpgKeys(OpenRepoOrSysroot(pr, sysroot), remote, globalFallback: false);
            }
            else
            {
                keys = new GpgKeyring();
                keys.AddGlobalKeys();
            }

            Console.Write(GpgKeyListing.Format(keys, DateTime.UtcNow));
            return 0;
        });
        return cmd;
    }

    // `remote add-cookie|delete-cookie|list-cookies`: the remote's cookie jar, REMOTE.cookies.txt in the repository,
    // sent with its pulls. As ostree, the remote need not exist yet.
}
