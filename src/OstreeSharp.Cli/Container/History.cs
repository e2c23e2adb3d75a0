using System.CommandLine;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command History()
    {
        var cmd = new Command("history", "Show a stored image's layers: ID, SIZE, CREATED BY");
        var image = new Argument<string>("IMGREF");
        cmd.Arguments.Add(image);
        CliSupport.SetRun(cmd, pr =>
        {
            var stored = Stored(pr, image);
            var layers = stored.Manifest.AsManifest().Layers;
            var history = stored.ConfigJson is { } cj ? ImageConfig.Parse(System.Text.Encoding.UTF8.GetBytes(cj), "of " + pr.GetValue(image)).History ?? [] : [];
            Console.WriteLine($"{"ID",-20}  {"SIZE",-10}  CREATED BY");
            for (int i = 0; i < layers.Count; i++)
            {
                var id = layers[i].Digest.StartsWith("sha256:", StringComparison.Ordinal) ? layers[i].Digest[7..] : layers[i].Digest;
                Console.WriteLine($"{id[..Math.Min(20, id.Length)],-20}  {SizeFormat.Format(layers[i].Size),-10}  {(i < history.Count ? history[i].CreatedBy : string.Empty)}");
            }

            return 0;
        });
        return cmd;
    }
}
