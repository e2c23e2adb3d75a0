// YAML of bootc's host object, with YamlDotNet's emitter and event parser (no object model: nothing recursive).
using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace OstreeSharp.Containers.Host;

/// <summary>YAML for bootc's host object: written as <c>bootc status --format=yaml</c> writes it, read back by <c>bootc edit</c>.</summary>
public static class BootcYaml
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
    /// <exception cref="OstreeException">
    /// Not YAML, not one mapping, nested deeper than 64 levels, or with aliases; the message names <paramref name="what"/>.
    /// </exception>
    public static JsonObject ReadObject(string text, string what)
    {
        // The parser's events, folded with an explicit stack: no recursion whose depth the file controls.
        var parser = new Parser(new StringReader(text));
        var open = new Stack<(JsonNode Node, string? PendingKey)>();
        JsonNode? root = null;
        int documents = 0;
        try
        {
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case DocumentStart:
                        if (++documents > 1)
                        {
                            throw new OstreeException(OstreeErrorCode.InvalidData, $"{what}: more than one YAML document");
                        }

                        break;
                    case AnchorAlias a:
                        throw new OstreeException(OstreeErrorCode.NotSupported, $"{what}: YAML aliases are not supported (*{a.Value} at {a.Start})");
                    case MappingStart or SequenceStart:
                        if (open.Count >= MaxDepth)
                        {
                            throw new OstreeException(OstreeErrorCode.InvalidData, $"{what}: nested deeper than {MaxDepth} levels at {parser.Current.Start}");
                        }

                        JsonNode container = parser.Current is MappingStart ? new JsonObject() : new JsonArray();
                        Add(container, parser.Current);
                        open.Push((container, null));
                        break;
                    case MappingEnd or SequenceEnd:
                        open.Pop();
                        break;
                    case Scalar scalar:
                        if (open.TryPeek(out var top) && top.Node is JsonObject && top.PendingKey is null)
                        {
                            open.Pop();
                            open.Push((top.Node, scalar.Value));
                        }
                        else
                        {
                            Add(scalar.Style == ScalarStyle.Plain ? (IsNull(scalar.Value) ? null : Typed(scalar.Value) ?? JsonValue.Create(scalar.Value)) : JsonValue.Create(scalar.Value), scalar);
                        }

                        break;
                }
            }
        }
        catch (YamlException e)
        {
            throw new OstreeException(OstreeErrorCode.InvalidData, $"{what}: invalid YAML: {e.Message}");
        }

        return root as JsonObject ?? throw new OstreeException(OstreeErrorCode.InvalidData, $"{what}: expected one YAML document with a mapping at its top");

        void Add(JsonNode? value, ParsingEvent e)
        {
            if (!open.TryPeek(out var top))
            {
                root = value;
                return;
            }

            if (top.Node is JsonArray array)
            {
                array.Add(value);
                return;
            }

            var obj = (JsonObject)top.Node;
            if (top.PendingKey is null)
            {
                throw new OstreeException(OstreeErrorCode.InvalidData, $"{what}: a mapping key that is not a scalar at {e.Start}");
            }

            obj[top.PendingKey] = value;
            open.Pop();
            open.Push((obj, null));
        }
    }
}
