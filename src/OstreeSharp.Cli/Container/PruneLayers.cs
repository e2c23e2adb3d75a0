using System.CommandLine;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command PruneLayers()
    {
        var cmd = new Command("prune-layers", "Remove layer refs that no stored image or deployment uses");
        CliSupport.SetRun(cmd, pr =>
        {
            Console.WriteLine($"Removed layers: {new ImageStore(CliSupport.OpenRepo(pr)).PruneLayers()}");
            return 0;
        });
        return cmd;
    }
}
