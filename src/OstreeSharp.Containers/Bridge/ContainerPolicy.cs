using System.Text.Json;

namespace OstreeSharp.Containers.Bridge;

/// <summary>The part of containers-policy.json(5) that <c>ostree-image-signed:</c> depends on.</summary>
public static class ContainerPolicy
{
    /// <summary>Where the policy is read from: $HOME/.config/containers/policy.json, else /etc/containers/policy.json.</summary>
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
    /// Refuses a policy whose default is a lone <c>insecureAcceptAnything</c> (spec 4.3 step 1); a missing file is
    /// an error too.
    /// </summary>
    /// <exception cref="ContainerException">The policy accepts anything, or cannot be read.</exception>
    public static void RequireNotAcceptAnything(string? path = null)
    {
        path ??= DefaultPath();
        if (!File.Exists(path))
        {
            throw new ContainerException($"ostree-image-signed: needs a containers policy, and {path} does not exist");
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.TryGetProperty("default", out var def) && def.ValueKind == JsonValueKind.Array && def.GetArrayLength() == 1
                && def[0].TryGetProperty("type", out var type) && type.GetString() == "insecureAcceptAnything")
            {
                throw new ContainerException("containers-policy.json specifies a default of `insecureAcceptAnything`; refusing usage");
            }
        }
        catch (JsonException e)
        {
            throw new ContainerException($"Malformed containers policy {path}: {e.Message}");
        }
    }
}
