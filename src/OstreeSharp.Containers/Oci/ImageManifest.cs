using System.Text.Json;
using System.Text.Json.Serialization;

namespace OstreeSharp.Containers.Oci;

/// <summary>An OCI image manifest or a Docker schema 2 manifest (same shape, other media types).</summary>
public sealed class ImageManifest
{
    /// <summary>Always 2.</summary>
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; set; } = 2;

    /// <summary>The manifest's own media type; optional in OCI, required in Docker schema 2.</summary>
    [JsonPropertyName("mediaType")]
    public string? MediaType { get; set; }

    /// <summary>Artifact type (OCI 1.1).</summary>
    [JsonPropertyName("artifactType")]
    public string? ArtifactType { get; set; }

    /// <summary>The image config.</summary>
    [JsonPropertyName("config")]
    public Descriptor Config { get; set; } = new();

    /// <summary>The layers, base first.</summary>
    [JsonPropertyName("layers")]
    public List<Descriptor> Layers { get; set; } = [];

    /// <summary>The manifest this one refers to (OCI 1.1).</summary>
    [JsonPropertyName("subject")]
    public Descriptor? Subject { get; set; }

    /// <summary>Annotations.</summary>
    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>Fields we do not model, kept so a converted manifest loses nothing.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>An OCI image index or a Docker manifest list.</summary>
public sealed class ImageIndex
{
    /// <summary>Always 2.</summary>
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; set; } = 2;

    /// <summary>The index's own media type.</summary>
    [JsonPropertyName("mediaType")]
    public string? MediaType { get; set; }

    /// <summary>Artifact type (OCI 1.1).</summary>
    [JsonPropertyName("artifactType")]
    public string? ArtifactType { get; set; }

    /// <summary>The manifests, each with its platform.</summary>
    [JsonPropertyName("manifests")]
    public List<Descriptor> Manifests { get; set; } = [];

    /// <summary>Annotations.</summary>
    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>Fields we do not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}
