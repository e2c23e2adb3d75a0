using System.Text.Json;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Containers.Signatures;

/// <summary>A policy.json that cannot be read or does not follow containers-policy.json(5).</summary>
public sealed class InvalidPolicyException(string message) : ContainerException(OstreeErrorCode.PolicyInvalid, message);

/// <summary>One requirement of a policy scope; an image is allowed when every requirement of its scope allows it.</summary>
public abstract record PolicyRequirement
{
    /// <summary>The requirement's <c>type</c> as policy.json spells it.</summary>
    public abstract string Type { get; }
}

/// <summary><c>reject</c>: nothing is allowed.</summary>
internal sealed record RejectRequirement : PolicyRequirement
{
    /// <inheritdoc/>
    public override string Type => "reject";
}

/// <summary><c>insecureAcceptAnything</c>: anything is allowed.</summary>
internal sealed record AcceptAnythingRequirement : PolicyRequirement
{
    /// <inheritdoc/>
    public override string Type => "insecureAcceptAnything";
}

/// <summary>
/// <c>signedBy</c>: a GPG "simple signing" signature by one of the keys (<c>keyPath</c>, <c>keyPaths</c> or
/// <c>keyData</c>, OpenPGP keyrings) whose claimed identity <paramref name="Identity"/> accepts.
/// </summary>
internal sealed record SignedByRequirement(string KeyType, IReadOnlyList<string> KeyPaths, byte[]? KeyData, IdentityRule Identity) : PolicyRequirement
{
    /// <inheritdoc/>
    public override string Type => "signedBy";
}

/// <summary>
/// <c>sigstoreSigned</c> with public keys (<c>keyPath</c>, <c>keyPaths</c>, <c>keyData</c>, <c>keyDatas</c>, PEM):
/// a sigstore signature by one of them whose claimed identity <paramref name="Identity"/> accepts.
/// </summary>
internal sealed record SigstoreSignedRequirement(IReadOnlyList<string> KeyPaths, IReadOnlyList<byte[]> KeyDatas, IdentityRule Identity) : PolicyRequirement
{
    /// <inheritdoc/>
    public override string Type => "sigstoreSigned";
}

/// <summary><c>signedBaseLayer</c>: parsed as containers/image parses it, and (as there) never satisfied.</summary>
internal sealed record SignedBaseLayerRequirement(IdentityRule BaseLayerIdentity) : PolicyRequirement
{
    /// <inheritdoc/>
    public override string Type => "signedBaseLayer";
}

/// <summary>The requirements that apply to an image, and where in the policy they were found.</summary>
public sealed record PolicyScope(string Transport, string? Scope, IReadOnlyList<PolicyRequirement> Requirements)
{
    /// <summary>Names the section: <c>default</c>, <c>transports.docker[""]</c> or <c>transports.docker["SCOPE"]</c>.</summary>
    public string Section => Scope is null ? "default" : $"transports.{Transport}[\"{Scope}\"]";
}

/// <summary>
/// A containers-policy.json(5): a default list of requirements and, per transport, lists per scope. The most
/// specific scope wins: the image's full identity, then each namespace from the longest, then the transport's
/// <c>""</c>, then the default.
/// </summary>
public sealed class ImagePolicy
{
    private const int MaxBytes = 4 << 20;

    private ImagePolicy(string path, IReadOnlyList<PolicyRequirement> @default, IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<PolicyRequirement>>> transports)
    {
        Path = path;
        Default = @default;
        Transports = transports;
    }

    /// <summary>The file the policy was read from (or the name it was given).</summary>
    public string Path { get; }

    /// <summary>The <c>default</c> requirements.</summary>
    public IReadOnlyList<PolicyRequirement> Default { get; }

    /// <summary>Per transport name, the requirements per scope.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<PolicyRequirement>>> Transports { get; }

    /// <summary>
    /// The policy file as containers/image finds it: <paramref name="path"/> when given, else
    /// <c>$XDG_CONFIG_HOME/containers/policy.json</c> (or <c>$HOME/.config/...</c>) when it exists, else
    /// <c>/etc/containers/policy.json</c>.
    /// </summary>
    /// <exception cref="InvalidPolicyException">The file is missing, unreadable or malformed.</exception>
    public static ImagePolicy Load(string? path = null)
    {
        path ??= ContainerPolicy.DefaultPath();
        byte[] bytes;
        try
        {
            using var f = File.OpenRead(path);
            if (f.Length > MaxBytes)
            {
                throw new InvalidPolicyException($"invalid policy in \"{path}\": over {MaxBytes} bytes");
            }

            bytes = new byte[f.Length];
            f.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidPolicyException($"Error loading trust policy: {path}: {e.Message}");
        }

        return Parse(bytes, path);
    }

