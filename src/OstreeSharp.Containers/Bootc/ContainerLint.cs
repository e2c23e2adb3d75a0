// bootc's `container lint` (bootc 1.16, crates/lib/src/lints.rs): inexpensive checks of an image's root
// filesystem, run at the end of a container build. The checks, their names, kinds, messages and the order
// their results come in are bootc's; the descriptions are ours.
using System.Text;
using OstreeSharp.Containers.Install;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Containers.Bootc;

/// <summary>How bad a lint's failure is.</summary>
public enum LintType
{
    /// <summary>The image will not install, or is all but certain to break at run time.</summary>
    Fatal,

    /// <summary>Something that is likely a mistake.</summary>
    Warning,
}

/// <summary>Which root a lint looks at.</summary>
public enum LintRootType
{
    /// <summary>The root the command runs in (<c>--rootfs /</c>, as in a container build's <c>RUN</c>).</summary>
    Running,

    /// <summary>Another root filesystem, given by path.</summary>
    Alternative,
}

/// <summary>One lint: its name (for <c>--skip</c>), kind, description, and the only root type it runs on, if any.</summary>
public sealed record LintDefinition(string Name, LintType Type, string Description, LintRootType? RootType)
{
    /// <summary>A lint that walks the whole tree (bootc runs those after the others).</summary>
    internal bool Recursive { get; init; }

    internal Func<LintRoot, CancellationToken, LintOutcome> Check { get; init; } = (_, _) => LintOutcome.Ok;
}

/// <summary>What running a lint gave.</summary>
public enum LintStatus
{
    /// <summary>The check passed.</summary>
    Passed,

    /// <summary>The check found a problem: fatal or a warning, after the lint's <see cref="LintDefinition.Type"/>.</summary>
    Failed,

    /// <summary>
    /// The check could not be completed (an unreadable or malformed file, two kernels): bootc stops there with
    /// "Unexpected runtime error running lint NAME: MESSAGE" and does not print the counts.
    /// </summary>
    Error,
}

/// <summary>A titled list of entries in a lint's message (files, users, tmpfiles.d lines).</summary>
public sealed record LintSection(string Header, IReadOnlyList<string> Entries);

/// <summary>The result of one lint.</summary>
public sealed record LintResult(LintDefinition Lint, LintStatus Status, string? Message, IReadOnlyList<LintSection> Sections)
{
    /// <summary>A fatal failure.</summary>
    public bool IsFatal => Status == LintStatus.Failed && Lint.Type == LintType.Fatal;

    /// <summary>A warning.</summary>
    public bool IsWarning => Status == LintStatus.Failed && Lint.Type == LintType.Warning;

    /// <summary>The message as bootc prints it: the one-line message, or each non-empty section as a header
    /// line and its entries indented by two blanks, at most five of them unless <paramref name="noTruncate"/>,
    /// then "...and N more".</summary>
    public string Describe(bool noTruncate)
    {
        if (Message is not null)
        {
            return Message;
        }

        var sb = new StringBuilder();
        foreach (var s in Sections.Where(s => s.Entries.Count > 0))
        {
            sb.Append(s.Header).Append(":\n");
            int shown = noTruncate ? s.Entries.Count : Math.Min(s.Entries.Count, ContainerLint.TruncatedEntries);
            foreach (var e in s.Entries.Take(shown))
            {
                sb.Append("  ").Append(e).Append('\n');
            }

            if (shown < s.Entries.Count)
            {
                sb.Append("  ...and ").Append(s.Entries.Count - shown).Append(" more\n");
            }
        }

        return sb.ToString();
    }
}

/// <summary>The results of a lint run, in bootc's order, and how many lints were not run.</summary>
public sealed record LintReport(IReadOnlyList<LintResult> Results, int Skipped)
{
    /// <summary>Lints that passed.</summary>
    public int Passed => Results.Count(r => r.Status == LintStatus.Passed);

