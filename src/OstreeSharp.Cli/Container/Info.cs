using System.CommandLine;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Info()
    {
        var cmd = new Command("info", "Print an image's manifest digest");
        var image = new Argument<string>("OSTREE_IMGREF");
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(image);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var imgref = OstreeImageReference.Parse(pr.GetValue(image)!);
            var source = ContainerPolicy.OpenSource(imgref, registry.Build(pr));
            try
            {
                var layout = await Unencapsulator.FetchLayoutAsync(source, cancellationToken: CliSupport.Stopping);
                Console.WriteLine($"{imgref} digest: {layout.Manifest.Digest}");
            }
            finally
            {
                await source.DisposeAsync();
            }

            return 0;
        });
        return cmd;
    }
}
