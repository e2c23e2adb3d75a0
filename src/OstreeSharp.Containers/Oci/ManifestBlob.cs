using System.Text.Json;

namespace OstreeSharp.Containers.Oci;

/// <summary>
/// A manifest or index exactly as fetched or written: the bytes are kept and never re-serialised, so
/// the digest always describes them.
/// </summary>
public sealed class ManifestBlob
{
    /// <summary>The most bytes a manifest may have (as containers/image enforces).</summary>
    public const int MaxSize = 4 * 1024 * 1024;

    /// <summary>Wraps manifest bytes; the media type is taken from <paramref name="mediaType"/>, else from the JSON.</summary>
    /// <exception cref="ManifestException">Not JSON, schema 1, or no recognisable media type.</exception>
    public ManifestBlob(byte[] bytes, string? mediaType, string what)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length > MaxSize)
        {
            throw new ManifestException($"Manifest of {what} is {bytes.Length} bytes, over the limit of {MaxSize}");
        }

        Bytes = bytes;
        Digest = Digest.Sha256(bytes);
        MediaType = DetectMediaType(bytes, mediaType, what);
        What = what;
    }

    /// <summary>The bytes.</summary>
    public byte[] Bytes { get; }

    /// <summary>sha256 of the bytes.</summary>
    public Digest Digest { get; }

    /// <summary>The media type.</summary>
    public string MediaType { get; }

    /// <summary>What the manifest belongs to, for messages.</summary>
    public string What { get; }

    /// <summary>Whether this is an index or manifest list.</summary>
    public bool IsIndex => MediaTypes.IsIndex(MediaType);

    /// <summary>A descriptor for this manifest.</summary>
    public Descriptor ToDescriptor() => Descriptor.Create(MediaType, Digest, Bytes.Length);

    /// <summary>Checks the bytes against <paramref name="expected"/> (with its algorithm).</summary>
    /// <exception cref="DigestMismatchException">They differ.</exception>
    public void Verify(Digest expected)
    {
        var actual = expected.Recompute(Bytes);
        if (actual != expected)
        {
            throw new DigestMismatchException($"Manifest of {What} has digest {actual}, expected {expected}");
        }
    }

    /// <summary>Parses as an image manifest.</summary>
    public ImageManifest AsManifest()
    {
        if (IsIndex)
        {
            throw new ManifestException($"{What} is an image index ({MediaType}), not a manifest");
        }

        var m = Deserialize(OciJsonContext.Default.ImageManifest);
        if (m.Config is null || m.Layers is null)
        {
            throw new ManifestException($"Manifest of {What} has no config or no layers field");
        }

        return m;
    }

    /// <summary>Parses as an image index.</summary>
    public ImageIndex AsIndex()
    {
        if (!IsIndex)
        {
            throw new ManifestException($"{What} is a manifest ({MediaType}), not an index");
        }

        return Deserialize(OciJsonContext.Default.ImageIndex);
    }

    private T Deserialize<T>(System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> info)
    {
        try
        {
            return JsonSerializer.Deserialize(Bytes, info) ?? throw new ManifestException($"Manifest of {What} is null");
        }
        catch (JsonException e)
        {
            throw new ManifestException($"Malformed manifest of {What}: {e.Message}");
        }
    }

    private static string DetectMediaType(byte[] bytes, string? declared, string what)
    {
        string? field = null;
        int schema = 0;
        bool hasManifests = false, hasLayers = false;
        try
        {
            var reader = new Utf8JsonReader(bytes);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new ManifestException($"Manifest of {what} is not a JSON object");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                switch (name)
                {
                    case "mediaType" when reader.TokenType == JsonTokenType.String: field = reader.GetString(); break;
                    case "schemaVersion" when reader.TokenType == JsonTokenType.Number: schema = reader.GetInt32(); break;
                    case "manifests": hasManifests = true; break;
                    case "layers" or "config": hasLayers = true; break;
                }

                reader.Skip();
            }
        }
        catch (JsonException e)
        {
            throw new ManifestException($"Malformed manifest of {what}: {e.Message}");
        }
        catch (FormatException e)
        {
            throw new ManifestException($"Malformed manifest of {what}: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // A string that is not UTF-8 (the reader's GetString).
            throw new ManifestException($"Malformed manifest of {what}: {e.Message}");
        }

        if (schema == 1 || declared is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed)
        {
            throw new ManifestException($"{what} has a Docker schema 1 manifest, which is not supported");
        }

        if (schema != 2)
        {
            throw new ManifestException($"Manifest of {what} has schemaVersion {schema}, expected 2");
        }

        if (field is not null)
        {
            if (!MediaTypes.IsIndex(field) && !MediaTypes.IsManifest(field))
            {
                throw new ManifestException($"Unsupported manifest type {field} for {what}");
            }

            return field;
        }

        if (declared is not null && (MediaTypes.IsIndex(declared) || MediaTypes.IsManifest(declared)))
        {
            return declared;
        }

        return hasManifests ? MediaTypes.OciIndex : hasLayers ? MediaTypes.OciManifest : throw new ManifestException($"Cannot tell the type of the manifest of {what}");
    }
}