    /// <summary>Lints that failed as warnings.</summary>
    public int Warnings => Results.Count(r => r.IsWarning);

    /// <summary>Lints that failed fatally.</summary>
    public int Fatal => Results.Count(r => r.IsFatal);

    /// <summary>The first lint that could not be completed, if any.</summary>
    public LintResult? FirstError => Results.FirstOrDefault(r => r.Status == LintStatus.Error);

    /// <summary>
    /// Writes the report as bootc prints it: "Failed lint: NAME: MESSAGE" or "Lint warning: NAME: MESSAGE" for
    /// each failure (a message of sections ends in a newline, so a blank line follows it), then "Checks passed: N",
    /// "Checks skipped: N" and "Warnings: N" (the last two when not zero). Returns bootc's error, or null when
    /// the run succeeds: "Checks failed: N" (warnings count when <paramref name="fatalWarnings"/>), or
    /// "Unexpected runtime error running lint NAME: MESSAGE", written after the failures before it and
    /// without the counts.
    /// </summary>
    public string? Write(TextWriter output, bool fatalWarnings, bool noTruncate)
    {
        ArgumentNullException.ThrowIfNull(output);
        foreach (var r in Results)
        {
            if (r.Status == LintStatus.Error)
            {
                return $"Unexpected runtime error running lint {r.Lint.Name}: {r.Message}";
            }

            if (r.Status == LintStatus.Failed)
            {
                output.Write($"{(r.Lint.Type == LintType.Fatal ? "Failed lint" : "Lint warning")}: {r.Lint.Name}: {r.Describe(noTruncate)}\n");
            }
        }

        output.Write($"Checks passed: {Passed}\n");
        if (Skipped > 0)
        {
            output.Write($"Checks skipped: {Skipped}\n");
        }

        if (Warnings > 0)
        {
            output.Write($"Warnings: {Warnings}\n");
        }

        int failed = Fatal + (fatalWarnings ? Warnings : 0);
        return failed > 0 ? $"Checks failed: {failed}" : null;
    }
}

/// <summary>What a check returns: nothing (passed), a one-line message, or sections of entries.</summary>
internal readonly record struct LintOutcome(string? Message, IReadOnlyList<LintSection>? Sections)
{
    public static LintOutcome Ok => default;

    public bool Failed => Message is not null || Sections is { Count: > 0 };

    public static LintOutcome Fail(string message) => new(message, null);

    public static LintOutcome Fail(params LintSection[] sections) =>
        sections.Any(s => s.Entries.Count > 0) ? new(null, sections) : Ok;
}

/// <summary>A check could not be completed; the message names what it was looking at.</summary>
internal sealed class LintRuntimeException(string message) : Exception(message);

/// <summary>bootc's <c>container lint</c> on a root folder.</summary>
public static partial class ContainerLint
{
    /// <summary>How many entries of a section are shown unless told otherwise.</summary>
    public const int TruncatedEntries = 5;

    // https://systemd.io/API_FILE_SYSTEMS/, and bootc wants /var too.
    private static readonly string[] ApiDirectories = ["dev", "proc", "sys", "run", "tmp", "var"];

    // bootc ships the expected root of a base image as documentation, and checks that as well when present.
    private const string BaseImageReference = "usr/share/doc/bootc/baseimage/base";

