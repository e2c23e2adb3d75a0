using System.Text.RegularExpressions;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Containers.Signatures;

/// <summary>
/// A <c>signedIdentity</c> of containers-policy.json(5): which identity a signature may claim for the image being
/// read. <paramref name="Reference"/> is the <c>dockerReference</c>, <c>dockerRepository</c> or remap <c>prefix</c>;
/// <paramref name="SignedPrefix"/> the remap's <c>signedPrefix</c>.
/// </summary>
internal sealed partial record IdentityRule(string Type, string? Reference, string? SignedPrefix)
{
    /// <summary>The default: the same repository when the image is read by digest, else the same repository and tag.</summary>
    public static readonly IdentityRule MatchRepoDigestOrExact = new("matchRepoDigestOrExact", null, null);

    /// <summary>
    /// Whether a signature claiming <paramref name="signed"/> is accepted for an image read as
    /// <paramref name="intended"/> (null for transports without a registry identity: only the rules that name
    /// their own reference can match then).
    /// </summary>
    public bool Matches(DockerReference? intended, string signed)
    {
        DockerReference s;
        try
        {
            s = DockerReference.Parse(signed);
        }
        catch (ImageReferenceException)
        {
            return false;
        }

        switch (Type)
        {
            case "matchExact":
                return intended is not null && HasTagOrDigest(intended) && HasTagOrDigest(s) && Full(s) == Full(intended);
            case "matchRepoDigestOrExact":
                return intended is not null && RepoDigestOrExact(intended, s);
            case "matchRepository":
                return intended is not null && s.Repository == intended.Repository;
            case "exactReference":
                {
                    var r = DockerReference.Parse(Reference!);
                    return HasTagOrDigest(s) && Full(s) == Full(r);
                }

            case "exactRepository":
                return s.Repository == DockerReference.Parse(Reference!).Repository;
            case "remapIdentity":
                {
                    if (intended is null)
                    {
                        return false;
                    }

                    var name = intended.Repository;
                    var prefix = Reference!;
                    if (name == prefix || (name.StartsWith(prefix, StringComparison.Ordinal) && name[prefix.Length] == '/'))
                    {
                        try
                        {
                            intended = DockerReference.Parse(SignedPrefix + Full(intended)[prefix.Length..]);
                        }
                        catch (ImageReferenceException)
                        {
                            return false;
                        }
                    }

                    return RepoDigestOrExact(intended, s);
                }

            default:
                return false;
        }
    }

    /// <summary>Checks a remap prefix as containers/image does: a host, a host/path or a host/path namespace, or <c>*.DOMAIN</c>.</summary>
    internal static void ValidatePrefix(string prefix)
    {
        if (!PrefixRegex().IsMatch(prefix))
        {
            throw new InvalidPolicyException($"prefix \"{prefix}\" is not valid");
        }
    }

    private static bool RepoDigestOrExact(DockerReference intended, DockerReference signed)
    {
        if (!HasTagOrDigest(signed))
        {
            return false;
        }

        // A tag (with or without a digest) must match exactly; a digest alone only needs the same repository.
        if (intended.Tag is not null)
        {
            return Full(signed) == Full(intended);
        }

        return intended.Digest is not null && signed.Repository == intended.Repository;
    }

    private static bool HasTagOrDigest(DockerReference r) => r.Tag is not null || r.Digest is not null;

    private static string Full(DockerReference r) => r.ToString();

    [GeneratedRegex(@"^(?:\*\.)?[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._/-]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex PrefixRegex();
}
