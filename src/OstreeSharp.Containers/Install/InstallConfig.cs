// bootc's install configuration (/usr/lib/bootc/install/*.toml) and kernel arguments (/usr/lib/bootc/kargs.d/*.toml),
// read out of an image's merged commit, merged in file name order as bootc merges them.
using System.Runtime.InteropServices;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using Tomlyn;
using Tomlyn.Model;

namespace OstreeSharp.Containers.Install;

/// <summary>The <c>[install]</c> table of bootc's install configuration, merged over every fragment.</summary>
internal sealed class InstallConfig
{
    /// <summary>Where bootc looks for fragments, relative to the image root, lowest priority first.</summary>
    public static readonly string[] Bases = ["usr/lib", "usr/local/lib", "usr/etc"];

    /// <summary>The root filesystem type (<c>filesystem.root.type</c>, else <c>root-fs-type</c>).</summary>
    public string? RootFsType { get; private set; }

    /// <summary>Kernel arguments, in the order of the fragments.</summary>
    public List<string> Kargs { get; } = [];

    /// <summary>Kernel arguments to delete (<c>karg-deletes</c>).</summary>
    public List<string> KargDeletes { get; } = [];

    /// <summary>The stateroot name.</summary>
    public string? Stateroot { get; private set; }

    /// <summary>The source of the root filesystem (<c>UUID=...</c>, <c>LABEL=...</c>).</summary>
    public string? RootMountSpec { get; private set; }

    /// <summary>The source of /boot; empty means no /boot line in fstab.</summary>
    public string? BootMountSpec { get; private set; }

    /// <summary>The block setups allowed (<c>direct</c>, <c>tpm2-luks</c>).</summary>
    public List<string>? Block { get; private set; }

    /// <summary>The boot loader (<c>grub</c>, <c>systemd</c>, <c>none</c>).</summary>
    public string? Bootloader { get; private set; }

    /// <summary>What the fragments held that bootc does not know, one warning each.</summary>
    public List<string> Warnings { get; } = [];