    /// <summary>Every lint, in the order bootc lists them.</summary>
    public static IReadOnlyList<LintDefinition> Lints { get; } =
    [
        new("var-run", LintType.Fatal, "Fail when /var/run is a real directory rather than a symbolic link; that is always a mistake.", null)
        {
            Check = (r, _) => r.LStat("var/run") is { } st && st.Type != UnixMode.Symlink ? LintOutcome.Fail("Not a symlink: var/run") : LintOutcome.Ok,
        },
        new("buildah-injected", LintType.Warning, "Warn about an empty /etc/hostname or /etc/resolv.conf, which a container build tool\nmay have left behind.", LintRootType.Alternative)
        {
            Check = (r, _) => CheckBuildahInjected(r),
        },
        new("etc-usretc", LintType.Fatal, "Fail when both /etc and /usr/etc exist. A container image keeps its configuration in /etc;\n/usr/etc is where bootc moves it on the host, and having both makes the result undefined.\n", null)
        {
            Check = (r, _) => r.LStat("etc") is not null && r.LStat("usr/etc") is not null
                ? LintOutcome.Fail("Found /usr/etc - this is a bootc implementation detail and not supported to use in containers")
                : LintOutcome.Ok,
        },
        new("bootc-kargs", LintType.Fatal, "Check that the files of /usr/lib/bootc/kargs.d parse.", null)
        {
            Check = (r, _) => CheckKargs(r),
        },
        new("kernel", LintType.Fatal, "Fail when there is more than one kernel, that is more than one /usr/lib/modules/$kver folder with a\nvmlinuz in it. An image carries exactly one kernel.\n", null)
        {
            Check = (r, _) => CheckKernel(r),
        },
        new("utf8", LintType.Fatal, "Fail on a file name (or symbolic link target) that is not UTF-8, which bootc's ostree backend\ncannot store.\n", null)
        {
            Recursive = true,
            Check = CheckUtf8,
        },
        new("api-base-directories", LintType.Fatal, "Check that the base directories of the API file systems exist and are directories\n(<https://systemd.io/API_FILE_SYSTEMS/>), and that /var is a directory too.\n", null)
        {
            Check = (r, _) => CheckApiDirectories(r),
        },
        new("baseimage-composefs", LintType.Warning, "Warn when ostree's prepare-root.conf does not turn composefs on\n(<https://ostreedev.github.io/ostree/composefs/>).\n", null)
        {
            Check = (r, _) => CheckComposefs(r, ""),
        },
        new("baseimage-root", LintType.Fatal, "Check the root of a base image: /sysroot is a directory and /ostree links to sysroot/ostree\n(<https://bootc.dev/bootc/bootc-images.html#standard-image-content>).\n", null)
        {
            Check = (r, _) => CheckBaseImageRoot(r),
        },
        new("var-log", LintType.Warning, "Warn about regular files with content under /var/log. Logs are the state of one machine, belong\nin /var rather than in an image, make it unreproducible with their time stamps, and may leak\ndetails of the build host.\n", null)
        {
            Check = CheckVarLog,
        },
        new("var-tmpfiles", LintType.Warning, "Warn about content of /var that no systemd tmpfiles.d entry creates. The image's /var is copied\nonly when a system is first installed, so later images cannot change it; keep /var empty in the\nimage and let tmpfiles.d make folders and links at each boot.\n", LintRootType.Running)
        {
            Check = CheckVarTmpfiles,
        },
        new("sysusers", LintType.Warning, "Warn about users of /etc/passwd and groups of /etc/group that no systemd sysusers.d entry\nof /usr/lib/sysusers.d declares. A host's /etc is merged across upgrades, so users and groups\nonly added to the image's /etc/passwd may never reach it; sysusers.d creates them at boot\n(<https://bootc.dev/bootc/building/users-and-groups.html>).\n", null)
        {
            Check = (r, _) => CheckSysusers(r),
        },
        new("nonempty-boot", LintType.Warning, "Warn when /boot is missing or has content. An image's kernel belongs in /usr/lib/modules; what\nit ships in /boot is hidden at run time.\n", null)
        {
            Check = (r, _) => CheckBoot(r),
        },
        new("nonempty-run-tmp", LintType.Warning, "Warn about content in /run and /tmp. Both are tmpfs at run time, which hides whatever the\nimage has there, most often leftovers of its build.\n", null)
        {
            Check = CheckRunTmp,
        },
    ];

