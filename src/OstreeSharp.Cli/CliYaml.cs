// YAML for bootc's host object: written as `bootc status --format=yaml` writes it, read back by `bootc edit`.
using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace OstreeSharp.Cli;

internal static class CliYaml
{
    private const int MaxDepth = 64;

    /// <summary>A block-style YAML document of <paramref name="node"/>, members in their order, no document markers.</summary>
    public static string Write(JsonNode? node)
    {
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        var emitter = new Emitter(writer);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        var stack = new Stack<object?>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            switch (stack.Pop())
            {
                case ParsingEvent e:
                    emitter.Emit(e);
                    break;
                case JsonObject o:
                    emitter.Emit(new MappingStart(null, null, isImplicit: true, MappingStyle.Block));
                    stack.Push(new MappingEnd());
                    foreach (var (key, value) in o.Reverse())
                    {
                        stack.Push(value);
                        stack.Push(Scalar(key));
                    }

                    break;
                case JsonArray a:
                    emitter.Emit(new SequenceStart(null, null, isImplicit: true, SequenceStyle.Block));
                    stack.Push(new SequenceEnd());
                    for (int i = a.Count - 1; i >= 0; i--)
                    {
                        stack.Push(a[i]);
                    }

                    break;
                case null:
                    emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                    break;
                case JsonValue v when v.TryGetValue<string>(out var text):
                    emitter.Emit(Scalar(text));
                    break;
                case JsonValue v:
                    // Booleans and numbers: their JSON spelling is their YAML spelling.
                    emitter.Emit(new Scalar(null, null, v.ToJsonString(), ScalarStyle.Plain, isPlainImplicit: true, isQuotedImplicit: false));
                    break;
            }
        }

        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    // A string that a YAML reader would take for another type is quoted.
    private static Scalar Scalar(string text) =>
        new(null, null, text, IsNull(text) || Typed(text) is not null ? ScalarStyle.SingleQuoted : ScalarStyle.Any, isPlainImplicit: true, isQuotedImplicit: true);

    private static bool IsNull(string plain) => plain is "" or "~" or "null" or "Null" or "NULL";

    /// <summary>The boolean or number a plain scalar stands for (YAML 1.2 core schema), else null.</summary>
    private static JsonNode? Typed(string text)
    {
        switch (text)
        {
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }

        if (text.Length > 0 && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && (char.IsAsciiDigit(text[^1]) || text[^1] == '.'))
        {
            return JsonValue.Create(d);
        }

        return null;
    }

    /// <summary>Reads a YAML (or JSON) document whose top level is a mapping.</summary>
    /// <exception cref="OstreeException">Not YAML, not a mapping, or nested deeper than 64 levels; the message names <paramref name="what"/>.</exception>
    public static JsonObject ReadObject(string text, string what)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new OstreeException($"{what}: invalid YAML: {e.Message}");
        }

        if (stream.Documents.Count != 1 || ToJson(stream.Documents[0].RootNode, what, 0) is not JsonObject o)
        {
            throw new OstreeException($"{what}: expected one YAML document with a mapping at its top");
        }

        return o;
    }

    private static JsonNode? ToJson(YamlNode node, string what, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new OstreeException($"{what}: nested deeper than {MaxDepth} levels");
        }

        switch (node)
        {
            case YamlMappingNode m:
                var o = new JsonObject();
                foreach (var (k, v) in m.Children)
                {
                    var key = (k as YamlScalarNode)?.Value ?? throw new OstreeException($"{what}: a mapping key that is not a scalar at {k.Start}");
                    o[key] = ToJson(v, what, depth + 1);
                }

                return o;
            case YamlSequenceNode s:
                return new JsonArray([.. s.Children.Select(c => ToJson(c, what, depth + 1))]);
            case YamlScalarNode { Style: ScalarStyle.Plain } p:
                var value = p.Value ?? string.Empty;
                return IsNull(value) ? null : Typed(value) ?? JsonValue.Create(value);
            case YamlScalarNode q:
                return JsonValue.Create(q.Value ?? string.Empty);
            default:
                throw new OstreeException($"{what}: unsupported YAML node at {node.Start}");
        }
    }
}
