// Remotes in the repository config (spec: ostree-repo-format.md, section 3.2), written the way
// `ostree remote add` writes them.
namespace OstreeSharp.Repository;

/// <summary>A configured remote.</summary>
public sealed record RemoteInfo(string Name, string Url, IReadOnlyDictionary<string, string> Options)
{
    /// <summary>The remote's URL; a remote without one (a <c>custom-backend</c> remote) is refused in libostree's words.</summary>
    public string RequireUrl() => Url.Length > 0 ? Url : throw new OstreeException($"No \"url\" option in remote \"{Name}\"");
}

public sealed partial class OstreeRepo
{
    private static string RemoteGroup(string name) => $"remote \"{name}\"";

    /// <summary>Remote names in config order.</summary>
    public IReadOnlyList<string> ListRemotes() =>
        Config.Groups.Where(g => g.StartsWith("remote \"", StringComparison.Ordinal) && g.EndsWith('"')).Select(g => g[8..^1]).ToList();

    /// <summary>A remote, or null when not configured.</summary>
    public RemoteInfo? GetRemote(string name)
    {
        var g = RemoteGroup(name);
        if (!Config.HasGroup(g))
        {
            return null;
        }

        var options = Config.Keys(g).ToDictionary(k => k, k => Config.Get(g, k)!, StringComparer.Ordinal);
        return new RemoteInfo(name, options.GetValueOrDefault("url") ?? string.Empty, options);
    }

    /// <summary>A remote that must exist.</summary>
    public RemoteInfo RequireRemote(string name) => GetRemote(name) ?? throw new ObjectNotFoundException($"Remote \"{name}\" not found");

    /// <summary>
    /// Adds a remote: <c>url</c>, then <c>branches</c>, then the extra options in order, as
    /// <c>ostree remote add</c> writes them. With <paramref name="ifNotExists"/> an existing remote is left alone.
    /// </summary>
    public void AddRemote(string name, string? url, IReadOnlyList<string> branches, IEnumerable<KeyValuePair<string, string>> options, bool ifNotExists = false) =>
        AddRemote(name, url, branches, options, ifNotExists, replace: false);

    /// <summary>
    /// Adds a remote; with <paramref name="replace"/> an existing one's configuration is replaced (its refs stay). A
    /// null <paramref name="url"/> is for a remote whose content something else fetches (<c>custom-backend</c>).
    /// </summary>
    public void AddRemote(string name, string? url, IReadOnlyList<string> branches, IEnumerable<KeyValuePair<string, string>> options, bool ifNotExists, bool replace)
    {
        if (!RefFragment().IsMatch(name))
        {
            throw new OstreeFormatException($"Invalid remote name {name}");
        }

        var g = RemoteGroup(name);
        if (replace)
        {
            Config.RemoveGroup(g);
        }

        if (Config.HasGroup(g))
        {
            if (ifNotExists)
            {
                return;
            }

            throw new OstreeException($"Remote configuration for \"{name}\" already exists: (in config)");
        }

        if (url is not null)
        {
            Config.Set(g, "url", url);
        }

        if (branches.Count > 0)
        {
            Config.Set(g, "branches", string.Concat(branches.Select(b => b + ";")));
        }

        foreach (var (k, v) in options)
        {
            Config.Set(g, k, v);
        }

        SaveConfig();
    }

    /// <summary>Deletes a remote and its remote refs; false when absent and <paramref name="ifExists"/>.</summary>
    public bool DeleteRemote(string name, bool ifExists = false)
    {
        if (!Config.RemoveGroup(RemoteGroup(name)))
        {
            return ifExists ? false : throw new ObjectNotFoundException($"Remote \"{name}\" not found");
        }

        SaveConfig();
        FileUtil.DeleteAny(System.IO.Path.Combine(Path, "refs", "remotes", name));
        return true;
    }
}
