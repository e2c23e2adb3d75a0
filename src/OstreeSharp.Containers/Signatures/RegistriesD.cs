using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Containers.Signatures;

/// <summary>One namespace of registries.d: where signatures are read and written, and whether sigstore attachments are used.</summary>
internal sealed record SignatureStorage(string? Lookaside, string? LookasideStaging, bool? UseSigstoreAttachments);

/// <summary>
/// containers-registries.d(5): the <c>*.yaml</c> files of a folder (skopeo's <c>--registries.d</c>, else
/// <c>$HOME/.config/containers/registries.d</c> when it exists, else <c>/etc/containers/registries.d</c>), each
/// with a <c>default-docker</c> section and <c>docker</c> namespaces (a namespace or the default defined twice is an
/// error, as in containers/image). The most specific namespace that sets a value wins.
/// </summary>
public sealed class RegistriesD
{
    private readonly Dictionary<string, SignatureStorage> _docker = new(StringComparer.Ordinal);
    private SignatureStorage? _default;

    /// <summary>A configuration with nothing set.</summary>
    public static RegistriesD Empty { get; } = new();

    /// <summary>Reads the folder.</summary>
    /// <exception cref="ContainerException">A file is malformed, or a section is defined twice.</exception>
    public static RegistriesD Load(string? dir = null, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        if (dir is null)
        {
            var user = env("HOME") is { } home ? Path.Combine(home, ".config/containers/registries.d") : null;
            dir = user is not null && Directory.Exists(user) ? user : "/etc/containers/registries.d";
        }

        var conf = new RegistriesD();
        if (!Directory.Exists(dir))
        {
            return conf;
        }

        var from = new Dictionary<string, string>(StringComparer.Ordinal);
        string? defaultFrom = null;
        foreach (var file in Directory.GetFiles(dir, "*.yaml").Order(StringComparer.Ordinal))
        {
            JsonObject doc;
            try
            {
                var text = File.ReadAllText(file);
                doc = string.IsNullOrWhiteSpace(text) ? [] : BootcYaml.ReadObject(text, file);
            }
            catch (Exception e) when (e is OstreeException or IOException or UnauthorizedAccessException)
            {
                throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"parsing {file}: {e.Message}");
            }

            if (doc["default-docker"] is JsonObject d)
            {
                if (defaultFrom is not null)
                {
                    throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Error parsing signature storage configuration: \"default-docker\" defined both in \"{defaultFrom}\" and \"{file}\"");
                }

                conf._default = Storage(d, file);
                defaultFrom = file;
            }

            if (doc["docker"] is JsonObject namespaces)
            {
                foreach (var (name, value) in namespaces)
                {
                    if (from.TryGetValue(name, out var first))
                    {
                        throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Error parsing signature storage configuration: \"docker\" namespace \"{name}\" defined both in \"{first}\" and \"{file}\"");
                    }

                    conf._docker[name] = value is JsonObject o ? Storage(o, file) : new SignatureStorage(null, null, null);
                    from[name] = file;
                }
            }
        }

        return conf;
    }

    /// <summary>
    /// The base URL of <paramref name="reference"/>'s signatures (its repository path appended): for reading the
    /// <c>lookaside</c>, for writing <c>lookaside-staging</c> first; without configuration containers/image's
    /// built-in folder (<c>/var/lib/containers/sigstore</c> for root, else <c>~/.local/share/containers/sigstore</c>).
    /// </summary>
    public Uri LookasideBase(ImageReference reference, bool write)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var top = Pick(reference, s => write ? s.LookasideStaging ?? s.Lookaside : s.Lookaside);
        if (top is null)
        {
            var home = Environment.GetEnvironmentVariable("HOME") ?? "/root";
            top = "file://" + (Environment.UserName == "root" ? "/var/lib/containers/sigstore" : Path.Combine(home, ".local/share/containers/sigstore"));
        }

        if (!Uri.TryCreate(top.TrimEnd('/') + "/" + reference.Docker.Path, UriKind.Absolute, out var uri))
        {
            throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"Invalid signature storage URL {top}");
        }

        return uri;
    }

    /// <summary>Whether sigstore signatures of <paramref name="reference"/> are kept as registry attachments.</summary>
    public bool UseSigstoreAttachments(ImageReference reference) =>
        ScopesOf(reference).Select(s => s.UseSigstoreAttachments).FirstOrDefault(v => v is not null) ?? false;

    /// <summary>The URL of signature <paramref name="index"/> (from 1) of manifest <paramref name="digest"/> under <paramref name="baseUrl"/>.</summary>
    public static Uri SignatureUrl(Uri baseUrl, Oci.Digest digest, int index)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        return new Uri(baseUrl.AbsoluteUri + $"@{digest.Algorithm}={digest.Hex}/signature-{index}");
    }

    private string? Pick(ImageReference reference, Func<SignatureStorage, string?> value) =>
        ScopesOf(reference).Select(value).FirstOrDefault(v => !string.IsNullOrEmpty(v));

    private IEnumerable<SignatureStorage> ScopesOf(ImageReference reference)
    {
        foreach (var scope in ImagePolicy.Scopes(reference))
        {
            if (_docker.TryGetValue(scope, out var s))
            {
                yield return s;
            }
        }

        if (_default is not null)
        {
            yield return _default;
        }
    }

    private static SignatureStorage Storage(JsonObject o, string file)
    {
        string? Str(string key, string? old = null) =>
            (o[key] ?? (old is null ? null : o[old])) is { } v ? v.GetValueKind() == System.Text.Json.JsonValueKind.String ? v.GetValue<string>() : throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"parsing {file}: {key} must be a string") : null;
        bool? use = o["use-sigstore-attachments"] switch
        {
            null => null,
            var v when v.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => v.GetValue<bool>(),
            var v when v.GetValueKind() == System.Text.Json.JsonValueKind.String && v.GetValue<string>() is "true" or "false" => v.GetValue<string>() == "true",
            _ => throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"parsing {file}: use-sigstore-attachments must be true or false"),
        };
        return new SignatureStorage(Str("lookaside", "sigstore"), Str("lookaside-staging", "sigstore-staging"), use);
    }
}
