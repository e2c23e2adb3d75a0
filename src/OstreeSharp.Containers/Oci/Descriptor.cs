using System.Text.Json.Serialization;

namespace OstreeSharp.Containers.Oci;

/// <summary>An OCI content descriptor: what a blob or manifest is, its digest and its size.</summary>
public sealed class Descriptor
{
    /// <summary>Media type of the referenced content.</summary>
    [JsonPropertyName("mediaType")]
    public string MediaType { get; set; } = string.Empty;

    /// <summary>Digest, <c>sha256:HEX</c>.</summary>
    [JsonPropertyName("digest")]
    public string Digest { get; set; } = string.Empty;

    /// <summary>Size in bytes.</summary>
    [JsonPropertyName("size")]
    public long Size { get; set; }

    /// <summary>Alternate download locations (foreign layers).</summary>
    [JsonPropertyName("urls")]
    public List<string>? Urls { get; set; }

    /// <summary>Annotations.</summary>
    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>Platform of a manifest inside an index.</summary>
    [JsonPropertyName("platform")]
    public Platform? Platform { get; set; }

    /// <summary>Artifact type (OCI 1.1).</summary>
    [JsonPropertyName("artifactType")]
    public string? ArtifactType { get; set; }

    /// <summary>The parsed digest.</summary>
    /// <exception cref="ManifestException">The digest field is not a digest.</exception>
    public Digest GetDigest() => Oci.Digest.TryParse(Digest, out var d) ? d : throw new ManifestException($"Invalid digest '{Digest}' in a descriptor of type {MediaType}");

    /// <summary>Creates a descriptor.</summary>
    public static Descriptor Create(string mediaType, Digest digest, long size) => new() { MediaType = mediaType, Digest = digest.ToString(), Size = size };
}

/// <summary>The platform an image in an index runs on.</summary>
public sealed class Platform
{
    /// <summary>CPU architecture, Go naming (amd64, arm64, ...).</summary>
    [JsonPropertyName("architecture")]
    public string Architecture { get; set; } = string.Empty;

    /// <summary>Operating system (linux, windows, ...).</summary>
    [JsonPropertyName("os")]
    public string Os { get; set; } = string.Empty;

    /// <summary>OS version (Windows images).</summary>
    [JsonPropertyName("os.version")]
    public string? OsVersion { get; set; }

    /// <summary>OS features.</summary>
    [JsonPropertyName("os.features")]
    public List<string>? OsFeatures { get; set; }

    /// <summary>CPU variant (v7, v8, ...).</summary>
    [JsonPropertyName("variant")]
    public string? Variant { get; set; }

    /// <inheritdoc/>
    public override string ToString() => Os + "/" + Architecture + (string.IsNullOrEmpty(Variant) ? string.Empty : "/" + Variant);
}
