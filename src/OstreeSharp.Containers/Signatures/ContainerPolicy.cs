using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Containers.Signatures;

/// <summary>How the image references of ostree-ext use containers-policy.json.</summary>
public static class ContainerPolicy
{
    /// <summary>Where the policy is read from: $XDG_CONFIG_HOME (or $HOME/.config)/containers/policy.json, else /etc/containers/policy.json.</summary>
    public static string DefaultPath(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        var home = env("HOME");
        if (home is not null)
        {
            var user = Path.Combine(env("XDG_CONFIG_HOME") is { Length: > 0 } x ? x : Path.Combine(home, ".config"), "containers", "policy.json");
            if (File.Exists(user))
            {
                return user;
            }
        }

        return "/etc/containers/policy.json";
    }

    /// <summary>
    /// What <c>ostree-image-signed:</c> needs before anything is fetched, as ostree-ext checks it: a policy whose
    /// default is not a lone <c>insecureAcceptAnything</c>. Returns the policy.
    /// </summary>
    /// <exception cref="ContainerException">The policy accepts anything, or cannot be read.</exception>
    public static ImagePolicy RequireNotAcceptAnything(string? path = null)
    {
        path ??= DefaultPath();
        if (!File.Exists(path))
        {
            throw new ContainerException(OstreeErrorCode.PolicyInvalid, $"ostree-image-signed: needs a containers policy, and {path} does not exist");
        }

        var policy = ImagePolicy.Load(path);
        return policy.DefaultAcceptsAnything
            ? throw new ContainerException(OstreeErrorCode.PolicyInvalid, "containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage")
            : policy;
    }

    /// <summary>
    /// Opens <paramref name="image"/>'s source, checked against the policy (<see cref="RegistryOptions.PolicyPath"/>,
    /// else the default file) before its layers are read, as ostree-ext's image proxy checks every image it opens.
    /// <c>ostree-image-signed:</c> also needs a policy that does not accept anything by default; for other
    /// references a missing default file means no policy (skopeo would stop there).
    /// </summary>
    public static IImageSource OpenSource(OstreeImageReference image, RegistryOptions? options)
    {
        ArgumentNullException.ThrowIfNull(image);
        ImagePolicy policy;
        if (image.Policy == SignaturePolicy.ContainerPolicy)
        {
            policy = RequireNotAcceptAnything(options?.PolicyPath);
        }
        else
        {
            var path = options?.PolicyPath ?? DefaultPath();
            if (options?.PolicyPath is null && !File.Exists(path))
            {
                return ImageTransports.OpenSource(image.Image, options);
            }

            policy = ImagePolicy.Load(path);
            if (policy.DefaultAcceptsAnything && policy.Transports.Count == 0)
            {
                return ImageTransports.OpenSource(image.Image, options);
            }
        }

        return new PolicyCheckedSource(ImageTransports.OpenSource(image.Image, options), policy, RegistriesD.Load(options?.RegistriesDirectory));
    }
}
