// Which component (package) each path of a root tree belongs to, for packing into layers: the `user.component`
// xattr where set (rpm-ostree's convention), else the package that installed it (dpkg's database, rpm's sqlite
// database), else its folder. Package databases and logs, which change with any package, are one component marked
// as changing with every build.
using System.Globalization;
using System.IO.Compression;
using System.Text;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Containers.Rechunk;

/// <summary>The component of every path, and the components with their sizes and change frequencies.</summary>
public sealed class ComponentMap
{
    /// <summary>The component that changes with every build (package databases, logs, caches).</summary>
    public const string SystemState = "system-state";

    internal ComponentMap(Dictionary<string, string> owners, List<PackComponent> components)
    {
        Owners = owners;
        Components = components;
    }

    /// <summary>Path to component name.</summary>
    public IReadOnlyDictionary<string, string> Owners { get; }

    /// <summary>The components, by name (ordinal).</summary>
    public IReadOnlyList<PackComponent> Components { get; }

    /// <summary>How many components came from a package database.</summary>
    public int Packages { get; internal init; }

    /// <summary>The package database read (<c>dpkg</c>, <c>rpm</c>) or null.</summary>
    public string? Database { get; internal init; }
}

/// <summary>Assigns the paths of a root tree to components.</summary>
public static class Components
{
    /// <summary>The xattr naming a file's component.</summary>
    public const string ComponentXattr = "user.component";

    private const long MaxDatabaseFile = 64L * 1024 * 1024;
    private const long MaxChangelog = 16L * 1024 * 1024;

    // Paths that change with any package operation.
    private static readonly string[] StatePrefixes = ["var/lib/dpkg/", "var/lib/apt/", "var/log/", "var/cache/", "var/lib/rpm/", "usr/lib/sysimage/rpm/", "usr/share/rpm/"];
    private static readonly string[] StateFiles = ["etc/ld.so.cache"];

    /// <summary>Assigns every path of <paramref name="tree"/> to a component.</summary>
    /// <exception cref="ContainerException">A package database is malformed or too large.</exception>
    public static ComponentMap Assign(RootTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);
        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        var history = new Dictionary<string, List<DateTimeOffset>>(StringComparer.Ordinal); // component -> changelog dates

        // 1. The xattr, set by whoever built the tree.
        foreach (var e in tree.Entries)
        {
            if (e.Kind != RootEntryKind.Directory && e.GetXattr(ComponentXattr) is { Length: > 0 } v)
            {
                owners[e.Path] = Sanitize(Encoding.UTF8.GetString(v));
            }
        }

        // 2. The package database.
        int packages = 0;
        string? database = null;
        if (tree["var/lib/dpkg/status"] is { Kind: RootEntryKind.Regular } status)
        {
            database = "dpkg";
            packages = Dpkg(tree, status, owners, history);
        }
        else if (RpmDatabase.Find(tree) is { } rpmdb)
        {
            database = "rpm";
            packages = Rpm(tree, rpmdb, owners, history);
        }

