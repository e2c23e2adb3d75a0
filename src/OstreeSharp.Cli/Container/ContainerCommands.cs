using System.CommandLine;

namespace OstreeSharp.Cli;

/// <summary><c>container encapsulate|unencapsulate</c>: ostree commits as OCI images and back (ostree-ext's verbs).</summary>
internal static partial class ContainerCommands
{
    public static Command Create()
    {
        var cmd = new Command("container", "ostree commits as container images: encapsulate, unencapsulate, the image store, info, compare");
        cmd.Subcommands.Add(Encapsulate());
        cmd.Subcommands.Add(Unencapsulate());
        cmd.Subcommands.Add(ImageGroup());
        cmd.Subcommands.Add(Info());
        cmd.Subcommands.Add(Compare());
        cmd.Subcommands.Add(ContainerDeltaCommand.Create());
        cmd.Subcommands.Add(ContainerRechunkCommand.Create());
        return cmd;
    }
}
