using OstreeSharp.Containers.References;
using Tomlyn;
using Tomlyn.Model;

namespace OstreeSharp.Containers.Registry;

/// <summary>Where an image may be pulled from: a mirror or the registry itself, with the reference rewritten for it.</summary>
public sealed record PullSource(DockerReference Reference, bool Insecure, bool IsMirror);

/// <summary>A mirror of a <c>[[registry]]</c>: its location, whether it is insecure, and which pulls use it.</summary>
public sealed record RegistryMirror(string Location, bool Insecure, string PullFromMirror);

/// <summary>A <c>[[registry]]</c> entry of registries.conf(5) v2.</summary>
public sealed record RegistryEntry(string Prefix, string Location, bool Insecure, bool Blocked, bool MirrorByDigestOnly, IReadOnlyList<RegistryMirror> Mirrors);

/// <summary>
/// registries.conf(5) version 2 with its registries.conf.d drop-ins, as containers/image reads them: per registry
/// prefix, the location to pull from instead, mirrors tried first (all pulls, <c>digest-only</c> or
/// <c>tag-only</c>), <c>insecure</c> (plain HTTP or unverified TLS) and <c>blocked</c>. Registry references
/// (<c>docker://</c>) are always fully qualified, so unqualified-search-registries, aliases and short-name-mode are
/// read and checked but, as in skopeo, never consulted.
/// </summary>
public sealed class RegistriesConf
{
    private const int MaxBytes = 1 << 20;

    private readonly List<RegistryEntry> _registries = [];

    /// <summary>A configuration with no entries: every reference is pulled from where it names.</summary>
    public static RegistriesConf Empty { get; } = new();

    /// <summary>The files read, main file first.</summary>
    public IReadOnlyList<string> Sources { get; private set; } = [];

    /// <summary>The <c>[[registry]]</c> entries (a drop-in's entry replaces an earlier one with the same prefix).</summary>
    public IReadOnlyList<RegistryEntry> Registries => _registries;

    /// <summary><c>unqualified-search-registries</c>.</summary>
    public IReadOnlyList<string> UnqualifiedSearchRegistries { get; private set; } = [];

    /// <summary>
    /// Reads the configuration as containers/image finds it: the main file is <paramref name="path"/> (skopeo's
    /// <c>--registries-conf</c>) when given, else <c>$HOME/.config/containers/registries.conf</c> when it exists
    /// (with only the drop-ins of <c>$HOME/.config/containers/registries.conf.d</c>), else
    /// <c>/etc/containers/registries.conf</c>; then the <c>*.conf</c> drop-ins of
    /// <c>/etc/containers/registries.conf.d</c> and of the user's folder, each in name order.
    /// </summary>
    /// <exception cref="ContainerException">A file cannot be read or is malformed.</exception>
    public static RegistriesConf Load(string? path = null, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        var conf = new RegistriesConf();
        var files = new List<string>();
        var home = env("HOME");
        var user = home is null ? null : Path.Combine(home, ".config/containers/registries.conf");
        var userDir = home is null ? null : Path.Combine(home, ".config/containers/registries.conf.d");
        if (path is null && user is not null && File.Exists(user))
        {
            files.Add(user);
            AddDropIns(files, userDir);
        }
        else
        {
            files.Add(path ?? "/etc/containers/registries.conf");
            AddDropIns(files, "/etc/containers/registries.conf.d");
            AddDropIns(files, userDir);
        }

        foreach (var f in files)
        {
            if (path is null && f == files[0] && !File.Exists(f))
            {
                continue; // no main file is an empty configuration
            }

            conf.Merge(f, Read(f));
        }

        conf.Sources = files;
        return conf;
    }

    /// <summary>Parses one file's text (tests and callers with their own files).</summary>
    /// <exception cref="ContainerException">Malformed.</exception>
    public static RegistriesConf Parse(string text, string name)
    {
        var conf = new RegistriesConf();
        conf.Merge(name, Toml(text, name));
        conf.Sources = [name];
        return conf;
    }

    /// <summary>The entry whose prefix matches <paramref name="name"/> (<c>HOST/PATH</c>) longest, or null.</summary>
    public RegistryEntry? Find(string name)
    {
        RegistryEntry? best = null;
        foreach (var r in _registries)
        {
            if (MatchLength(name, r.Prefix) >= 0 && (best is null || r.Prefix.Length > best.Prefix.Length))
            {
                best = r;
            }
        }

        return best;
    }

