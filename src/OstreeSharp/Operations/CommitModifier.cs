// How `ostree commit` options change what is recorded (spec: ostree-repo-format.md, section 4.6).
using OstreeSharp.Objects;

namespace OstreeSharp.Operations;

/// <summary>Ownership, permission and filtering rules applied while committing a tree.</summary>
public sealed class CommitModifier
{
    /// <summary>Forces every uid (<c>--owner-uid</c>).</summary>
    public uint? OwnerUid { get; init; }

    /// <summary>Forces every gid (<c>--owner-gid</c>).</summary>
    public uint? OwnerGid { get; init; }

    /// <summary><c>--canonical-permissions</c>: uid/gid 0, modes masked to 0755, no xattrs (as libostree does).</summary>
    public bool CanonicalPermissions { get; init; }

    /// <summary><c>--no-xattrs</c>.</summary>
    public bool NoXattrs { get; init; }

    /// <summary><c>--mode-ro-executables</c>.</summary>
    public bool ModeRoExecutables { get; init; }

    /// <summary>Paths (absolute within the tree) to leave out (<c>--skip-list</c>).</summary>
    public IReadOnlySet<string> SkipList { get; init; } = new HashSet<string>();

    /// <summary>Mode changes per path (<c>--statoverride</c>): (or-bits, replace-bits or null).</summary>
    public IReadOnlyDictionary<string, (uint Or, uint? Replace)> StatOverrides { get; init; } = new Dictionary<string, (uint, uint?)>();

    /// <summary>Labels every path from this policy (<c>--selinux-policy</c>), replacing any label it had.</summary>
    public SELinux.SePolicy? SePolicy { get; init; }

    /// <summary>True when no option changes anything, so existing objects keep their ids.</summary>
    public bool IsIdentity => SePolicy?.Contexts is null && OwnerUid is null && OwnerGid is null && !CanonicalPermissions && !NoXattrs && !ModeRoExecutables && SkipList.Count == 0 && StatOverrides.Count == 0;

    /// <summary>Reads a skip-list file: one absolute path per line.</summary>
    public static HashSet<string> ReadSkipList(string file) =>
        File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0).ToHashSet(StringComparer.Ordinal);

    /// <summary>Reads a statoverride file: <c>MODE /path</c> (decimal, OR-ed) or <c>=MODE /path</c> (replace).</summary>
    public static Dictionary<string, (uint, uint?)> ReadStatOverrides(string file)
    {
        var result = new Dictionary<string, (uint, uint?)>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var raw in File.ReadAllLines(file))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0)
            {
                continue;
            }

            int sp = line.IndexOf(' ', StringComparison.Ordinal);
            if (sp <= 0)
            {
                throw new OstreeFormatException($"{file}:{lineNo}: expected 'MODE /path'");
            }

            var modeText = line[..sp];
            bool replace = modeText.StartsWith('=');
            if (!uint.TryParse(replace ? modeText[1..] : modeText, out var mode))
            {
                throw new OstreeFormatException($"{file}:{lineNo}: invalid mode '{modeText}'");
            }

            result[line[(sp + 1)..]] = replace ? (0u, mode) : (mode, null);
        }

        return result;
    }

    /// <summary>Applies the rules to one entry's metadata.</summary>
    public (uint Uid, uint Gid, uint Mode, Xattrs Xattrs) Apply(string treePath, uint uid, uint gid, uint mode, Xattrs xattrs)
    {
        if (OwnerUid is { } u)
        {
            uid = u;
        }

        if (OwnerGid is { } g)
        {
            gid = g;
        }

        if (StatOverrides.TryGetValue(treePath, out var ov))
        {
            mode = ov.Replace is { } r ? (mode & UnixMode.TypeMask) | (r & UnixMode.PermissionMask) : mode | ov.Or;
        }

        if (ModeRoExecutables && UnixMode.IsRegular(mode) && (mode & 0x49) != 0)
        {
            mode &= ~0x92u;
        }

        if (CanonicalPermissions)
        {
            uid = 0;
            gid = 0;
            if (UnixMode.IsRegular(mode))
            {
                mode &= UnixMode.Regular | 0x1ED;
            }
            else if (UnixMode.IsDirectory(mode))
            {
                mode &= UnixMode.Directory | 0x1ED;
            }
        }

        if (NoXattrs || CanonicalPermissions)
        {
            xattrs = Xattrs.Empty;
        }

        if (SePolicy is not null)
        {
            xattrs = SePolicy.Apply(treePath, mode, xattrs);
        }

        return (uid, gid, mode, xattrs);
    }
}
