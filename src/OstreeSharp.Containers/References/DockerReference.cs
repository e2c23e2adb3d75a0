using System.Text.RegularExpressions;

namespace OstreeSharp.Containers.References;

/// <summary>
/// A registry image name, <c>[DOMAIN/]PATH[:TAG][@DIGEST]</c>, normalised as the Docker tools do:
/// no domain means docker.io, and a one-component path on docker.io gets <c>library/</c>.
/// </summary>
public sealed partial record DockerReference(string Domain, string Path, string? Tag, string? Digest)
{
    /// <summary>The default registry.</summary>
    public const string DockerHub = "docker.io";

    /// <summary>Parses and normalises a name.</summary>
    /// <exception cref="ImageReferenceException">Not a valid image name.</exception>
    public static DockerReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var m = ReferenceRegex().Match(text);
        if (!m.Success)
        {
            throw new ImageReferenceException($"Invalid image name '{text}'");
        }

        var name = m.Groups["name"].Value;
        if (name.Length > 255)
        {
            throw new ImageReferenceException($"Image name '{text}' is longer than 255 characters");
        }

        string domain, path;
        int slash = name.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? string.Empty : name[..slash];
        if (slash >= 0 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" || first.Any(char.IsUpper)))
        {
            domain = first;
            path = name[(slash + 1)..];
        }
        else
        {
            domain = DockerHub;
            path = name;
        }

        if (domain == "index.docker.io")
        {
            domain = DockerHub;
        }

        if (!PathRegex().IsMatch(path))
        {
            throw new ImageReferenceException($"Invalid repository path '{path}' in '{text}': lower-case letters, digits and separators only");
        }

        if (domain == DockerHub && !path.Contains('/', StringComparison.Ordinal))
        {
            path = "library/" + path;
        }

        var tag = m.Groups["tag"].Success ? m.Groups["tag"].Value : null;
        var digest = m.Groups["digest"].Success ? m.Groups["digest"].Value : null;
        if (digest is not null && !Oci.Digest.TryParse(digest, out _))
        {
            throw new ImageReferenceException($"Invalid digest '{digest}' in '{text}'");
        }

        return new DockerReference(domain, path, tag, digest);
    }

    /// <summary><c>DOMAIN/PATH</c>.</summary>
    public string Repository => Domain + "/" + Path;

    /// <summary>The host (and port) to talk to: docker.io is served by registry-1.docker.io.</summary>
    public string RegistryHost => Domain == DockerHub ? "registry-1.docker.io" : Domain;

    /// <summary>What to ask the registry for: the digest when there is one, else the tag, else "latest".</summary>
    public string ManifestReference => Digest ?? Tag ?? "latest";

    /// <summary>The same repository with another tag (and no digest).</summary>
    public DockerReference WithTag(string tag) => this with { Tag = tag, Digest = null };

    /// <summary>The full normalised form.</summary>
    public override string ToString() => Repository + (Tag is null ? string.Empty : ":" + Tag) + (Digest is null ? string.Empty : "@" + Digest);

    [GeneratedRegex(@"^(?<name>(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@(?<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$", RegexOptions.CultureInvariant)]
    private static partial Regex ReferenceRegex();

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$", RegexOptions.CultureInvariant)]
    private static partial Regex PathRegex();
}