    /// <summary>Parses policy.json bytes strictly (unknown or duplicate members are errors, as in containers/image).</summary>
    /// <exception cref="InvalidPolicyException">Malformed.</exception>
    public static ImagePolicy Parse(ReadOnlySpan<byte> json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            var root = Object(doc.RootElement, "the policy");
            IReadOnlyList<PolicyRequirement>? def = null;
            var transports = new Dictionary<string, IReadOnlyDictionary<string, IReadOnlyList<PolicyRequirement>>>(StringComparer.Ordinal);
            foreach (var p in Members(root, "the policy"))
            {
                switch (p.Name)
                {
                    case "default":
                        def = Requirements(p.Value, "default");
                        break;
                    case "transports":
                        foreach (var t in Members(Object(p.Value, "transports"), "transports"))
                        {
                            var scopes = new Dictionary<string, IReadOnlyList<PolicyRequirement>>(StringComparer.Ordinal);
                            foreach (var s in Members(Object(t.Value, $"transports.{t.Name}"), $"transports.{t.Name}"))
                            {
                                ValidateScope(t.Name, s.Name);
                                scopes[s.Name] = Requirements(s.Value, $"transports.{t.Name}[\"{s.Name}\"]");
                            }

                            transports[t.Name] = scopes;
                        }

                        break;
                    default:
                        throw Invalid($"Unknown key \"{p.Name}\"");
                }
            }

            return new ImagePolicy(path, def ?? throw Invalid("Default policy is missing"), transports);
        }
        catch (JsonException e)
        {
            throw new InvalidPolicyException($"invalid policy in \"{path}\": {e.Message}");
        }
        catch (PolicyFormatError e)
        {
            throw new InvalidPolicyException($"invalid policy in \"{path}\": {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json refuses strings that are not UTF-8 only when they are read.
            throw new InvalidPolicyException($"invalid policy in \"{path}\": {e.Message}");
        }
    }

    /// <summary>The transport name policy.json uses for <paramref name="reference"/>'s transport.</summary>
    public static string TransportName(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return reference.Transport switch
        {
            Transport.Registry => "docker",
            Transport.OciDir => "oci",
            Transport.OciArchive => "oci-archive",
            Transport.DockerArchive => "docker-archive",
            Transport.ContainersStorage => "containers-storage",
            Transport.Dir => "dir",
            _ => throw new ArgumentOutOfRangeException(nameof(reference)),
        };
    }

    /// <summary>
    /// The image's identity in the policy and its namespaces, most specific first, as containers/image names them:
    /// for a registry <c>HOST/PATH:TAG</c> (or <c>@DIGEST</c>; no tag means <c>latest</c>), <c>HOST/PATH</c>, each
    /// parent of the path, <c>HOST</c>, then <c>*.DOMAIN</c> for each parent domain; for a layout, an archive or a
    /// <c>dir:</c> its absolute path, then each parent folder but <c>/</c>.
    /// </summary>
    public static IReadOnlyList<string> Scopes(ImageReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var res = new List<string>();
        switch (reference.Transport)
        {
            case Transport.Registry:
                {
                    var d = reference.Docker;
                    res.Add(d.Repository + (d.Digest is not null ? "@" + d.Digest : ":" + (d.Tag ?? "latest")));
                    var name = d.Repository;
                    while (true)
                    {
                        res.Add(name);
                        int slash = name.LastIndexOf('/');
                        if (slash < 0)
                        {
                            break;
                        }

                        name = name[..slash];
                    }

                    int colon = name.IndexOf(':', StringComparison.Ordinal);
                    if (colon >= 0)
                    {
                        name = name[..colon];
                    }

                    for (int dot = name.IndexOf('.', StringComparison.Ordinal); dot >= 0; dot = name.IndexOf('.', StringComparison.Ordinal))
                    {
                        name = name[(dot + 1)..];
                        res.Add("*." + name);
                    }

                    break;
                }

            case Transport.OciDir:
            case Transport.OciArchive:
            case Transport.Dir:
                {
                    var path = System.IO.Path.GetFullPath(reference.Path);
                    if (path.Length > 1)
                    {
                        path = path.TrimEnd('/');
                    }

                    while (path.Length > 1)
                    {
                        res.Add(path);
                        int slash = path.LastIndexOf('/');
                        path = slash <= 0 ? "/" : path[..slash];
                    }

                    break;
                }

            default:
                break; // docker-archive and containers-storage: only the transport's "" scope and the default
        }

        return res;
    }

