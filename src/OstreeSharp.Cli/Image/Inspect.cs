using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

internal static partial class ImageCommands
{
    private static Command Inspect()
    {
        var cmd = new Command("inspect", "Show an image's digest, tags, labels, platform and layers (like skopeo inspect)");
        var image = new Argument<string>("IMAGE") { Description = "Image reference (TRANSPORT:NAME)" };
        var raw = new Option<bool>("--raw") { Description = "Print the manifest (or with --config the config) exactly as stored" };
        var config = new Option<bool>("--config") { Description = "Print the image configuration" };
        var noTags = new Option<bool>("--no-tags", "-n") { Description = "Do not list the repository's tags" };
        var arch = new Option<string?>("--override-arch") { Description = "Architecture to pick from an index" };
        var os = new Option<string?>("--override-os") { Description = "OS to pick from an index" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(image);
        cmd.Options.Add(raw);
        cmd.Options.Add(config);
        cmd.Options.Add(noTags);
        cmd.Options.Add(arch);
        cmd.Options.Add(os);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, (pr, ct) => InspectAsync(pr, ImageReference.Parse(pr.GetValue(image)!), registry.Build(pr), pr.GetValue(raw), pr.GetValue(config), pr.GetValue(noTags), pr.GetValue(os) ?? "linux", pr.GetValue(arch) ?? PlatformSelector.HostArchitecture));
        return cmd;
    }

    private static async Task<int> InspectAsync(ParseResult pr, ImageReference reference, Containers.Registry.RegistryOptions options, bool raw, bool config, bool noTags, string os, string arch)
    {
        _ = pr;
        await using var source = ImageTransports.OpenSource(reference, options);
        var top = await source.GetManifestAsync(null, CliSupport.Stopping).ConfigureAwait(false);
        if (raw && !config)
        {
            using var stdout = Console.OpenStandardOutput();
            stdout.Write(top.Bytes);
            return 0;
        }

        var manifestBlob = await PlatformSelector.ResolveAsync(source, top, os, arch, null, CliSupport.Stopping).ConfigureAwait(false);
        var manifest = manifestBlob.AsManifest();
        var configBytes = await source.ReadConfigAsync(manifest.Config, 64L << 20, CliSupport.Stopping).ConfigureAwait(false);
        if (config)
        {
            if (raw)
            {
                using var stdout = Console.OpenStandardOutput();
                stdout.Write(configBytes);
            }
            else
            {
                using var doc = JsonDocument.Parse(configBytes);
                Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, ImageJsonContext.Writer.JsonElement));
            }

            return 0;
        }

        var cfg = ImageConfig.Parse(configBytes, $"{manifest.Config.Digest} of {reference}");

        var tags = reference.Transport == Transport.Registry && !noTags ? await source.ListTagsAsync(CliSupport.Stopping).ConfigureAwait(false) : [];
        var output = new InspectJson
        {
            Name = reference.Transport == Transport.Registry ? reference.Docker.Repository : null,
            Digest = top.IsIndex ? top.Digest.ToString() : manifestBlob.Digest.ToString(),
            RepoTags = [.. tags],
            Created = cfg.Created,
            DockerVersion = cfg.DockerVersion ?? string.Empty,
            Labels = cfg.Config?.Labels,
            Architecture = cfg.Architecture,
            Os = cfg.Os,
            Variant = cfg.Variant,
            Layers = [.. manifest.Layers.Select(l => l.Digest)],
            LayersData = [.. manifest.Layers.Select(l => new LayerJson(l.MediaType, l.Digest, l.Size, l.Annotations))],
            Env = cfg.Config?.Env,
        };
        Console.WriteLine(JsonSerializer.Serialize(output, ImageJsonContext.Writer.InspectJson));
        return 0;
    }
}
