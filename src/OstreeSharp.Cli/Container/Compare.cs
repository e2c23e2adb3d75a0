using System.CommandLine;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Compare()
    {
        var cmd = new Command("compare", "Compare the layers of two images");
        var oldImage = new Argument<string>("OSTREE_IMGREF_OLD");
        var newImage = new Argument<string>("OSTREE_IMGREF_NEW");
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(oldImage);
        cmd.Arguments.Add(newImage);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            ImageManifest Fetch(string text)
            {
                var imgref = OstreeImageReference.Parse(text);
                var source = ContainerPolicy.OpenSource(imgref, registry.Build(pr));
                try
                {
                    var top = source.GetManifestAsync(null, CliSupport.Stopping).GetAwaiter().GetResult();
                    return Containers.Copy.PlatformSelector.ResolveAsync(source, top, "linux", Containers.Copy.PlatformSelector.HostArchitecture, null, CliSupport.Stopping).GetAwaiter().GetResult().AsManifest();
                }
                finally
                {
                    source.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }

            Console.Write(ManifestDiff.Compute(Fetch(pr.GetValue(oldImage)!), Fetch(pr.GetValue(newImage)!)).ToString());
            return 0;
        });
        return cmd;
    }
}
