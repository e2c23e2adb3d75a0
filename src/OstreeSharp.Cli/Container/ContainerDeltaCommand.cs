using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Deltas;
using OstreeSharp.Containers.References;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

/// <summary>`container delta generate FROM TO`: layer deltas between two encapsulated images, published next to TO.</summary>
internal static class ContainerDeltaCommand
{
    public static Command Create()
    {
        var cmd = new Command("delta", "Deltas between container images: a client that has FROM pulls TO by rebuilding its layers from the delta and the objects it keeps");
        cmd.Subcommands.Add(Generate());
        return cmd;
    }

    private static Command Generate()
    {
        var cmd = new Command("generate", "Make the delta from image FROM to image TO (both made by `container encapsulate`) and publish it next to TO, as an OCI artifact whose subject is TO (listed under TO's referrers, or the sha256-HEX tag where the registry has no referrers API)");
        var from = new Argument<string>("FROM") { Description = "The image clients have (docker://..., oci:DIR:TAG, ...)" };
        var to = new Argument<string>("TO") { Description = "The image they update to" };
        var json = new Option<bool>("--json") { Description = "Print what was made as JSON" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(from);
        cmd.Arguments.Add(to);
        cmd.Options.Add(json);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            bool quiet = pr.GetValue(json);
            var result = await ContainerDeltas.GenerateAsync(
                ImageReference.Parse(pr.GetValue(from)!),
                ImageReference.Parse(pr.GetValue(to)!),
                Path.GetTempPath(),
                registry.Build(pr),
                quiet ? null : line => Console.WriteLine(line),
                cancellationToken: ct);
            if (quiet)
            {
                Console.WriteLine(JsonSerializer.Serialize(
                    new ContainerDeltaJson(result.From.ToString(), result.To.ToString(), result.DeltaManifest.ToString(), result.Layers.Select(l => new ContainerDeltaLayerJson(l.TargetLayer, l.TargetLayerSize, l.TarSize, l.DeltaDigest, l.DeltaSize, l.Objects, l.Patches, l.LiteralBytes, l.Version)).ToList()),
                    CliJsonContext.Writer.ContainerDeltaJson));
            }
            else
            {
                Console.WriteLine($"Delta {result.DeltaManifest}: {result.From} -> {result.To}, {result.Layers.Count} layers, {SizeFormat.Format(result.Layers.Sum(l => l.DeltaSize))} (layers {SizeFormat.Format(result.Layers.Sum(l => l.TargetLayerSize))})");
            }

            return 0;
        });
        return cmd;
    }
}