    /// <summary>
    /// Where <paramref name="reference"/> is pulled from, in order: the mirrors that serve this kind of pull, then
    /// the registry (its location). A blocked registry is refused.
    /// </summary>
    /// <exception cref="RegistryException">The registry is blocked, or a rewritten reference is invalid.</exception>
    public IReadOnlyList<PullSource> PullSources(DockerReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var entry = Find(reference.Repository);
        if (entry is null)
        {
            return [new PullSource(reference, false, false)];
        }

        if (entry.Blocked)
        {
            throw new RegistryException(OstreeErrorCode.RegistryConfigInvalid, $"registry {entry.Prefix} is blocked in {string.Join(" or ", Sources)}", 0, false);
        }

        bool digested = reference.Digest is not null;
        var sources = new List<PullSource>();
        foreach (var m in entry.Mirrors)
        {
            bool use = entry.MirrorByDigestOnly ? digested : m.PullFromMirror switch
            {
                "digest-only" => digested,
                "tag-only" => !digested,
                _ => true,
            };
            if (use)
            {
                sources.Add(new PullSource(Rewrite(reference, entry.Prefix, m.Location), m.Insecure || Find(m.Location)?.Insecure == true, true));
            }
        }

        sources.Add(new PullSource(entry.Location.Length == 0 ? reference : Rewrite(reference, entry.Prefix, entry.Location), entry.Insecure, false));
        return sources;
    }

    /// <summary>Whether pulls from <paramref name="reference"/>'s registry may use plain HTTP or unverified TLS.</summary>
    public bool IsInsecure(DockerReference reference) => Find(reference.Repository)?.Insecure == true;

    // How much of REF (HOST/PATH[:TAG][@DIGEST]) PREFIX matches, as containers/image matches it; -1 for no match.
    internal static int MatchLength(string reference, string prefix)
    {
        if (prefix.StartsWith("*.", StringComparison.Ordinal))
        {
            var suffix = prefix[1..];
            int i = reference.IndexOf(suffix, StringComparison.Ordinal);
            if (i < 0 || reference.AsSpan(0, i).Contains('/'))
            {
                return -1;
            }

            i += suffix.Length;
            return i == reference.Length || reference[i] is ':' or '/' or '@' ? i : -1;
        }

        if (reference.Length < prefix.Length || !reference.StartsWith(prefix, StringComparison.Ordinal))
        {
            return -1;
        }

        return reference.Length == prefix.Length || reference[prefix.Length] is ':' or '/' or '@' ? prefix.Length : -1;
    }

    private static DockerReference Rewrite(DockerReference reference, string prefix, string location)
    {
        var text = reference.ToString();
        int n = MatchLength(text, prefix);
        if (n < 0)
        {
            throw new RegistryException(OstreeErrorCode.RegistryConfigInvalid, $"invalid prefix '{prefix}' for reference '{text}'", 0, false);
        }

        try
        {
            return DockerReference.Parse(location + text[n..]);
        }
        catch (ImageReferenceException e)
        {
            throw new RegistryException(OstreeErrorCode.RegistryConfigInvalid, $"rewriting reference {text} with location {location}: {e.Message}", 0, false);
        }
    }

    private static void AddDropIns(List<string> files, string? dir)
    {
        if (dir is not null && Directory.Exists(dir))
        {
            files.AddRange(Directory.GetFiles(dir, "*.conf").Order(StringComparer.Ordinal));
        }
    }

