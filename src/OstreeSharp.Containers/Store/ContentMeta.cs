// The `--contentmeta` JSON of `container encapsulate` (ostree-container-format.md 3.5): which chunk
// layer each content object goes to.
using System.Text.Json;
using OstreeSharp.Objects;

namespace OstreeSharp.Containers.Store;

/// <summary>Content metadata for chunked images: layer keys in order, their names, and the object mapping.</summary>
public sealed class ContentMeta
{
    /// <summary>Layer keys in file order with their human-readable names.</summary>
    public IReadOnlyList<(string Key, string Name)> Layers { get; private init; } = [];

    /// <summary>Content object checksum (hex) to layer key.</summary>
    public IReadOnlyDictionary<string, string> Mapping { get; private init; } = new Dictionary<string, string>();

    /// <summary>Overrides the config's creation time.</summary>
    public string? Created { get; private init; }

    /// <summary>Labels merged over <c>--label</c>.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; private init; } = new Dictionary<string, string>();

    /// <summary>Parses and checks a contentmeta document.</summary>
    /// <exception cref="ContainerException">Unsupported version, ordered mapping, or a malformed document; the message names <paramref name="what"/>.</exception>
    public static ContentMeta Parse(byte[] json, string what)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var version = root.TryGetProperty("version", out var v) && v.TryGetInt32(out var n) ? n : 0;
            if (version != 1)
            {
                throw new ContainerException(OstreeErrorCode.NotSupported, $"Unsupported metadata version: {version}. Currently supported: 1 ({what})");
            }

            if (root.TryGetProperty("ordered", out var ordered) && ordered.ValueKind == JsonValueKind.True)
            {
                throw new ContainerException(OstreeErrorCode.NotSupported, $"Ordered mapping not currently supported. ({what})");
            }

            var layers = root.TryGetProperty("layers", out var l) && l.ValueKind == JsonValueKind.Object
                ? l.EnumerateObject().Select(p => (p.Name, p.Value.GetString() ?? string.Empty)).ToList()
                : throw new ContainerException(OstreeErrorCode.InvalidData, $"{what}: no layers object");
            var mapping = root.TryGetProperty("mapping", out var m) && m.ValueKind == JsonValueKind.Object
                ? m.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty, StringComparer.Ordinal)
                : throw new ContainerException(OstreeErrorCode.InvalidData, $"{what}: no mapping object");
            var labels = root.TryGetProperty("labels", out var lb) && lb.ValueKind == JsonValueKind.Object
                ? lb.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty, StringComparer.Ordinal)
                : new Dictionary<string, string>(StringComparer.Ordinal);
            return new ContentMeta
            {
                Layers = layers,
                Mapping = mapping,
                Created = root.TryGetProperty("created", out var c) ? c.GetString() : null,
                Labels = labels,
            };
        }
        catch (JsonException e)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Malformed content metadata {what}: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Malformed content metadata {what}: {e.Message}");
        }
    }

    /// <summary>
    /// The bins (ostree-container-format.md 3.4 and 3.5): every key is a component of its own, packed into
    /// (keys + 1) bins, so one bin per key in order plus a trailing empty one; with <paramref name="priorBins"/>
    /// the previous build's layout is kept. Every object of <paramref name="objects"/> must be mapped, and every key
    /// must own at least one object.
    /// </summary>
    public IReadOnlyList<(string Name, string Components, List<Checksum> Objects)> Bins(IEnumerable<Checksum> objects, IReadOnlyList<string>? priorBins = null)
    {
        var byKey = Layers.ToDictionary(x => x.Key, _ => new List<Checksum>(), StringComparer.Ordinal);
        foreach (var o in objects)
        {
            var hex = o.ToHex();
            if (!Mapping.TryGetValue(hex, out var key))
            {
                throw new ContainerException(OstreeErrorCode.InvalidData, $"Content metadata maps no layer for object {hex}");
            }

            if (!byKey.TryGetValue(key, out var list))
            {
                throw new ContainerException(OstreeErrorCode.InvalidData, $"Content metadata maps object {hex} to unknown layer '{key}'");
            }

            list.Add(o);
        }

        foreach (var (key, _) in Layers)
        {
            if (byKey[key].Count == 0)
            {
                throw new ContainerException(OstreeErrorCode.InvalidData, $"Content metadata layer '{key}' owns no object");
            }
        }

        var components = Layers.Select(l => new PackComponent(l.Key, l.Name, l.Key, 1, l.Key == "unpackaged" ? PackComponent.Always : 1, 1)).ToList();
        var bins = ChunkPacker.Pack(components, components.Count + 1, priorBins);
        return [.. bins.Select(b => (ChunkPacker.BinName(b), ChunkPacker.Annotation(b), b.SelectMany(c => byKey[c.Identifier]).ToList()))];
    }
}
