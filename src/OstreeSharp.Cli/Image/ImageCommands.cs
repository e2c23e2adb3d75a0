using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Cli;

/// <summary><c>image copy|inspect|tags|delete</c>: container images between transports, like skopeo.</summary>
internal static partial class ImageCommands
{
    public static Command Create()
    {
        var cmd = new Command("image", "Copy, inspect, list and delete container images (oci:, oci-archive:, dir:, docker-archive:, docker://)");
        cmd.Subcommands.Add(Copy());
        cmd.Subcommands.Add(Inspect());
        cmd.Subcommands.Add(Tags());
        cmd.Subcommands.Add(Delete());
        return cmd;
    }
}

internal sealed class InspectJson
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; set; }

    public string Digest { get; set; } = string.Empty;

    public List<string> RepoTags { get; set; } = [];

    public string? Created { get; set; }

    public string DockerVersion { get; set; } = string.Empty;

    public Dictionary<string, string>? Labels { get; set; }

    public string Architecture { get; set; } = string.Empty;

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; set; }

    public string Os { get; set; } = string.Empty;

    public List<string> Layers { get; set; } = [];

    public List<LayerJson> LayersData { get; set; } = [];

    public List<string>? Env { get; set; }
}

internal sealed record LayerJson(string MIMEType, string Digest, long Size, Dictionary<string, string>? Annotations);

internal sealed record TagsJson(string Repository, List<string> Tags);

internal sealed record CopyJson(string Digest, string MediaType, int BlobsCopied, int BlobsSkipped, long BytesCopied);

internal sealed record CopyEventJson(string Task, string Stage, string Digest, string MediaType, long Done, long Total);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(InspectJson))]
[JsonSerializable(typeof(TagsJson))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ImageJsonContext : JsonSerializerContext
{
    public static ImageJsonContext Writer { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
