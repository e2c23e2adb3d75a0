namespace OstreeSharp.Containers.References;

/// <summary>How an image pulled into ostree is verified.</summary>
public enum SignaturePolicy
{
    /// <summary><c>ostree-unverified-*</c>: nothing beyond containers-policy.json.</summary>
    AllowInsecure,

    /// <summary><c>ostree-image-signed:</c>: containers-policy.json must not default to insecureAcceptAnything.</summary>
    ContainerPolicy,

    /// <summary><c>ostree-remote-*:REMOTE:</c>: the commit is verified with an ostree remote's keys.</summary>
    OstreeRemote,
}

/// <summary>
/// A signature policy plus a container image reference, e.g. <c>ostree-remote-registry:fedora:quay.io/fedora/coreos</c>
/// (ostree-container-format.md 5.2).
/// </summary>
public sealed record OstreeImageReference(SignaturePolicy Policy, string? Remote, ImageReference Image)
{
    /// <summary>
    /// Parses <paramref name="text"/> when its scheme is one of the ostree image reference schemes; false for anything
    /// else (a ref, a remote:ref). A malformed reference with an ostree scheme still throws.
    /// </summary>
    public static bool TryParse(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out OstreeImageReference? reference)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        var scheme = colon < 0 ? text : text[..colon];
        reference = scheme is "ostree-unverified-image" or "ostree-unverified-registry" or "ostree-image-signed" or "ostree-remote-image" or "ostree-remote-registry"
            ? Parse(text) : null;
        return reference is not null;
    }

    /// <summary>Parses one of the five ostree image reference forms.</summary>
    /// <exception cref="ImageReferenceException">Not one of them.</exception>
    public static OstreeImageReference Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            throw new ImageReferenceException($"Missing ':' in {text}");
        }

        var scheme = text[..colon];
        var rest = text[(colon + 1)..];
        switch (scheme)
        {
            case "ostree-unverified-image":
                return new(SignaturePolicy.AllowInsecure, null, ImageReference.Parse(rest));
            case "ostree-unverified-registry":
                return new(SignaturePolicy.AllowInsecure, null, ImageReference.Parse("registry:" + rest));
            case "ostree-image-signed":
                return new(SignaturePolicy.ContainerPolicy, null, ImageReference.Parse(rest));
            case "ostree-remote-image":
            case "ostree-remote-registry":
                int second = rest.IndexOf(':', StringComparison.Ordinal);
                if (second < 0)
                {
                    throw new ImageReferenceException($"Missing second ':' in {text}");
                }

                var remote = rest[..second];
                var image = rest[(second + 1)..];
                return new(SignaturePolicy.OstreeRemote, remote, ImageReference.Parse(scheme == "ostree-remote-image" ? image : "registry:" + image));
            default:
                throw new ImageReferenceException($"Invalid ostree image reference scheme: {scheme}");
        }
    }

    /// <summary>The canonical display, which parses back to an equal reference.</summary>
    public override string ToString() => Policy switch
    {
        SignaturePolicy.AllowInsecure when Image.Transport == Transport.Registry => "ostree-unverified-registry:" + Image.Name,
        SignaturePolicy.AllowInsecure => "ostree-unverified-image:" + Image,
        SignaturePolicy.ContainerPolicy => "ostree-image-signed:" + Image,
        _ => "ostree-remote-image:" + Remote + ":" + Image,
    };

    /// <summary>The "alternate" display: only the image reference for the insecure registry case.</summary>
    public string ToAlternateString() => Policy == SignaturePolicy.AllowInsecure && Image.Transport == Transport.Registry ? Image.ToString() : ToString();
}
