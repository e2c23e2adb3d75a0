// `bootc status` for people: the staged, booted and rollback entries, with bootc's row names and alignment.
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace OstreeSharp.Cli;

internal static class BootcHuman
{
    public static string Render(JsonObject host, bool verbose)
    {
        var status = host["status"] as JsonObject;
        if (status?["booted"] is null)
        {
            return "System is not deployed via bootc.\n";
        }

        var sb = new StringBuilder();
        bool first = true;
        foreach (var slot in new[] { "staged", "booted", "rollback" })
        {
            if (status[slot] is JsonObject entry)
            {
                if (!first)
                {
                    sb.Append('\n');
                }

                first = false;
                Slot(sb, slot, entry, status, verbose);
            }
        }

        if (status["otherDeployments"] is JsonArray others)
        {
            foreach (var entry in others.OfType<JsonObject>())
            {
                sb.Append('\n');
                Slot(sb, null, entry, status, verbose);
            }
        }

        return sb.ToString();
    }

    private static void Slot(StringBuilder sb, string? slot, JsonObject entry, JsonObject status, bool verbose)
    {
        var ostree = entry["ostree"] as JsonObject;
        if (entry["image"] is JsonObject image)
        {
            var reference = image["image"]!;
            var transport = Text(reference["transport"]);
            var name = Text(reference["image"]);
            var prefix = slot switch
            {
                "staged" => "  Staged image",
                "booted" => "\u25CF Booted image",
                "rollback" => "  Rollback image",
                _ => "   Other image",
            };
            int width = prefix.Length;
            sb.Append(prefix).Append(": ").Append(transport == "registry" ? name : $"{transport}:{name}").Append('\n');
            Row(sb, "Digest", width, $"{Text(image["imageDigest"])} ({Text(image["architecture"])})");
            var timestamp = image["timestamp"] is { } t ? Seconds(Text(t)) : null;
            if (image["version"] is { } version)
            {
                Row(sb, "Version", width, timestamp is null ? Text(version) : $"{Text(version)} ({timestamp})");
            }
            else if (timestamp is not null)
            {
                Row(sb, "Timestamp", width, timestamp);
            }

            if (entry["pinned"]?.GetValue<bool>() == true)
            {
                Row(sb, "Pinned", width, "yes");
            }

            // What a previous `upgrade --check` found, when it differs from this image.
            if (entry["cachedUpdate"] is JsonObject cached && Text(cached["imageDigest"]) != Text(image["imageDigest"]))
            {
                if (cached["version"] is { } updateVersion)
                {
                    var updateTime = cached["timestamp"] is { } ut ? Seconds(Text(ut)) : null;
                    Row(sb, "UpdateVersion", width, updateTime is null ? Text(updateVersion) : $"{Text(updateVersion)} ({updateTime})");
                }
                else
                {
                    Row(sb, "Update", width, "Available");
                }

                Row(sb, "UpdateDigest", width, Text(cached["imageDigest"]));
            }

            UsrOverlay(sb, slot, status, width);
            if (verbose)
            {
                Verbose(sb, slot, ostree, width);
                if (ostree is not null)
                {
                    Row(sb, "Commit", width, Text(ostree["checksum"]));
                }

                switch (reference["signature"])
                {
                    case JsonObject remote:
                        Row(sb, "Signature", width, "ostree-remote:" + Text(remote["ostreeRemote"]));
                        break;
                    case JsonValue v:
                        Row(sb, "Signature", width, Text(v) == "containerPolicy" ? "container-policy" : Text(v));
                        break;
                }

                Row(sb, "Soft-reboot", width, entry["softRebootCapable"]?.GetValue<bool>() == true ? "yes" : "no");
                DownloadOnly(sb, slot, entry, width);
            }
        }
        else if (ostree is not null)
        {
            var prefix = slot switch
            {
                "staged" => "  Staged ostree",
                "booted" => "\u25CF Booted ostree",
                "rollback" => "  Rollback ostree",
                _ => " Other ostree",
            };
            // (bootc measures this prefix in bytes: the booted one's glyph counts three)
            int width = Encoding.UTF8.GetByteCount(prefix);
            sb.Append(prefix).Append('\n');
            Row(sb, "Commit", width, Text(ostree["checksum"]));
            if (entry["pinned"]?.GetValue<bool>() == true)
            {
                Row(sb, "Pinned", width, "yes");
            }

            UsrOverlay(sb, slot, status, width);
            if (verbose)
            {
                Verbose(sb, slot, ostree, width);
                Row(sb, "Soft-reboot", width, entry["softRebootCapable"]?.GetValue<bool>() == true ? "yes" : "no");
                DownloadOnly(sb, slot, entry, width);
            }
        }
        else
        {
            sb.Append("Current ").Append(slot).Append(" state is unknown\n");
        }
    }

    private static void Verbose(StringBuilder sb, string? slot, JsonObject? ostree, int width)
    {
        if (ostree is null)
        {
            return;
        }

        Row(sb, "StateRoot", width, Text(ostree["stateroot"]));
        Row(sb, "Deploy serial", width, ostree["deploySerial"]!.ToJsonString());
        Row(sb, "Staged", width, slot == "staged" ? "yes" : "no");
    }

    private static void DownloadOnly(StringBuilder sb, string? slot, JsonObject entry, int width)
    {
        if (slot == "staged")
        {
            Row(sb, "Download-only", width, entry["downloadOnly"]?.GetValue<bool>() == true ? "yes" : "no");
        }
    }

    private static void UsrOverlay(StringBuilder sb, string? slot, JsonObject status, int width)
    {
        if (slot == "booted" && status["usrOverlay"] is JsonObject overlay)
        {
            var access = Text(overlay["accessMode"]) == "readWrite" ? "read/write" : "read-only";
            Row(sb, "/usr overlay", width, $"{Text(overlay["persistence"])}, {access}");
        }
    }

    private static void Row(StringBuilder sb, string name, int width, string value) =>
        sb.Append(' ', Math.Max(0, width - name.Length)).Append(name).Append(": ").Append(value).Append('\n');

    private static string Text(JsonNode? node) => node?.GetValue<string>() ?? string.Empty;

    // Build timestamps without their fractions of a second.
    private static string? Seconds(string rfc3339) =>
        DateTimeOffset.TryParse(rfc3339, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : null;
}
