using System.Text.Json.Serialization;

namespace OstreeSharp.Containers.Oci;

/// <summary>Source-generated JSON for the OCI models.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, AllowTrailingCommas = false, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(ImageManifest))]
[JsonSerializable(typeof(ImageIndex))]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(Descriptor))]
[JsonSerializable(typeof(OciLayoutMarker))]
[JsonSerializable(typeof(DockerArchiveEntry[]))]
[JsonSerializable(typeof(TagList))]
internal sealed partial class OciJsonContext : JsonSerializerContext
{
    /// <summary>The context to write with: '+' and other characters unescaped, as other OCI tools write them.</summary>
    public static OciJsonContext Writer { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}

/// <summary>The <c>oci-layout</c> file of an OCI image layout.</summary>
public sealed class OciLayoutMarker
{
    /// <summary>"1.0.0".</summary>
    [JsonPropertyName("imageLayoutVersion")]
    public string ImageLayoutVersion { get; set; } = "1.0.0";
}

/// <summary>One image in the <c>manifest.json</c> of a <c>docker save</c> archive.</summary>
public sealed class DockerArchiveEntry
{
    /// <summary>Path of the config JSON inside the archive.</summary>
    [JsonPropertyName("Config")]
    public string Config { get; set; } = string.Empty;

    /// <summary>Tags, <c>name:tag</c>.</summary>
    [JsonPropertyName("RepoTags")]
    public List<string>? RepoTags { get; set; }

    /// <summary>Paths of the layer tars inside the archive, base first.</summary>
    [JsonPropertyName("Layers")]
    public List<string> Layers { get; set; } = [];
}

/// <summary>The answer of a registry's tags/list endpoint.</summary>
public sealed class TagList
{
    /// <summary>Repository name.</summary>
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    /// <summary>Tags.</summary>
    [JsonPropertyName("tags")]
    public List<string>? Tags { get; set; }
}
