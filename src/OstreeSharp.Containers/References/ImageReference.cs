namespace OstreeSharp.Containers.References;

/// <summary>The container transports of an <see cref="ImageReference"/>.</summary>
public enum Transport
{
    /// <summary>A Docker/OCI registry (<c>registry:NAME</c> or <c>docker://NAME</c>).</summary>
    Registry,

    /// <summary>An OCI image layout directory (<c>oci:DIR[:TAG]</c>).</summary>
    OciDir,

    /// <summary>A tar of an OCI image layout (<c>oci-archive:FILE[:TAG]</c>).</summary>
    OciArchive,

    /// <summary>A <c>docker save</c> tarball (<c>docker-archive:FILE[:REF]</c>), read only.</summary>
    DockerArchive,

    /// <summary>Local containers-storage (podman); parsed, not usable.</summary>
    ContainersStorage,

    /// <summary>skopeo's <c>dir:</c> layout: one file per blob plus manifest.json.</summary>
    Dir,
}

/// <summary>A container image reference: <c>TRANSPORT:NAME</c> (ostree-container-format.md 5.1).</summary>
public sealed record ImageReference(Transport Transport, string Name)
{
    /// <summary>Parses a reference, splitting at the first ':'.</summary>
    /// <exception cref="ImageReferenceException">Missing ':', unknown transport or empty name.</exception>
    public static ImageReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            throw new ImageReferenceException($"Missing ':' in {text}");
        }

        var token = text[..colon];
        var name = text[(colon + 1)..];
        Transport transport;
        switch (token)
        {
            case "registry": transport = Transport.Registry; break;
            case "docker":
                if (!name.StartsWith("//", StringComparison.Ordinal))
                {
                    throw new ImageReferenceException($"Missing // in docker:// in {text}");
                }

                name = name[2..];
                transport = Transport.Registry;
                break;
            case "oci": transport = Transport.OciDir; break;
            case "oci-archive": transport = Transport.OciArchive; break;
            case "docker-archive": transport = Transport.DockerArchive; break;
            case "containers-storage": transport = Transport.ContainersStorage; break;
            case "dir": transport = Transport.Dir; break;
            default: throw new ImageReferenceException($"Unknown transport '{token}'");
        }

        if (name.Length == 0)
        {
            throw new ImageReferenceException($"Invalid empty name in {text}");
        }

        if (transport == Transport.Registry)
        {
            DockerReference.Parse(name); // validates
        }

        return new ImageReference(transport, name);
    }

    /// <summary>The serialisable transport token (<c>registry</c> for the registry transport).</summary>
    public string TransportToken => Transport switch
    {
        Transport.Registry => "registry",
        Transport.OciDir => "oci",
        Transport.OciArchive => "oci-archive",
        Transport.DockerArchive => "docker-archive",
        Transport.ContainersStorage => "containers-storage",
        _ => "dir",
    };

    /// <summary>For <c>oci:</c> and <c>oci-archive:</c> (and <c>docker-archive:</c>): the path, before the first ':'.</summary>
    public string Path => Transport is Transport.OciDir or Transport.OciArchive or Transport.DockerArchive && Name.IndexOf(':', StringComparison.Ordinal) is var i and >= 0 ? Name[..i] : Name;

    /// <summary>For <c>oci:</c> and <c>oci-archive:</c>: the tag after the first ':', or null.</summary>
    public string? Tag => Transport is Transport.OciDir or Transport.OciArchive or Transport.DockerArchive && Name.IndexOf(':', StringComparison.Ordinal) is var i and >= 0 && i + 1 < Name.Length ? Name[(i + 1)..] : null;

    /// <summary>For the registry transport: the parsed registry reference.</summary>
    public DockerReference Docker => Transport == Transport.Registry ? DockerReference.Parse(Name) : throw new InvalidOperationException($"{this} is not a registry reference");

    /// <summary>Canonical display: <c>docker://NAME</c> for registries, <c>TOKEN:NAME</c> otherwise.</summary>
    public override string ToString() => Transport == Transport.Registry ? "docker://" + Name : TransportToken + ":" + Name;
}