    /// <summary>
    /// The lints as bootc's <c>--list</c> prints them: a YAML sequence of mappings with name, type (fatal or
    /// warning), description (a literal block when it has several lines) and root-type when a lint has one.
    /// </summary>
    public static string ListYaml()
    {
        var sb = new StringBuilder();
        foreach (var l in Lints)
        {
            sb.Append("- name: ").Append(YamlScalar(l.Name, "  ")).Append('\n');
            sb.Append("  type: ").Append(l.Type == LintType.Fatal ? "fatal" : "warning").Append('\n');
            sb.Append("  description: ").Append(YamlScalar(l.Description, "    ")).Append('\n');
            if (l.RootType is { } rt)
            {
                sb.Append("  root-type: ").Append(rt).Append('\n');
            }
        }

        return sb.ToString();
    }

    // A plain scalar when YAML reads it back as the same string, a literal block (|, or |- without a final
    // newline) for several lines, else double-quoted.
    private static string YamlScalar(string s, string indent)
    {
        if (s.Contains('\n', StringComparison.Ordinal))
        {
            var body = s.EndsWith('\n') ? s[..^1] : s;
            var sb = new StringBuilder(s.EndsWith('\n') ? "|" : "|-");
            foreach (var line in body.Split('\n'))
            {
                sb.Append('\n');
                if (line.Length > 0)
                {
                    sb.Append(indent).Append(line);
                }
            }

            return sb.ToString();
        }

        bool plain = s.Length > 0 && !s.Contains(": ", StringComparison.Ordinal) && !s.Contains(" #", StringComparison.Ordinal)
            && !s.EndsWith(':') && !char.IsWhiteSpace(s[0]) && !char.IsWhiteSpace(s[^1])
            && "-?:,[]{}#&*!|>'\"%@`".IndexOf(s[0], StringComparison.Ordinal) < 0
            && s is not ("true" or "false" or "null" or "~" or "yes" or "no") && !double.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out _)
            && s.All(c => !char.IsControl(c));
        return plain ? s : "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>
    /// Runs every lint that is not in <paramref name="skip"/> and applies to <paramref name="rootType"/> on the
    /// root folder <paramref name="root"/>. Results come as bootc prints them: the lints that look at a few paths
    /// by name, then those that walk the whole tree, each group in name order.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The root folder does not exist.</exception>
    public static LintReport Run(string root, LintRootType rootType, IEnumerable<string>? skip = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        var fs = new LintRoot(root);
        var skipped = new HashSet<string>(skip ?? [], StringComparer.Ordinal);
        var applicable = Lints.Where(l => !skipped.Contains(l.Name) && (l.RootType is null || l.RootType == rootType))
            .OrderBy(l => l.Recursive)
            .ThenBy(l => l.Name, StringComparer.Ordinal)
            .ToList();
        var results = new List<LintResult>();
        foreach (var lint in applicable)
        {
            cancellationToken.ThrowIfCancellationRequested();
            results.Add(RunOne(lint, fs, cancellationToken));
        }

        return new LintReport(results, Lints.Count - applicable.Count);
    }

    private static LintResult RunOne(LintDefinition lint, LintRoot fs, CancellationToken ct)
    {
        try
        {
            var o = lint.Check(fs, ct);
            return !o.Failed
                ? new LintResult(lint, LintStatus.Passed, null, [])
                : new LintResult(lint, LintStatus.Failed, o.Message, o.Sections ?? []);
        }
        catch (Exception e) when (e is LintRuntimeException or OstreeException or IOException or UnauthorizedAccessException)
        {
            return new LintResult(lint, LintStatus.Error, e.Message, []);
        }
    }

    private static LintOutcome CheckBuildahInjected(LintRoot r)
    {
        foreach (var rel in new[] { "etc/hostname", "etc/resolv.conf" })
        {
            if (r.LStat(rel) is { } st && st.Type == UnixMode.Regular && st.Size == 0)
            {
                return LintOutcome.Fail($"/{rel} is an empty file; this may have been synthesized by a container runtime.");
            }
        }

        return LintOutcome.Ok;
    }