    /// <summary>The requirements for <paramref name="reference"/>: the most specific scope that the policy names.</summary>
    public PolicyScope RequirementsFor(ImageReference reference)
    {
        var transport = TransportName(reference);
        if (Transports.TryGetValue(transport, out var scopes))
        {
            foreach (var s in Scopes(reference))
            {
                if (scopes.TryGetValue(s, out var reqs))
                {
                    return new PolicyScope(transport, s, reqs);
                }
            }

            if (scopes.TryGetValue(string.Empty, out var any))
            {
                return new PolicyScope(transport, string.Empty, any);
            }
        }

        return new PolicyScope(transport, null, Default);
    }

    /// <summary>Whether the default is a lone <c>insecureAcceptAnything</c> (ostree-ext then refuses signed image references).</summary>
    public bool DefaultAcceptsAnything => Default is [AcceptAnythingRequirement];

    private static void ValidateScope(string transport, string scope)
    {
        if (scope.Length == 0)
        {
            return;
        }

        switch (transport)
        {
            case "oci" or "oci-archive" or "dir":
                if (!scope.StartsWith('/') || scope == "/")
                {
                    throw Invalid($"Invalid scope \"{scope}\" for transport {transport}: an absolute path other than /");
                }

                break;
            case "docker":
                if (scope.Contains("://", StringComparison.Ordinal) || scope.Any(char.IsWhiteSpace))
                {
                    throw Invalid($"Invalid scope \"{scope}\" for transport docker");
                }

                break;
        }
    }

    private static List<PolicyRequirement> Requirements(JsonElement e, string what)
    {
        if (e.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"{what}: expected a list of requirements");
        }

        if (e.GetArrayLength() == 0)
        {
            throw Invalid("List of verification policy requirements must not be empty");
        }

        var list = new List<PolicyRequirement>();
        foreach (var r in e.EnumerateArray())
        {
            list.Add(Requirement(r, what));
        }

