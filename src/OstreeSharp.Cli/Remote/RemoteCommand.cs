using System.CommandLine;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
    public static Command Create()
    {
        var cmd = new Command("remote", "Remote commands that may involve server access");
        cmd.Subcommands.Add(Add());
        cmd.Subcommands.Add(List());
        cmd.Subcommands.Add(Delete());
        cmd.Subcommands.Add(ShowUrl());
        cmd.Subcommands.Add(GpgImport());
        cmd.Subcommands.Add(GpgListKeys());
        cmd.Subcommands.Add(AddCookie());
        cmd.Subcommands.Add(DeleteCookie());
        cmd.Subcommands.Add(ListCookies());
        cmd.Subcommands.Add(Summary());
        cmd.Subcommands.Add(Refs());
        return cmd;
    }

    // `remote refs NAME`: the refs of the remote's (verified) summary, as NAME:REF lines.
}