    private static TomlTable Read(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxBytes)
            {
                throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"loading registries configuration \"{path}\": over {MaxBytes} bytes");
            }

            return Toml(File.ReadAllText(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"loading registries configuration \"{path}\": {e.Message}");
        }
    }

    private static TomlTable Toml(string text, string name)
    {
        try
        {
            return TomlSerializer.Deserialize(text, RegistriesTomlContext.Default.TomlTable) ?? new TomlTable();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"loading registries configuration \"{name}\": {e.Message.Split('\n')[0]}");
        }
    }

    private void Merge(string name, TomlTable table)
    {
        ContainerException Bad(string message) => new($"loading registries configuration \"{name}\": {message}");
        foreach (var (key, value) in table)
        {
            switch (key)
            {
                case "registry":
                    {
                        if (value is not TomlTableArray entries)
                        {
                            throw Bad("registry must be an array of tables ([[registry]])");
                        }

                        foreach (var t in entries)
                        {
                            var entry = Entry(t, Bad);
                            _registries.RemoveAll(r => r.Prefix == entry.Prefix);
                            _registries.Add(entry);
                        }

                        break;
                    }

                case "unqualified-search-registries":
                    UnqualifiedSearchRegistries = value is TomlArray a && a.All(x => x is string) ? [.. a.Cast<string>()] : throw Bad("unqualified-search-registries must be an array of strings");
                    break;
                case "short-name-mode":
                    if (value is not ("enforcing" or "permissive" or "disabled"))
                    {
                        throw Bad($"invalid short-name mode: \"{value}\"");
                    }

                    break;
                case "aliases":
                    if (value is not TomlTable aliases || aliases.Values.Any(v => v is not string))
                    {
                        throw Bad("aliases must be a table of strings");
                    }

                    break;
                case "credential-helpers" or "additional-layer-store-auth-helper":
                    break; // credentials are found through auth files here
                case "registries":
                    throw Bad("the version 1 format ([registries.search], [registries.insecure], [registries.block]) is not supported; use [[registry]] entries");
                default:
                    throw Bad($"unknown key \"{key}\"");
            }
        }
    }

    private static RegistryEntry Entry(TomlTable t, Func<string, ContainerException> bad)
    {
        string Str(TomlTable table, string key) => !table.TryGetValue(key, out var v) ? string.Empty : v as string ?? throw bad($"{key} must be a string");
        bool Bool(TomlTable table, string key) => table.TryGetValue(key, out var v) && (v as bool? ?? throw bad($"{key} must be true or false"));
        foreach (var k in t.Keys)
        {
            if (k is not ("prefix" or "location" or "insecure" or "blocked" or "mirror-by-digest-only" or "mirror" or "pull-from-mirror"))
            {
                throw bad($"unknown key \"{k}\" in [[registry]]");
            }
        }

        var location = Location(Str(t, "location"));
        var prefix = Location(Str(t, "prefix"));
        if (prefix.Length == 0)
        {
            prefix = location.Length > 0 ? location : throw bad("invalid condition: both location and prefix are unset");
        }
        else if (!prefix.StartsWith("*.", StringComparison.Ordinal) && location.Length == 0)
        {
            throw bad("invalid condition: location is unset and prefix is not in the format: *.example.com");
        }

        if (t.ContainsKey("pull-from-mirror"))
        {
            throw bad($"pull-from-mirror must not be set for a non-mirror registry \"{prefix}\"");
        }

        bool byDigest = Bool(t, "mirror-by-digest-only");
        var mirrors = new List<RegistryMirror>();
        if (t.TryGetValue("mirror", out var mv))
        {
            if (mv is not TomlTableArray mt)
            {
                throw bad("mirror must be an array of tables ([[registry.mirror]])");
            }

            foreach (var m in mt)
            {
                foreach (var k in m.Keys)
                {
                    if (k is not ("location" or "insecure" or "pull-from-mirror"))
                    {
                        throw bad($"unknown key \"{k}\" in [[registry.mirror]]");
                    }
                }

                var ml = Location(Str(m, "location"));
                if (ml.Length == 0)
                {
                    throw bad("invalid condition: mirror location is unset");
                }

                var pull = Str(m, "pull-from-mirror");
                if (byDigest && pull.Length > 0)
                {
                    throw bad($"cannot set mirror usage mirror-by-digest-only for the registry (\"{prefix}\") and pull-from-mirror for per-mirror (\"{ml}\") at the same time");
                }

                if (pull is not ("" or "all" or "digest-only" or "tag-only"))
                {
                    throw bad($"unsupported pull-from-mirror value \"{pull}\" for mirror \"{ml}\"");
                }

                mirrors.Add(new RegistryMirror(ml, Bool(m, "insecure"), pull.Length == 0 ? "all" : pull));
            }
        }

        return new RegistryEntry(prefix, location, Bool(t, "insecure"), Bool(t, "blocked"), byDigest, mirrors);
    }

    // containers/image's parseLocation: trimmed, no trailing slash, no scheme.
    private static string Location(string input)
    {
        var s = input.Trim().TrimEnd('/');
        if (s.StartsWith("http://", StringComparison.Ordinal) || s.StartsWith("https://", StringComparison.Ordinal))
        {
            throw new ContainerException(OstreeErrorCode.RegistryConfigInvalid, $"invalid location '{input}': URI schemes are not supported");
        }

        return s;
    }
}

/// <summary>Source-generated TOML metadata for registries.conf.</summary>
[Tomlyn.Serialization.TomlSerializable(typeof(TomlTable))]
internal sealed partial class RegistriesTomlContext : Tomlyn.Serialization.TomlSerializerContext;
