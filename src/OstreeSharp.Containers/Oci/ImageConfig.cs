using System.Text.Json;
using System.Text.Json.Serialization;

namespace OstreeSharp.Containers.Oci;

/// <summary>An OCI (or Docker) image configuration.</summary>
public sealed class ImageConfig
{
    /// <summary>Parses a config blob; <paramref name="what"/> names it in errors.</summary>
    /// <exception cref="ManifestException">The blob is not a JSON image config.</exception>
    public static ImageConfig Parse(ReadOnlySpan<byte> json, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(json, OciJsonContext.Default.ImageConfig) ?? new ImageConfig();
        }
        catch (JsonException e)
        {
            throw new ManifestException($"Malformed config {what}: {e.Message}");
        }
    }

    /// <summary>Creation time, RFC 3339.</summary>
    [JsonPropertyName("created")]
    public string? Created { get; set; }

    /// <summary>Author.</summary>
    [JsonPropertyName("author")]
    public string? Author { get; set; }

    /// <summary>CPU architecture.</summary>
    [JsonPropertyName("architecture")]
    public string Architecture { get; set; } = string.Empty;

    /// <summary>Operating system.</summary>
    [JsonPropertyName("os")]
    public string Os { get; set; } = string.Empty;

    /// <summary>CPU variant.</summary>
    [JsonPropertyName("variant")]
    public string? Variant { get; set; }

    /// <summary>Docker's version field (Docker configs only).</summary>
    [JsonPropertyName("docker_version")]
    public string? DockerVersion { get; set; }

    /// <summary>How to run the image.</summary>
    [JsonPropertyName("config")]
    public ContainerConfig? Config { get; set; }

    /// <summary>The layers' uncompressed digests.</summary>
    [JsonPropertyName("rootfs")]
    public RootFs RootFs { get; set; } = new();

    /// <summary>One entry per build step.</summary>
    [JsonPropertyName("history")]
    public List<HistoryEntry>? History { get; set; }

    /// <summary>Fields we do not model.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>The runtime part of an image config.</summary>
public sealed class ContainerConfig
{
    /// <summary>Parses the runtime part of a config on its own (as `--config` files give it).</summary>
    /// <exception cref="JsonException">The text is not a JSON object of that shape.</exception>
    public static ContainerConfig? Parse(ReadOnlySpan<byte> json) => JsonSerializer.Deserialize(json, OciJsonContext.Default.ContainerConfig);

    /// <summary>User to run as.</summary>
    [JsonPropertyName("User")]
    public string? User { get; set; }

    /// <summary>Environment, KEY=VALUE.</summary>
    [JsonPropertyName("Env")]
    public List<string>? Env { get; set; }

    /// <summary>Entry point.</summary>
    [JsonPropertyName("Entrypoint")]
    public List<string>? Entrypoint { get; set; }

    /// <summary>Default command.</summary>
    [JsonPropertyName("Cmd")]
    public List<string>? Cmd { get; set; }

    /// <summary>Working directory.</summary>
    [JsonPropertyName("WorkingDir")]
    public string? WorkingDir { get; set; }

    /// <summary>Labels.</summary>
    [JsonPropertyName("Labels")]
    public Dictionary<string, string>? Labels { get; set; }

    /// <summary>Stop signal.</summary>
    [JsonPropertyName("StopSignal")]
    public string? StopSignal { get; set; }

    /// <summary>Fields we do not model (ExposedPorts, Volumes, ...).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>The root filesystem description.</summary>
public sealed class RootFs
{
    /// <summary>Always "layers".</summary>
    [JsonPropertyName("type")]
    public string Type { get; set; } = "layers";

    /// <summary>DiffIDs: digests of the uncompressed layers, base first.</summary>
    [JsonPropertyName("diff_ids")]
    public List<string> DiffIds { get; set; } = [];
}

/// <summary>A history entry.</summary>
public sealed class HistoryEntry
{
    /// <summary>When.</summary>
    [JsonPropertyName("created")]
    public string? Created { get; set; }

    /// <summary>The command that made it.</summary>
    [JsonPropertyName("created_by")]
    public string? CreatedBy { get; set; }

    /// <summary>Author.</summary>
    [JsonPropertyName("author")]
    public string? Author { get; set; }

    /// <summary>Comment.</summary>
    [JsonPropertyName("comment")]
    public string? Comment { get; set; }

    /// <summary>True when the step made no layer.</summary>
    [JsonPropertyName("empty_layer")]
    public bool? EmptyLayer { get; set; }
}