    private static LintOutcome CheckKargs(LintRoot r)
    {
        const string KargsD = "usr/lib/bootc/kargs.d";
        if (r.OpenDirectory(KargsD) is not { } dir)
        {
            return LintOutcome.Ok;
        }

        foreach (var name in LintRoot.List(dir).Where(n => Extension(n) == "toml"))
        {
            var text = r.ReadText($"{KargsD}/{name}") ?? throw new LintRuntimeException($"Parsing {name}: cannot be opened");
            // The parser install and upgrade use; it names the file in its errors.
            InstallConfig.KargsD([(name, text)], InstallConfig.Arch);
        }

        return LintOutcome.Ok;
    }

    private static LintOutcome CheckKernel(LintRoot r)
    {
        const string Modules = "usr/lib/modules";
        if (r.OpenDirectory(Modules) is not { } dir)
        {
            return LintOutcome.Ok;
        }

        string? found = null;
        foreach (var name in LintRoot.List(dir))
        {
            // Only real folders (not links to them) with a valid name and a vmlinuz that leads somewhere count.
            if (!Native.TryLStat(Path.Join(dir, name), out var st) || st.Type != UnixMode.Directory || !IsUtf8(name)
                || r.Stat($"{Modules}/{name}/vmlinuz") is null)
            {
                continue;
            }

            if (found is not null)
            {
                throw new LintRuntimeException($"Found multiple subdirectories in {Modules}");
            }

            found = name;
        }

        return LintOutcome.Ok;
    }

    private static LintOutcome CheckApiDirectories(LintRoot r)
    {
        foreach (var d in ApiDirectories)
        {
            if (r.LStat(d) is not { } st)
            {
                return LintOutcome.Fail($"Missing API filesystem base directory: /{d}");
            }

            if (st.Type != UnixMode.Directory)
            {
                return LintOutcome.Fail($"Expected directory for API filesystem base directory: /{d}");
            }
        }

        return LintOutcome.Ok;
    }

    private static LintOutcome CheckComposefs(LintRoot r, string under)
    {
        const string ConfPath = "ostree/prepare-root.conf";
        bool? enabled = null;
        foreach (var dir in new[] { "etc", "usr/lib" })
        {
            var rel = $"{dir}/{ConfPath}";
            if (r.ReadText(Join(under, rel)) is not { } text)
            {
                continue;
            }

            enabled = ComposefsEnabled(text, rel);
            break;
        }

        if (enabled is null)
        {
            return LintOutcome.Fail($"{ConfPath} is not present to enable composefs");
        }

        if (enabled == false)
        {
            return LintOutcome.Fail($"{ConfPath} does not have composefs enabled");
        }

        return under.Length == 0 && r.OpenDirectory(BaseImageReference) is not null ? CheckComposefs(r, BaseImageReference) : LintOutcome.Ok;
    }

    // As bootc reads prepare-root.conf: root.transient, or composefs.enabled at anything but off (an unknown value
    // counts as off). A file that is not a key file, or a root.transient that is not a boolean, is an error.
    private static bool ComposefsEnabled(string text, string rel)
    {
        var kf = KeyFile.Parse(text, "Parsing " + rel);
        bool transient;
        try
        {
            transient = kf.GetBoolean("root", "transient", false);
        }
        catch (OstreeFormatException e)
        {
            throw new LintRuntimeException($"Parsing {rel}: {e.Message}");
        }

        var composefs = kf.Get("composefs", "enabled");
        bool maybe = composefs switch
        {
            null => false,
            "signed" or "verity" => true,
            _ => TryTristate(composefs) is Tristate.Yes or Tristate.Maybe,
        };
        return transient || maybe;
    }

    private static Tristate? TryTristate(string value)
    {
        try
        {
            return KeyFile.ParseTristate(value, "composefs.enabled");
        }
        catch (OstreeFormatException)
        {
            return null;
        }
    }

