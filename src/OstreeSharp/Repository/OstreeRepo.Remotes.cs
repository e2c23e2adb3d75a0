// Remotes in the repository config (spec: ostree-repo-format.md, section 3.2), written the way
// `ostree remote add` writes them.
using OstreeSharp.Internal;

namespace OstreeSharp.Repository;

/// <summary>A configured remote.</summary>
public sealed record RemoteInfo(string Name, string Url, IReadOnlyDictionary<string, string> Options)
{
    /// <summary>The remote's URL; a remote without one (a <c>custom-backend</c> remote) is refused in libostree's words.</summary>
    public string RequireUrl() => Url.Length > 0 ? Url : throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"No \"url\" option in remote \"{Name}\"");

    /// <summary>The collection the remote serves (its <c>collection-id</c> option), or null.</summary>
    public string? CollectionId => Options.GetValueOrDefault("collection-id") is { Length: > 0 } id ? id : null;
}

/// <summary>What <see cref="OstreeRepo.AddRemote"/> does when the remote exists already.</summary>
public enum RemoteExists
{
    /// <summary>Fail, naming the file that configures it.</summary>
    Fail,

    /// <summary>Leave it as it is (<c>ostree remote add --if-not-exists</c>).</summary>
    Keep,

    /// <summary>Replace its configuration; its refs stay (<c>ostree remote add --force</c>).</summary>
    Replace,
}

public sealed partial class OstreeRepo
{
    private static string RemoteGroup(string name) => $"remote \"{name}\"";

    /// <summary>Remote names: the repository config's in order, then those of the remotes config folder, then the parent repository's.</summary>
    public IReadOnlyList<string> ListRemotes() =>
        ConfigRemoteNames(Config).Concat(RemoteFiles().Select(f => f.Name)).Concat(Parent?.ListRemotes() ?? [])
            .Distinct(StringComparer.Ordinal).ToList();

    /// <summary>A remote (this repository's, else its parent's), or null when not configured.</summary>
    /// <exception cref="OstreeException">The remote is defined twice (the repository config and a remotes file, or two files).</exception>
    public RemoteInfo? GetRemote(string name)
    {
        var g = RemoteGroup(name);
        var sources = new List<KeyFile>();
        if (Config.HasGroup(g))
        {
            sources.Add(Config);
        }

        sources.AddRange(RemoteFiles().Where(f => f.Name == name).Select(f => f.File));
        if (sources.Count > 1)
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Multiple specifications found for remote \"{name}\"");
        }

        if (sources.Count == 0)
        {
            return Parent?.GetRemote(name);
        }

        var kf = sources[0];
        var options = kf.Keys(g).ToDictionary(k => k, k => kf.Get(g, k)!, StringComparer.Ordinal);
        return new RemoteInfo(name, options.GetValueOrDefault("url") ?? string.Empty, options);
    }

    private static IEnumerable<string> ConfigRemoteNames(KeyFile kf) =>
        kf.Groups.Where(g => g.StartsWith("remote \"", StringComparison.Ordinal) && g.EndsWith('"')).Select(g => g[8..^1]);

    // The remotes of RemotesConfigDir/*.conf, files in name order, as libostree reads them.
    private List<(string Name, string Path, KeyFile File)> RemoteFiles()
    {
        var found = new List<(string, string, KeyFile)>();
        if (RemotesConfigDir is not { } dir || !Directory.Exists(dir))
        {
            return found;
        }

        foreach (var file in Directory.EnumerateFiles(dir, "*.conf").Order(StringComparer.Ordinal))
        {
            var kf = KeyFile.Parse(File.ReadAllText(file), file);
            foreach (var name in ConfigRemoteNames(kf))
            {
                found.Add((name, file, kf));
            }
        }

        return found;
    }

    // libostree's add-remotes-config-dir: on by default for a system repository that has such a folder.
    private bool AddsToRemotesConfigDir => RemotesConfigDir is not null && Config.GetBoolean("core", "add-remotes-config-dir", IsSystem);

    /// <summary>A remote that must exist.</summary>
    public RemoteInfo RequireRemote(string name) => GetRemote(name) ?? throw new ObjectNotFoundException(OstreeErrorCode.RemoteNotFound, $"Remote \"{name}\" not found");

    /// <summary>
    /// Adds a remote: <c>url</c>, then <c>branches</c>, then the extra options in order, as <c>ostree remote add</c>
    /// writes them. <paramref name="ifExists"/> says what happens when the remote exists: an error (the default), it
    /// is left alone (<c>--if-not-exists</c>), or its configuration is replaced and its refs stay (<c>--force</c>). A
    /// null <paramref name="url"/> is for a remote whose content something else fetches (<c>custom-backend</c>).
    /// </summary>
    public void AddRemote(string name, string? url, IReadOnlyList<string> branches, IEnumerable<KeyValuePair<string, string>> options, RemoteExists ifExists = RemoteExists.Fail)
    {
        bool ifNotExists = ifExists == RemoteExists.Keep, replace = ifExists == RemoteExists.Replace;
        if (!RefFragment().IsMatch(name))
        {
            throw new OstreeFormatException(OstreeErrorCode.InvalidArgument, $"Invalid remote name {name}");
        }

        var g = RemoteGroup(name);
        if (replace && GetRemote(name) is not null)
        {
            DeleteRemoteConfig(name);
        }

        if (GetRemote(name) is not null)
        {
            if (ifNotExists)
            {
                return;
            }

            var where = RemoteFiles().FirstOrDefault(f => f.Name == name).Path ?? "config";
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Remote configuration for \"{name}\" already exists: (in {where})");
        }

        // A system repository's new remote gets its own file in the remotes folder, as libostree writes it.
        var target = AddsToRemotesConfigDir ? new KeyFile() : Config;
        if (url is not null)
        {
            target.Set(g, "url", url);
        }

        if (branches.Count > 0)
        {
            target.Set(g, "branches", string.Concat(branches.Select(b => b + ";")));
        }

        foreach (var (k, v) in options)
        {
            target.Set(g, k, v);
        }

        if (target == Config)
        {
            SaveConfig();
        }
        else
        {
            Directory.CreateDirectory(RemotesConfigDir!);
            FileUtil.WriteAtomic(System.IO.Path.Combine(RemotesConfigDir!, name + ".conf"), System.Text.Encoding.UTF8.GetBytes(target.ToString()), Fsync);
        }
    }

    // Removes a remote's configuration: its group in config, or the remotes file that defines it (as libostree
    // removes the whole file).
    private bool DeleteRemoteConfig(string name)
    {
        if (Config.RemoveGroup(RemoteGroup(name)))
        {
            SaveConfig();
            return true;
        }

        if (RemoteFiles().FirstOrDefault(f => f.Name == name).Path is { } file)
        {
            File.Delete(file);
            return true;
        }

        return false;
    }

    /// <summary>Deletes a remote and its remote refs; false when absent and <paramref name="ifExists"/>.</summary>
    public bool DeleteRemote(string name, bool ifExists = false)
    {
        if (!DeleteRemoteConfig(name))
        {
            return ifExists ? false : throw new ObjectNotFoundException(OstreeErrorCode.RemoteNotFound, $"Remote \"{name}\" not found");
        }

        FileUtil.DeleteAny(System.IO.Path.Combine(Path, "refs", "remotes", name));

        // As libostree: the remote's keyring goes with it.
        File.Delete(System.IO.Path.Combine(Path, name + ".trustedkeys.gpg"));
        return true;
    }
}
