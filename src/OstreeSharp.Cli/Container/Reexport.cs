using System.CommandLine;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Reexport()
    {
        var cmd = new Command("reexport", "Write a stored image out again as an OCI image, regenerated from the commits in the repository");
        var repo = new Option<string>("--repo") { Description = "Repository holding the image", Required = true };
        var src = new Argument<string>("SRC_IMGREF") { Description = "The stored image (TRANSPORT:NAME, or an ostree image reference)" };
        var dest = new Argument<string>("DEST_IMGREF") { Description = "Where to write it (oci:, oci-archive:, dir:, docker://)" };
        var fast = new Option<bool>("--compression-fast") { Description = "Compress with the fastest level" };
        var compression = new Option<string>("--compression") { Description = "Layer compression: gzip (default) or zstd", DefaultValueFactory = _ => "gzip" };
        var registry = new RegistryCliOptions();
        cmd.Options.Add(repo);
        cmd.Arguments.Add(src);
        cmd.Arguments.Add(dest);
        cmd.Options.Add(fast);
        cmd.Options.Add(compression);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var text = pr.GetValue(src)!;
            var image = text.StartsWith("ostree-", StringComparison.Ordinal) ? OstreeImageReference.Parse(text).Image : ImageReference.Parse(text);
            var options = new EncapsulateOptions
            {
                CompressionFast = pr.GetValue(fast),
                Compression = pr.GetValue(compression) switch
                {
                    "gzip" => LayerCompression.Gzip,
                    "zstd" => LayerCompression.Zstd,
                    var other => throw new ArgumentException($"--compression: unknown compression '{other}' (gzip or zstd)"),
                },
            };
            var destRef = ImageReference.Parse(pr.GetValue(dest)!);
            var destination = Containers.Transports.ImageTransports.OpenDestination(destRef, registry.Build(pr));
            try
            {
                var digest = await Reexporter.ReexportAsync(Repository.OstreeRepo.Open(pr.GetValue(repo)!), image, destination, options, cancellationToken: CliSupport.Stopping);
                Console.WriteLine($"Exported: {digest}");
            }
            finally
            {
                await destination.DisposeAsync();
            }

            return 0;
        });
        return cmd;
    }
}
