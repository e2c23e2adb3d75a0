// The text `ostree summary --view` and `ostree remote summary` print for a summary file.
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

/// <summary>Formats a summary as ostree does.</summary>
internal static class SummaryDump
{
    /// <summary>The refs with their commits and metadata, then the summary's own metadata.</summary>
    public static string Format(byte[] summary)
    {
        var v = GVariantValue.Parse(Summary.Type, summary);
        var sb = new StringBuilder();

        // The refs, those of other collections after: "(COLLECTION, REF)" when the summary names collections.
        var exts = v[1].GetVarDictEntries().ToList();
        var main = exts.FirstOrDefault(e => e.Key == "ostree.summary.collection-id").Value is { Type.Text: "s" } c ? c.GetString() : null;
        DumpRefs(sb, main, v[0]);
        if (exts.FirstOrDefault(e => e.Key == "ostree.summary.collection-map").Value is { Type.Text: "a{sa(s(taya{sv}))}" } map)
        {
            foreach (var entry in map.GetChildren())
            {
                DumpRefs(sb, entry[0].GetString(), entry[1]);
            }
        }

        foreach (var (key, value) in v[1].GetVarDictEntries())
        {
            var inner = value;
            string? pretty = null;
            string text;
            switch (key)
            {
                case "ostree.summary.mode":
                    pretty = "Repository Mode";
                    text = inner.GetString();
                    break;
                case "ostree.summary.last-modified":
                    pretty = "Last-Modified";
                    text = Iso8601(BinaryPrimitives.ReverseEndianness(inner.GetUInt64()));
                    break;
                case "ostree.summary.expires":
                    pretty = "Expires";
                    text = Iso8601(BinaryPrimitives.ReverseEndianness(inner.GetUInt64()));
                    break;
                case "ostree.summary.tombstone-commits":
                    pretty = "Has Tombstone Commits";
                    text = inner.GetBoolean() ? "Yes" : "No";
                    break;
                case "ostree.summary.collection-id":
                    pretty = "Collection ID";
                    text = inner.GetString();
                    break;
                case "ostree.static-deltas":
                    pretty = "Static Deltas";
                    text = inner.Print(false);
                    break;
                case "ostree.summary.collection-map":
                    pretty = "Collection Map";
                    text = "(printed above)";
                    break;
                default:
                    text = inner.Print(false);
                    break;
            }

            sb.Append(pretty is null ? $"{key}: {text}\n" : $"{pretty} ({key}): {text}\n");
        }

        return sb.ToString();
    }

    private static void DumpRefs(StringBuilder sb, string? collection, GVariantValue refs)
    {
        foreach (var entry in refs.GetChildren())
        {
            sb.Append(collection is null ? $"* {entry[0].GetString()}\n" : $"* ({collection}, {entry[0].GetString()})\n");
            ulong size = entry[1][0].GetUInt64();
            sb.Append(size > 0 ? $"    Latest Commit ({SizeFormat.Format((long)size)}):\n" : "    Latest Commit:\n");
            sb.Append("      ").Append(Convert.ToHexStringLower(entry[1][1].GetBytes())).Append('\n');
            foreach (var (key, value) in entry[1][2].GetVarDictEntries())
            {
                var inner = value;
                switch (key)
                {
                    case "ostree.commit.timestamp":
                        sb.Append("    Timestamp (").Append(key).Append("): ").Append(Iso8601(BinaryPrimitives.ReverseEndianness(inner.GetUInt64()))).Append('\n');
                        break;
                    case "ostree.commit.version":
                        sb.Append("    Version (").Append(key).Append("): ").Append(inner.GetString()).Append('\n');
                        break;
                    default:
                        sb.Append("    ").Append(key).Append(": ").Append(inner.Print(false)).Append('\n');
                        break;
                }
            }

            sb.Append('\n');
        }
    }

    private static string Iso8601(ulong seconds) =>
        DateTimeOffset.FromUnixTimeSeconds((long)seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'+00'", CultureInfo.InvariantCulture);
}