    /// <summary>The architecture name bootc matches (<c>x86_64</c>, <c>aarch64</c>, ...).</summary>
    public static string Arch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "x86_64",
        Architecture.Arm64 => "aarch64",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "powerpc64",
        var a => a.ToString().ToLowerInvariant(),
    };

    /// <summary>Merges fragments given as (name, text), in name order; null when none applies.</summary>
    public static InstallConfig? Merge(IEnumerable<(string Name, string Text)> fragments, string arch)
    {
        InstallConfig? config = null;
        foreach (var (name, text) in fragments.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            var table = ParseToml(name, text);
            foreach (var key in table.Keys.Where(k => k != "install"))
            {
                (config ??= new InstallConfig()).Warnings.Add($"{name}: Unknown key {key}");
            }

            if (!table.TryGetValue("install", out var o) || o is not TomlTable install)
            {
                continue;
            }

            if (install.TryGetValue("match-architectures", out var m) && !StringList(name, "match-architectures", m).Contains(arch))
            {
                continue;
            }

            config ??= new InstallConfig();
            config.Apply(name, install);
        }

        return config;
    }

    private void Apply(string name, TomlTable install)
    {
        foreach (var (key, value) in install)
        {
            switch (key)
            {
                case "root-fs-type": RootFsType = Str(name, key, value); break;
                case "filesystem":
                    if (value is TomlTable fs && fs.TryGetValue("root", out var r) && r is TomlTable root && root.TryGetValue("type", out var t))
                    {
                        RootFsType = Str(name, "filesystem.root.type", t);
                    }

                    break;
                case "kargs": Kargs.AddRange(StringList(name, key, value)); break;
                case "karg-deletes": KargDeletes.AddRange(StringList(name, key, value)); break;
                case "stateroot": Stateroot = Str(name, key, value); break;
                case "root-mount-spec": RootMountSpec = Str(name, key, value); break;
                case "boot-mount-spec": BootMountSpec = Str(name, key, value); break;
                case "block": Block = StringList(name, key, value); break;
                case "bootloader": Bootloader = Str(name, key, value); break;
                case "match-architectures": break;
                case "ostree" or "bootupd": break; // options of ostree's repo and of bootupd: recorded, nothing of ours reads them
                default: Warnings.Add($"{name}: Unknown key install.{key}"); break;
            }
        }
    }

    /// <summary>Reads the fragments of an image's merged commit.</summary>
    public static InstallConfig? FromCommit(OstreeRepo repo, Commit commit) =>
        Merge(ReadFragments(repo, commit, Bases.Select(b => b + "/bootc/install")), Arch);

    /// <summary>
    /// The kernel arguments of <c>/usr/lib/bootc/kargs.d/*.toml</c> (<c>kargs</c>, and <c>match-architectures</c>), in
    /// file name order, as bootc applies them at install, upgrade and switch.
    /// </summary>
    public static List<string> KargsD(OstreeRepo repo, Commit commit) => KargsD(ReadFragments(repo, commit, ["usr/lib/bootc/kargs.d"]), Arch);

    /// <summary>The kernel arguments of kargs.d fragments given as (name, text).</summary>
    public static List<string> KargsD(IEnumerable<(string Name, string Text)> fragments, string arch)
    {
        var result = new List<string>();
        foreach (var (name, text) in fragments.OrderBy(f => f.Name, StringComparer.Ordinal))
        {
            var table = ParseToml(name, text);
            foreach (var key in table.Keys)
            {
                if (key is not ("kargs" or "match-architectures"))
                {
                    throw new ContainerException(OstreeErrorCode.InvalidData, $"{name}: unknown key {key} in a kargs.d file");
                }
            }

            // bootc requires the list even when it is empty or the file is for another architecture.
            if (!table.TryGetValue("kargs", out var k))
            {
                throw new ContainerException(OstreeErrorCode.InvalidData, $"{name}: missing key kargs in a kargs.d file");
            }

            var kargs = StringList(name, "kargs", k);
            if (table.TryGetValue("match-architectures", out var m) && !StringList(name, "match-architectures", m).Contains(arch))
            {
                continue;
            }

            result.AddRange(kargs);
        }

        return result;
    }

    private static List<(string Name, string Text)> ReadFragments(OstreeRepo repo, Commit commit, IEnumerable<string> dirs)
    {
        var byName = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in dirs)
        {
            if (TreeLookup.Find(repo, commit, dir) is not { IsFile: false } entry)
            {
                continue;
            }

            foreach (var f in repo.LoadDirTree(entry.Tree).Files.Where(f => f.Name.EndsWith(".toml", StringComparison.Ordinal)))
            {
                var content = repo.LoadContent(f.Checksum);
                if (content.Header.IsSymlink || content.Size > 1 << 20)
                {
                    continue;
                }

                // A later base overrides a fragment of the same name, as systemd's drop-in folders do.
                byName[f.Name] = System.Text.Encoding.UTF8.GetString(content.ReadAllData());
            }
        }

        return [.. byName.Select(kv => (kv.Key, kv.Value))];
    }

    private static TomlTable ParseToml(string name, string text)
    {
        try
        {
            return TomlSerializer.Deserialize(text, InstallTomlContext.Default.TomlTable) ?? new TomlTable();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Parsing {name}: {e.Message.Split('\n')[0]}", e);
        }
    }

    private static string Str(string name, string key, object? value) =>
        value as string ?? throw new ContainerException(OstreeErrorCode.InvalidData, $"{name}: {key} must be a string");

    private static List<string> StringList(string name, string key, object? value) =>
        value is TomlArray a && a.All(x => x is string) ? [.. a.Cast<string>()] : throw new ContainerException(OstreeErrorCode.InvalidData, $"{name}: {key} must be an array of strings");
}

/// <summary>Source-generated TOML metadata (no reflection: the command is compiled ahead of time).</summary>
[Tomlyn.Serialization.TomlSerializable(typeof(TomlTable))]
internal sealed partial class InstallTomlContext : Tomlyn.Serialization.TomlSerializerContext;
