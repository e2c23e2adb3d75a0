// bootc's host object (apiVersion org.containers.bootc/v1, kind BootcHost): what `bootc status` prints and
// `bootc edit` takes, built from a sysroot's deployments as bootc builds it.
using System.Globalization;
using System.Text.Json.Nodes;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Objects;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Containers.Host;

/// <summary>The slots of bootc's status.</summary>
public enum BootcSlot
{
    /// <summary>The deployment staged for the next boot.</summary>
    Staged,

    /// <summary>The running deployment.</summary>
    Booted,

    /// <summary>The one booted before, or next with a queued rollback.</summary>
    Rollback,
}

/// <summary>
/// bootc's <c>BootcHost</c> object. Members are in bootc's order (its YAML keeps it); <see cref="ToCanonicalJson"/>
/// sorts them as bootc's canonical JSON does.
/// </summary>
public static class BootcHost
{
    private static readonly System.Text.Json.JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The API version of the object.</summary>
    public const string ApiVersion = "org.containers.bootc/v1";

    /// <summary>The object's kind.</summary>
    public const string Kind = "BootcHost";

    /// <summary>
    /// The host object of <paramref name="sysroot"/> as its booted deployment sees it: staged, booted and rollback
    /// entries of the booted stateroot, the others after them; the spec is the staged (else booted) image. Without a
    /// booted deployment, the empty object bootc prints for a system it did not deploy.
    /// </summary>
    public static JsonObject Build(OstreeSysroot sysroot) => Build(sysroot, (sysroot ?? throw new ArgumentNullException(nameof(sysroot))).Booted);

    /// <summary>As <see cref="Build(OstreeSysroot)"/>, seen from <paramref name="booted"/> (one of the sysroot's deployments).</summary>
    public static JsonObject Build(OstreeSysroot sysroot, Deployment? booted)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        if (booted is null)
        {
            return Empty();
        }

        var host = Header();
        var related = sysroot.Deployments.Where(d => d.OsName == booted.OsName && !d.SameAs(booted)).ToList();
        var others = sysroot.Deployments.Where(d => d.OsName != booted.OsName).ToList();
        var staged = sysroot.Staged is { } s && s.OsName == booted.OsName ? s : null;
        var rollback = related.FirstOrDefault();
        related.Remove(rollback!);
        bool rollbackQueued = rollback is not null && rollback.Index < booted.Index;

        var stagedEntry = staged is null ? null : Entry(sysroot, staged);
        var bootedEntry = Entry(sysroot, booted);
        var specImage = (stagedEntry ?? bootedEntry)["image"] is JsonObject img ? img["image"]!.DeepClone() : null;
        host["spec"] = Spec(specImage, rollbackQueued);
        var status = new JsonObject
        {
            ["staged"] = stagedEntry,
            ["booted"] = bootedEntry,
            ["rollback"] = rollback is null ? null : Entry(sysroot, rollback),
        };
        if (related.Count + others.Count > 0)
        {
            status["otherDeployments"] = new JsonArray([.. related.Concat(others).Select(d => (JsonNode)Entry(sysroot, d))]);
        }

