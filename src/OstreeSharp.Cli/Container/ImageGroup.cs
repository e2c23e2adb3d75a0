using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command ImageGroup()
    {
        var cmd = new Command("image", "The image store in an ostree repository: pull, list, history, metadata, remove, prune-layers, prune-images, copy, reexport, replace-detached-metadata, deploy");
        cmd.Subcommands.Add(Pull());
        cmd.Subcommands.Add(ListImages());
        cmd.Subcommands.Add(History());
        cmd.Subcommands.Add(Metadata());
        cmd.Subcommands.Add(Remove());
        cmd.Subcommands.Add(PruneLayers());
        cmd.Subcommands.Add(CopyImage());
        cmd.Subcommands.Add(ReplaceDetachedMetadata());
        cmd.Subcommands.Add(Reexport());
        cmd.Subcommands.Add(ContainerDeployCommands.Deploy());
        cmd.Subcommands.Add(ContainerDeployCommands.PruneImages());
        return cmd;
    }
}