        // 3. Package state; files no package lists (generated ones: an initramfs, hwdb.bin, module indexes) with the
        // package that owns the files beside them, when exactly one does; the rest by folder.
        var besideOwners = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (path, component) in owners)
        {
            var dir = Parent(path);
            besideOwners[dir] = besideOwners.TryGetValue(dir, out var other) && other != component ? null : component;
        }

        foreach (var e in tree.Entries)
        {
            if (e.Path.Length == 0 || owners.ContainsKey(e.Path))
            {
                continue;
            }

            owners[e.Path] = IsState(e.Path) ? ComponentMap.SystemState
                : e.Kind != RootEntryKind.Directory && besideOwners.GetValueOrDefault(Parent(e.Path)) is { } beside ? beside
                : Folder(e.Path);
        }

        // 4. Hard links stay together: a group goes where its first path goes.
        var groups = new Dictionary<int, string>();
        foreach (var e in tree.Entries)
        {
            if (e.LinkGroup >= 0)
            {
                if (groups.TryGetValue(e.LinkGroup, out var first))
                {
                    owners[e.Path] = first;
                }
                else
                {
                    groups[e.LinkGroup] = owners[e.Path];
                }
            }
        }

        var sizes = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var e in tree.Entries)
        {
            if (e.Path.Length > 0)
            {
                var c = owners[e.Path];
                sizes[c] = sizes.GetValueOrDefault(c) + (ulong)Math.Max(0, e.Kind == RootEntryKind.Regular ? e.Size : 0);
            }
        }

        var newest = history.Values.SelectMany(d => d).DefaultIfEmpty(DateTimeOffset.UnixEpoch).Max();
        var components = sizes.Keys.Order(StringComparer.Ordinal).Select(name =>
        {
            if (name == ComponentMap.SystemState)
            {
                return new PackComponent(name, name, name, 0, PackComponent.Always, sizes[name]);
            }

            // How often it changed: its changelog entries of the two years before the newest entry in the image
            // (dates from the image, never from this machine's clock); when it last did, in hours before that.
            var dates = history.GetValueOrDefault(name) ?? [];
            uint frequency = (uint)dates.Count(d => d > newest.AddDays(-730));
            uint offset = dates.Count == 0 ? uint.MaxValue - 1 : (uint)Math.Clamp((newest - dates.Max()).TotalHours, 0, uint.MaxValue - 1);
            return new PackComponent(name, name, name, offset, frequency, sizes[name]);
        }).ToList();
        return new ComponentMap(owners, components) { Packages = packages, Database = database };
    }

    /// <summary>The folder component of a path not owned by any package: its first two folders.</summary>
    public static string Folder(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var parts = path.Split('/');
        return "/" + string.Join('/', parts.Take(Math.Min(2, parts.Length - 1)));
    }

    private static string Parent(string path) => path.Contains('/', StringComparison.Ordinal) ? path[..path.LastIndexOf('/')] : string.Empty;

    private static bool IsState(string path) =>
        StateFiles.Contains(path, StringComparer.Ordinal) || StatePrefixes.Any(p => path.StartsWith(p, StringComparison.Ordinal) || path + "/" == p);

    // Component names are joined with ',' in the ostree.components annotation.
    internal static string Sanitize(string name) => name.Replace(',', '_').Replace('\n', '_');

    private static int Rpm(RootTree tree, RootEntry db, Dictionary<string, string> owners, Dictionary<string, List<DateTimeOffset>> history)
    {
        var packages = RpmDatabase.Read(tree, db).OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        foreach (var p in packages)
        {
            var component = Sanitize(p.Name);
            foreach (var f in p.Files)
            {
                if (tree.ResolveParents(f.TrimStart('/')) is { } canonical && tree[canonical] is { } e && e.Kind != RootEntryKind.Directory)
                {
                    owners.TryAdd(canonical, component);
                }
            }

            if (p.Changelog.Count > 0)
            {
                history[component] = [.. history.GetValueOrDefault(component) ?? [], .. p.Changelog];
            }
        }

        return packages.Select(p => p.Name).Distinct(StringComparer.Ordinal).Count();
    }

    private static int Dpkg(RootTree tree, RootEntry status, Dictionary<string, string> owners, Dictionary<string, List<DateTimeOffset>> history)
    {
        var text = ReadText(status, "var/lib/dpkg/status", MaxDatabaseFile);
        var installed = new SortedDictionary<string, List<string>>(StringComparer.Ordinal); // package -> architectures
        foreach (var stanza in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string? name = null, arch = null, state = null;
            foreach (var line in stanza.Split('\n'))
            {
                if (line.StartsWith("Package:", StringComparison.Ordinal))
                {
                    name = line[8..].Trim();
                }
                else if (line.StartsWith("Architecture:", StringComparison.Ordinal))
                {
                    arch = line[13..].Trim();
                }
                else if (line.StartsWith("Status:", StringComparison.Ordinal))
                {
                    state = line[7..].Trim();
                }
            }

            if (name is { Length: > 0 } && state is not null && state.EndsWith(" installed", StringComparison.Ordinal))
            {
                if (!installed.TryGetValue(name, out var archs))
                {
                    installed[name] = archs = [];
                }

                archs.Add(arch ?? string.Empty);
            }
        }

        // The files of var/lib/dpkg/info, by package (NAME.list, NAME:ARCH.md5sums, ...).
        var infoFiles = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var e in tree.Entries)
        {
            if (e.Path.StartsWith("var/lib/dpkg/info/", StringComparison.Ordinal) && e.Path.IndexOf('/', 18) < 0)
            {
                var file = e.Path[18..];
                int dot = file.LastIndexOf('.');
                var pkg = dot > 0 ? file[..dot] : file;
                int colon = pkg.IndexOf(':', StringComparison.Ordinal);
                pkg = colon > 0 ? pkg[..colon] : pkg;
                if (!infoFiles.TryGetValue(pkg, out var l))
                {
                    infoFiles[pkg] = l = [];
                }

                l.Add(e.Path);
            }
        }

        foreach (var (name, archs) in installed)
        {
            var component = Sanitize(name);
            foreach (var arch in archs.Distinct(StringComparer.Ordinal))
            {
                var list = tree[$"var/lib/dpkg/info/{name}:{arch}.list"] ?? tree[$"var/lib/dpkg/info/{name}.list"];
                if (list is not { Kind: RootEntryKind.Regular })
                {
                    continue;
                }

                foreach (var line in ReadText(list, list.Path, MaxDatabaseFile).Split('\n'))
                {
                    var p = line.TrimEnd('\r').TrimStart('/');
                    if (p.Length == 0 || p == ".")
                    {
                        continue;
                    }

                    var canonical = tree.ResolveParents(p);
                    if (canonical is not null && tree[canonical] is { } e && e.Kind != RootEntryKind.Directory)
                    {
                        owners.TryAdd(canonical, component);
                    }
                }
            }

            foreach (var f in infoFiles.GetValueOrDefault(name) ?? [])
            {
                owners.TryAdd(f, component);
            }

            if (tree.ResolveParents($"usr/share/doc/{name}/changelog.Debian.gz") is { } log && tree[log] is { Kind: RootEntryKind.Regular })
            {
                history[component] = ChangelogDates(tree, log);
            }
        }

        return installed.Count;
    }

    private static string ReadText(RootEntry e, string what, long limit)
    {
        if (e.Size > limit)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"{what}: {e.Size} bytes, more than a package database file may hold");
        }

        using var s = RootTree.OpenRead(e);
        using var r = new StreamReader(s, new UTF8Encoding(false, false));
        return r.ReadToEnd();
    }

    // The dates of a Debian changelog's entries (" -- Maintainer <address>  Thu, 01 Feb 2024 10:00:00 +0100").
    internal static List<DateTimeOffset> ChangelogDates(RootTree tree, string path)
    {
        var dates = new List<DateTimeOffset>();
        if (tree[path] is not { } e)
        {
            return dates;
        }

        try
        {
            using var raw = RootTree.OpenRead(e);
            using var gz = new GZipStream(raw, CompressionMode.Decompress);
            using var limited = new LimitedReadStream(gz, MaxChangelog);
            using var reader = new StreamReader(limited, new UTF8Encoding(false, false));
            while (reader.ReadLine() is { } line)
            {
                if (!line.StartsWith(" -- ", StringComparison.Ordinal))
                {
                    continue;
                }

                int gap = line.LastIndexOf("  ", StringComparison.Ordinal);
                if (gap > 0 && ParseRfc2822(line[(gap + 2)..].Trim()) is { } d)
                {
                    // Newest first: once an entry is older than the window below this file's newest (and so below the
                    // image's newest), the rest do not count.
                    if (dates.Count > 0 && d < dates[0].AddDays(-730))
                    {
                        break;
                    }

                    dates.Add(d);
                }
            }
        }
        catch (InvalidDataException)
        {
            // Not gzip: no history.
        }

        return dates;
    }

    internal static DateTimeOffset? ParseRfc2822(string text)
    {
        int sp = text.LastIndexOf(' ');
        if (sp < 0)
        {
            return null;
        }

        var zone = text[(sp + 1)..];
        if (zone.Length != 5 || (zone[0] != '+' && zone[0] != '-') || !int.TryParse(zone.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var hhmm))
        {
            return null;
        }

        var offset = new TimeSpan(hhmm / 100, hhmm % 100, 0);
        if (zone[0] == '-')
        {
            offset = -offset;
        }

        if (offset.Duration() > TimeSpan.FromHours(14))
        {
            return null;
        }

        var rest = text[..sp];
        int comma = rest.IndexOf(',', StringComparison.Ordinal);
        if (comma >= 0)
        {
            rest = rest[(comma + 1)..].Trim();
        }

        return DateTime.TryParseExact(rest, ["d MMM yyyy HH:mm:ss", "d MMM yyyy HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var local)
            ? new DateTimeOffset(local, offset)
            : null;
    }

    private sealed class LimitedReadStream(Stream inner, long limit) : Stream
    {
        private long _left = limit;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, (int)Math.Min(count, _left));
            _left -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