    private static LintOutcome CheckBaseImageRoot(LintRoot r)
    {
        var o = CheckBaseImageRoot(r, "");
        return o.Failed || r.OpenDirectory(BaseImageReference) is null ? o : CheckBaseImageRoot(r, BaseImageReference);
    }

    private static LintOutcome CheckBaseImageRoot(LintRoot r, string under)
    {
        switch (r.LStat(Join(under, "sysroot")))
        {
            case null: return LintOutcome.Fail("Missing /sysroot");
            case { } st when st.Type != UnixMode.Directory: return LintOutcome.Fail("Expected a directory for /sysroot");
        }

        var ostree = Join(under, "ostree");
        switch (r.LStat(ostree))
        {
            case null: return LintOutcome.Fail("Missing ostree -> sysroot/ostree link");
            case { } st when st.Type != UnixMode.Symlink: return LintOutcome.Fail("/ostree should be a symlink");
        }

        var target = r.ReadLink(ostree);
        return target == "sysroot/ostree" ? LintOutcome.Ok : LintOutcome.Fail($"Expected /ostree -> sysroot/ostree, not {DebugString(target)}");
    }

    private static LintOutcome CheckVarLog(LintRoot r, CancellationToken ct)
    {
        if (r.OpenDirectory("var/log") is not { } dir)
        {
            return LintOutcome.Ok;
        }

        var found = new SortedSet<string>(StringComparer.Ordinal);
        var stack = new Stack<(string Host, string Shown)>();
        stack.Push((dir, "/var/log"));
        while (stack.TryPop(out var d))
        {
            ct.ThrowIfCancellationRequested();
            foreach (var name in LintRoot.List(d.Host))
            {
                var host = Path.Join(d.Host, name);
                var shown = d.Shown + "/" + name;
                if (!Native.TryLStat(host, out var st))
                {
                    continue;
                }

                if (st.Type == UnixMode.Regular && st.Size > 0)
                {
                    found.Add(shown);
                }
                else if (st.Type == UnixMode.Directory)
                {
                    stack.Push((host, shown));
                }
            }
        }

        return LintOutcome.Fail(new LintSection("Found non-empty logfiles", [.. found.Select(QuotePath)]));
    }

    private static LintOutcome CheckBoot(LintRoot r)
    {
        if (r.OpenDirectory("boot") is not { } dir)
        {
            return LintOutcome.Fail("Missing /boot directory");
        }

        // bootc lets EFI (the parent of EFI/Linux, where a composefs system keeps its UKIs) pass.
        var entries = LintRoot.List(dir).Where(n => n != "EFI").Select(QuotePath).ToList();
        return LintOutcome.Fail(new LintSection("Found non-empty /boot", entries));
    }

    // What a container runtime mounts into /run during a build, with the folders it makes for it.
    private const string RuntimeInjected = "/run/systemd/resolve/stub-resolv.conf";

    private static LintOutcome CheckRunTmp(LintRoot r, CancellationToken ct)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var rootDevice = Native.LStat(r.Root).Device;
        foreach (var top in new[] { "run", "tmp" })
        {
            // A folder that is itself a mount point (a tmpfs given to the build) is not part of the image.
            if (r.OpenDirectory(top) is not { } dir || Native.LStat(dir).Device != rootDevice)
            {
                continue;
            }

            var stack = new Stack<(string Host, string Shown, ulong Device)>();
            stack.Push((dir, "/" + top, rootDevice));
            while (stack.TryPop(out var d))
            {
                ct.ThrowIfCancellationRequested();
                foreach (var name in LintRoot.List(d.Host))
                {
                    var host = Path.Join(d.Host, name);
                    if (!Native.TryLStat(host, out var st) || st.Device != d.Device)
                    {
                        continue; // mounted by the runtime (.containerenv, secrets)
                    }

                    found.Add(d.Shown + "/" + name);
                    if (st.Type == UnixMode.Directory)
                    {
                        stack.Push((host, d.Shown + "/" + name, d.Device));
                    }
                }
            }
        }

