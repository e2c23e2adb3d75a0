using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    private static Command GpgImport()
    {
        var cmd = new Command("gpg-import", "Import GPG keys");
        var keyring = new Option<string[]>("--keyring", "-k") { Description = "Import keys from a keyring file (repeatable)" };
        var stdin = new Option<bool>("--stdin") { Description = "Import keys from standard input" };
        var name = new Argument<string>("NAME");
        var ids = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.ZeroOrMore };
        cmd.Options.Add(keyring);
        cmd.Options.Add(stdin);
        cmd.Arguments.Add(name);
        cmd.Arguments.Add(ids);
        CliSupport.SetRun(cmd, pr =>
        {
            var files = pr.GetValue(keyring) ?? [];
            if (files.Length == 0 && !pr.GetValue(stdin))
            {
                throw new ArgumentException("--keyring=FILE or --stdin is required (reading the user's GnuPG keyring by key id is not supported)");
            }

            ImportKeys(CliSupport.OpenRepo(pr), pr.GetValue(name)!, files, pr.GetValue(ids), pr.GetValue(stdin));
            return 0;
        });
        return cmd;
    }
}