        status["rollbackQueued"] = rollbackQueued;
        // Only a host booted from a container image is a bootc host.
        status["type"] = bootedEntry["image"] is null ? null : "bootcHost";
        status["usrOverlay"] = booted.Unlocked switch
        {
            "development" => Overlay("readWrite", "transient"),
            "hotfix" => Overlay("readWrite", "persistent"),
            "transient" => Overlay("readOnly", "transient"),
            _ => null,
        };
        status["readOnly"] = false;
        host["status"] = status;
        return host;
    }

    /// <summary>The object bootc prints on a system it did not deploy: no image, no entries.</summary>
    public static JsonObject Empty()
    {
        var host = Header();
        host["spec"] = Spec(null, rollbackQueued: false);
        host["status"] = new JsonObject
        {
            ["staged"] = null, ["booted"] = null, ["rollback"] = null, ["rollbackQueued"] = false,
            ["type"] = null, ["usrOverlay"] = null, ["readOnly"] = false,
        };
        return host;
    }

    private static JsonObject Header() => new()
    {
        ["apiVersion"] = ApiVersion,
        ["kind"] = Kind,
        ["metadata"] = new JsonObject { ["name"] = "host" },
    };

    private static JsonObject Overlay(string access, string persistence) => new() { ["accessMode"] = access, ["persistence"] = persistence };

    private static JsonObject Spec(JsonNode? image, bool rollbackQueued) => new()
    {
        ["image"] = image,
        ["bootOrder"] = rollbackQueued ? "rollback" : "default",
    };

    /// <summary>bootc's <c>ImageReference</c> of an ostree image reference: transport, name and signature policy.</summary>
    public static JsonObject ImageReference(OstreeImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var o = new JsonObject { ["image"] = reference.Image.Name, ["transport"] = reference.Image.TransportToken };
        switch (reference.Policy)
        {
            case SignaturePolicy.ContainerPolicy:
                o["signature"] = "containerPolicy";
                break;
            case SignaturePolicy.OstreeRemote:
                o["signature"] = new JsonObject { ["ostreeRemote"] = reference.Remote };
                break;
        }

        return o;
    }

    /// <summary>The ostree image reference of bootc's <c>ImageReference</c> object (the inverse of <see cref="ImageReference(OstreeImageReference)"/>).</summary>
    /// <exception cref="ImageReferenceException">An unknown transport or signature.</exception>
    public static OstreeImageReference ParseImageReference(JsonNode? node)
    {
        if (node is not JsonObject o || o["image"]?.GetValue<string>() is not { Length: > 0 } name)
        {
            throw new ImageReferenceException("spec.image: missing image");
        }

        var transport = o["transport"]?.GetValue<string>() ?? "registry";
        var image = References.ImageReference.Parse($"{transport}:{name}");
        return o["signature"] switch
        {
            null => new OstreeImageReference(SignaturePolicy.AllowInsecure, null, image),
            JsonValue v when v.GetValue<string>() == "insecure" => new OstreeImageReference(SignaturePolicy.AllowInsecure, null, image),
            JsonValue v when v.GetValue<string>() == "containerPolicy" => new OstreeImageReference(SignaturePolicy.ContainerPolicy, null, image),
            JsonObject r when r["ostreeRemote"]?.GetValue<string>() is { Length: > 0 } remote => new OstreeImageReference(SignaturePolicy.OstreeRemote, remote, image),
            var other => throw new ImageReferenceException($"spec.image.signature: unknown signature {other!.ToJsonString()}"),
        };
    }

    private static JsonObject Entry(OstreeSysroot sysroot, Deployment d)
    {
        // rpm-ostree's own origin groups: such a deployment is not one bootc can represent.
        bool incompatible = d.Origin is { } origin && new[] { "rpmostree", "packages", "overrides", "modules" }.Any(origin.HasGroup);
        JsonNode? image = null, cached = null;
        if (!incompatible && d.ContainerImageReference is { } text && OstreeImageReference.TryParse(text, out var reference))
        {
            image = ImageStatus(sysroot, d.Commit, reference);
            if (image is not null && new ImageStore(sysroot.Repo).CachedUpdate(d.Commit) is var (digest, configJson))
            {
                cached = ImageStatus(reference, digest, configJson);
            }
        }

        return new JsonObject
        {
            ["image"] = image,
            ["cachedUpdate"] = cached,
            ["incompatible"] = incompatible,
            ["pinned"] = d.IsPinned,
            ["softRebootCapable"] = false,
            ["downloadOnly"] = d.IsStaged && d.FinalizationLocked,
            ["store"] = "ostreeContainer",
            ["ostree"] = new JsonObject
            {
                ["stateroot"] = d.OsName,
                ["checksum"] = d.Commit.ToHex(),
                ["deploySerial"] = d.DeploySerial,
            },
            ["composefs"] = null,
        };
    }

    // What the merge commit of the deployed image records: its manifest digest and config.
    private static JsonObject? ImageStatus(OstreeSysroot sysroot, Checksum commit, OstreeImageReference reference)
    {
        var stored = new ImageStore(sysroot.Repo).QueryCommit(commit, reference.Image.ToString());
        if (stored is null)
        {
            return null;
        }

        return ImageStatus(reference, stored.ManifestDigest, stored.ConfigJson);
    }

    private static JsonObject ImageStatus(OstreeImageReference reference, Digest digest, string? configJson)
    {
        var config = configJson is { } json ? ImageConfig.Parse(System.Text.Encoding.UTF8.GetBytes(json), $"of {reference.Image}") : new ImageConfig();
        var labels = config.Config?.Labels;
        string? Label(string key) => labels is not null && labels.TryGetValue(key, out var v) ? v : null;
        var created = Label("org.opencontainers.image.created") ?? config.Created;
        return new JsonObject
        {
            ["image"] = ImageReference(reference),
            ["version"] = Version(config),
            ["timestamp"] = created is not null && DateTimeOffset.TryParse(created, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? Rfc3339(t) : null,
            ["imageDigest"] = digest.ToString(),
            ["architecture"] = config.Architecture,
        };
    }

    /// <summary>An image's version, as ostree-ext reads it: the label <c>org.opencontainers.image.version</c>, else <c>version</c>.</summary>
    public static string? Version(ImageConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var labels = config.Config?.Labels;
        return labels is null ? null : labels.GetValueOrDefault("org.opencontainers.image.version") ?? labels.GetValueOrDefault("version");
    }

    /// <summary>UTC, with as many fractional digits as needed in groups of three (as chrono writes a timestamp).</summary>
    public static string Rfc3339(DateTimeOffset time)
    {
        var u = time.UtcDateTime;
        long fraction = u.Ticks % TimeSpan.TicksPerSecond;
        var frac = fraction == 0 ? string.Empty
            : fraction % 10_000 == 0 ? "." + (fraction / 10_000).ToString("000", CultureInfo.InvariantCulture)
            : fraction % 10 == 0 ? "." + (fraction / 10).ToString("000000", CultureInfo.InvariantCulture)
            : "." + (fraction * 100).ToString("000000000", CultureInfo.InvariantCulture);
        return u.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + frac + "Z";
    }

    /// <summary>Keeps only <paramref name="slot"/>'s entry (<c>bootc status --booted</c>).</summary>
    public static void FilterToSlot(JsonObject host, BootcSlot slot)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host["status"] is JsonObject status)
        {
            foreach (var (name, s) in new[] { ("staged", BootcSlot.Staged), ("booted", BootcSlot.Booted), ("rollback", BootcSlot.Rollback) })
            {
                if (s != slot)
                {
                    status[name] = null;
                }
            }
        }
    }

    /// <summary>
    /// Canonical JSON, as bootc prints it: members sorted by name (UTF-16 code units, the same order as bytes for the
    /// ASCII names here), no spaces, no trailing newline.
    /// </summary>
    public static string ToCanonicalJson(JsonNode? node)
    {
        // (only '"', '\\' and control characters escaped, as canonical JSON has it)
        var sb = new System.Text.StringBuilder();
        // An explicit stack: the object is ours, but the depth need not be trusted to the call stack.
        var stack = new Stack<object?>();
        stack.Push(node);
        while (stack.Count > 0)
        {
            switch (stack.Pop())
            {
                case string literal:
                    sb.Append(literal);
                    break;
                case JsonObject o:
                    sb.Append('{');
                    var members = o.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
                    stack.Push("}");
                    for (int i = members.Count - 1; i >= 0; i--)
                    {
                        stack.Push(members[i].Value);
                        stack.Push(JsonValue.Create(members[i].Key).ToJsonString(Relaxed) + ":");
                        if (i > 0)
                        {
                            stack.Push(",");
                        }
                    }

                    break;
                case JsonArray a:
                    sb.Append('[');
                    stack.Push("]");
                    for (int i = a.Count - 1; i >= 0; i--)
                    {
                        stack.Push(a[i]);
                        if (i > 0)
                        {
                            stack.Push(",");
                        }
                    }

                    break;
                case null:
                    sb.Append("null");
                    break;
                case JsonNode value:
                    sb.Append(value.ToJsonString(Relaxed));
                    break;
            }
        }

        return sb.ToString();
    }
}