        return list;
    }

    private static PolicyRequirement Requirement(JsonElement e, string what)
    {
        var o = Object(e, what);
        var type = StringMember(o, "type", what) ?? throw Invalid($"{what}: a requirement without \"type\"");
        switch (type)
        {
            case "insecureAcceptAnything":
                Only(o, what, "type");
                return new AcceptAnythingRequirement();
            case "reject":
                Only(o, what, "type");
                return new RejectRequirement();
            case "signedBy":
                {
                    Only(o, what, "type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity");
                    var keyType = StringMember(o, "keyType", what) ?? throw Invalid("keyType not specified");
                    if (keyType is not "GPGKeys")
                    {
                        throw Invalid(keyType == "signedByGPGKeys" || keyType == "X509Certificates" || keyType == "signedByX509CAs"
                            ? $"Unsupported keyType \"{keyType}\"" : $"Unrecognized keyType value \"{keyType}\"");
                    }

                    var (paths, datas) = Keys(o, what, allowDatas: false);
                    return new SignedByRequirement(keyType, paths, datas.FirstOrDefault(), Identity(o, "signedIdentity", what));
                }

            case "sigstoreSigned":
                {
                    Only(o, what, "type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity");
                    foreach (var unsupported in new[] { "fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas" })
                    {
                        if (o.TryGetProperty(unsupported, out _))
                        {
                            throw Invalid($"sigstoreSigned with \"{unsupported}\" is not supported by ostree-sharp: it verifies with public keys only (keyPath, keyPaths, keyData, keyDatas)");
                        }
                    }

                    var (paths, datas) = Keys(o, what, allowDatas: true);
                    return new SigstoreSignedRequirement(paths, datas, Identity(o, "signedIdentity", what));
                }

            case "signedBaseLayer":
                Only(o, what, "type", "baseLayerIdentity");
                return new SignedBaseLayerRequirement(o.TryGetProperty("baseLayerIdentity", out _) ? Identity(o, "baseLayerIdentity", what) : throw Invalid("baseLayerIdentity not specified"));
            default:
                throw Invalid($"Unknown policy requirement type \"{type}\"");
        }
    }

    private static (List<string> Paths, List<byte[]> Datas) Keys(JsonElement o, string what, bool allowDatas)
    {
        var paths = new List<string>();
        var datas = new List<byte[]>();
        int given = 0;
        if (StringMember(o, "keyPath", what) is { } p)
        {
            paths.Add(p);
            given++;
        }

        if (o.TryGetProperty("keyPaths", out var ps))
        {
            given++;
            foreach (var x in Array(ps, "keyPaths"))
            {
                paths.Add(x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Invalid("keyPaths: expected strings"));
            }

            if (paths.Count == 0)
            {
                throw Invalid("keyPaths contains no entries");
            }
        }

        if (StringMember(o, "keyData", what) is { } d)
        {
            datas.Add(Base64(d, "keyData"));
            given++;
        }

        if (allowDatas && o.TryGetProperty("keyDatas", out var ds))
        {
            given++;
            foreach (var x in Array(ds, "keyDatas"))
            {
                datas.Add(Base64(x.ValueKind == JsonValueKind.String ? x.GetString()! : throw Invalid("keyDatas: expected strings"), "keyDatas"));
            }

            if (datas.Count == 0)
            {
                throw Invalid("keyDatas contains no entries");
            }
        }

        var names = allowDatas ? "keyPath, keyPaths, keyData and keyDatas" : "keyPath, keyPaths and keyData";
        return given switch
        {
            0 => throw Invalid($"Exactly one of {names} must be specified, none of them present"),
            1 => (paths, datas),
            _ => throw Invalid($"Exactly one of {names} must be specified, more than one present"),
        };
    }

    private static IdentityRule Identity(JsonElement o, string member, string what)
    {
        if (!o.TryGetProperty(member, out var e))
        {
            return IdentityRule.MatchRepoDigestOrExact;
        }

        var io = Object(e, member);
        var type = StringMember(io, "type", member) ?? throw Invalid($"{member} without \"type\"");
        switch (type)
        {
            case "matchExact":
            case "matchRepoDigestOrExact":
            case "matchRepository":
                Only(io, member, "type");
                return new IdentityRule(type, null, null);
            case "exactReference":
                {
                    Only(io, member, "type", "dockerReference");
                    var r = StringMember(io, "dockerReference", member) ?? throw Invalid("dockerReference not specified");
                    var parsed = ParseDocker(r, "dockerReference");
                    if (parsed.Tag is null && parsed.Digest is null)
                    {
                        throw Invalid($"dockerReference \"{r}\" contains neither a tag nor digest");
                    }

                    return new IdentityRule(type, r, null);
                }

            case "exactRepository":
                {
                    Only(io, member, "type", "dockerRepository");
                    var r = StringMember(io, "dockerRepository", member) ?? throw Invalid("dockerRepository not specified");
                    ParseDocker(r, "dockerRepository");
                    return new IdentityRule(type, r, null);
                }

            case "remapIdentity":
                {
                    Only(io, member, "type", "prefix", "signedPrefix");
                    var prefix = StringMember(io, "prefix", member) ?? throw Invalid("prefix not specified");
                    var signedPrefix = StringMember(io, "signedPrefix", member) ?? throw Invalid("signedPrefix not specified");
                    IdentityRule.ValidatePrefix(prefix);
                    IdentityRule.ValidatePrefix(signedPrefix);
                    return new IdentityRule(type, prefix, signedPrefix);
                }

            default:
                throw Invalid($"Unknown policy reference match type \"{type}\"");
        }
    }

    private static DockerReference ParseDocker(string text, string member)
    {
        try
        {
            return DockerReference.Parse(text);
        }
        catch (ImageReferenceException e)
        {
            throw Invalid($"Invalid format of {member} \"{text}\": {e.Message}");
        }
    }

    private static byte[] Base64(string s, string member)
    {
        try
        {
            return Convert.FromBase64String(s);
        }
        catch (FormatException)
        {
            throw Invalid($"{member}: not base64");
        }
    }

    private static JsonElement Object(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Object ? e : throw Invalid($"{what}: expected an object, found {e.ValueKind.ToString().ToLowerInvariant()}");

    private static JsonElement.ArrayEnumerator Array(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : throw Invalid($"{what}: expected a list");

    private static List<JsonProperty> Members(JsonElement o, string what)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var list = new List<JsonProperty>();
        foreach (var p in o.EnumerateObject())
        {
            if (!seen.Add(p.Name))
            {
                throw Invalid($"{what}: duplicate key \"{p.Name}\"");
            }

            list.Add(p);
        }

        return list;
    }

    private static void Only(JsonElement o, string what, params string[] allowed)
    {
        foreach (var p in Members(o, what))
        {
            if (System.Array.IndexOf(allowed, p.Name) < 0)
            {
                throw Invalid($"Unknown key \"{p.Name}\"");
            }
        }
    }

    private static string? StringMember(JsonElement o, string name, string what)
    {
        if (!o.TryGetProperty(name, out var v))
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Invalid($"{what}: \"{name}\" must be a string");
    }

    private static PolicyFormatError Invalid(string message) => new(message);

    private sealed class PolicyFormatError(string message) : Exception(message);
}
