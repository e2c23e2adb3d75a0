using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

internal static partial class ImageCommands
{
    private static Command Tags()
    {
        var cmd = new Command("tags", "List the tags of a repository (docker://HOST/REPO) or of an OCI layout");
        var image = new Argument<string>("REPOSITORY") { Description = "docker://HOST/REPO, oci:DIR or oci-archive:FILE" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(image);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var reference = ImageReference.Parse(pr.GetValue(image)!);
            var source = ImageTransports.OpenSource(reference, registry.Build(pr));
            try
            {
                var tags = await source.ListTagsAsync(CliSupport.Stopping);
                var repo = reference.Transport == Transport.Registry ? reference.Docker.Repository : reference.Path;
                Console.WriteLine(JsonSerializer.Serialize(new TagsJson(repo, [.. tags]), ImageJsonContext.Writer.TagsJson));
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