        // The runtime's file goes, and each of its folders that holds nothing else.
        found.Remove(RuntimeInjected);
        for (var p = Parent(RuntimeInjected); p != "/run"; p = Parent(p))
        {
            if (found.Any(f => f.StartsWith(p + "/", StringComparison.Ordinal)))
            {
                break;
            }

            found.Remove(p);
        }

        return LintOutcome.Fail(new LintSection("Found content in runtime-only directories (/run, /tmp)", [.. found.Select(QuotePath)]));
    }

    private static LintOutcome CheckUtf8(LintRoot r, CancellationToken ct)
    {
        // Depth first, entries in name order, without following links or crossing into other file systems.
        var stack = new Stack<(string Rel, ulong Device, string[] Names, int Next)>();
        stack.Push(("", Native.LStat(r.Root).Device, LintRoot.List(r.Root), 0));
        while (stack.TryPop(out var d))
        {
            ct.ThrowIfCancellationRequested();
            if (d.Next == d.Names.Length)
            {
                continue;
            }

            var name = d.Names[d.Next];
            stack.Push(d with { Next = d.Next + 1 });
            if (!IsUtf8(name))
            {
                return LintOutcome.Fail($"{QuotePath("/" + d.Rel)}: Found non-utf8 filename {DebugString(name)}");
            }

            var rel = Join(d.Rel, name);
            if (!Native.TryLStat(r.Host(rel), out var st))
            {
                continue;
            }

            if (st.Type == UnixMode.Symlink && !IsUtf8(r.ReadLink(rel)))
            {
                return LintOutcome.Fail($"{QuotePath("/" + rel)}: Found non-utf8 symlink target");
            }

            if (st.Type == UnixMode.Directory && st.Device == d.Device)
            {
                stack.Push((rel, d.Device, LintRoot.List(r.Host(rel)), 0));
            }
        }

        return LintOutcome.Ok;
    }

    // .NET hands a name that is not UTF-8 over with U+FFFD where the bad bytes were.
    private static bool IsUtf8(string name) => !name.Contains('\uFFFD', StringComparison.Ordinal);

    private static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    private static string Parent(string path) => path[..Math.Max(path.LastIndexOf('/'), 1)];

    // The extension as Rust's Path::extension finds it: none for ".toml" or "toml".
    private static string? Extension(string name)
    {
        int dot = name.LastIndexOf('.');
        return dot > 0 ? name[(dot + 1)..] : null;
    }

    /// <summary>
    /// A path as bootc shows it: as is when it has only letters, digits and <c>/ . - _ , = :</c>, else quoted for a
    /// POSIX shell (single quotes, or double quotes when it has a single quote).
    /// </summary>
    public static string QuotePath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.All(c => char.IsLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or ',' or '=' or ':'))
        {
            return path;
        }

        if (!path.Contains('\'', StringComparison.Ordinal))
        {
            return "'" + path + "'";
        }

        var sb = new StringBuilder("\"");
        foreach (var c in path)
        {
            if (c is '"' or '\\' or '$' or '`')
            {
                sb.Append('\\');
            }

            sb.Append(c);
        }

        return sb.Append('"').ToString();
    }

    // A string as Rust's Debug shows it: in double quotes, with quotes, backslashes and control characters escaped.
    private static string DebugString(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            _ = c switch
            {
                '"' => sb.Append("\\\""),
                '\\' => sb.Append("\\\\"),
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\t' => sb.Append("\\t"),
                '\0' => sb.Append("\\0"),
                _ when char.IsControl(c) => sb.Append("\\u{").Append(((int)c).ToString("x", System.Globalization.CultureInfo.InvariantCulture)).Append('}'),
                _ => sb.Append(c),
            };
        }

        return sb.Append('"').ToString();
    }
}
