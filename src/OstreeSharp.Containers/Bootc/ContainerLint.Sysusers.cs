// The sysusers lint (bootc 1.16, crates/sysusers): users of /etc/passwd and groups of /etc/group that no
// sysusers.d(5) line of /usr/lib/sysusers.d declares. A u line declares its user and a group of the same name.
using System.Globalization;

namespace OstreeSharp.Containers.Bootc;

public static partial class ContainerLint
{
    private static LintOutcome CheckSysusers(LintRoot r)
    {
        if (r.ReadText("etc/passwd") is not { } passwd)
        {
            return LintOutcome.Ok;
        }

        var users = NameServiceNames(passwd, 7, "passwd", "Failed to load etc/passwd");
        var groupText = r.ReadText("etc/group") ?? throw new LintRuntimeException("Failed to load etc/group: No such file or directory");
        var groups = NameServiceNames(groupText, 4, "group", "Failed to load etc/group");
        var (declaredUsers, declaredGroups) = DeclaredSysusers(r);
        return LintOutcome.Fail(
            new LintSection("Found /etc/passwd entry without corresponding systemd sysusers.d", [.. users.Where(u => !declaredUsers.Contains(u))]),
            new LintSection("Found /etc/group entry without corresponding systemd sysusers.d", [.. groups.Where(g => !declaredGroups.Contains(g))]));
    }

    // The names of a passwd (7 fields) or group (4 fields) file, sorted; NIS lines (+, -) and comments skipped.
    private static SortedSet<string> NameServiceNames(string text, int fields, string what, string failure)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var lines = SplitLines(text);
        for (int i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (line.Length == 0 || line[0] is '#' or '+' or '-')
            {
                continue;
            }

            var f = line.Split(':', fields);
            bool ok = f.Length == fields && IsU32(f[2]) && (fields != 7 || IsU32(f[3]));
            if (!ok)
            {
                throw new LintRuntimeException($"{failure}: failed to parse {what} entry at line {i}, content: {line}");
            }

            names.Add(f[0]);
        }

        return names;
    }

    private static (HashSet<string> Users, HashSet<string> Groups) DeclaredSysusers(LintRoot r)
    {
        var users = new HashSet<string>(StringComparer.Ordinal);
        var groups = new HashSet<string>(StringComparer.Ordinal);
        if (r.OpenDirectory("usr/lib/sysusers.d") is not { } dir)
        {
            return (users, groups);
        }

        foreach (var file in LintRoot.List(dir).Where(n => Extension(n) == "conf"))
        {
            foreach (var line in SplitLines(r.ReadText("usr/lib/sysusers.d/" + file) ?? ""))
            {
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }

                switch (ParseSysusersLine(line, file))
                {
                    case ('u', var name):
                        users.Add(name);
                        groups.Add(name);
                        break;
                    case ('g', var name):
                        groups.Add(name);
                        break;
                }
            }
        }

        return (users, groups);
    }

    // The kind (u, g, r; another kind is ignored as bootc ignores it) and name of a sysusers.d line, its ids checked.
    private static (char Kind, string Name) ParseSysusersLine(string line, string file)
    {
        var fail = () => new LintRuntimeException($"Failed to parse sysusers entry from {file}: Failed to parse sysusers entry: {line}");
        var rest = line;
        var type = NextToken(ref rest) ?? throw fail();
        switch (type)
        {
            case "u" or "u!":
            {
                var name = NextToken(ref rest) ?? throw fail();
                if (NextToken(ref rest) is { } id && id != "-")
                {
                    int colon = id.IndexOf(':', StringComparison.Ordinal);
                    var (uid, gid) = colon < 0 ? (id, id) : (id[..colon], id[(colon + 1)..]);
                    bool groupOk = gid.StartsWith('/') || !gid.All(char.IsAsciiDigit) || IsU32(gid);
                    if ((uid != "-" && !IsIdSource(uid)) || !groupOk)
                    {
                        throw fail();
                    }
                }

                return ('u', name);
            }

            case "g":
            {
                var name = NextToken(ref rest) ?? throw fail();
                if (NextToken(ref rest) is { } id && id != "-" && !IsIdSource(id))
                {
                    throw fail();
                }

                return ('g', name);
            }

            case "r":
            {
                _ = NextToken(ref rest) ?? throw fail();
                var range = NextToken(ref rest) ?? throw fail();
                int dash = range.IndexOf('-', StringComparison.Ordinal);
                if (dash < 0 || !IsU32(range[..dash]) || !IsU32(range[(dash + 1)..]))
                {
                    throw fail();
                }

                return ('r', "");
            }

            default:
                return ('?', "");
        }
    }

    // A blank-separated token, or a "quoted" one; null when there is none.
    private static string? NextToken(ref string s)
    {
        s = s.TrimStart();
        string token;
        if (s.StartsWith('"'))
        {
            int end = s.IndexOf('"', 1);
            if (end < 0)
            {
                return null;
            }

            token = s[1..end];
            s = s[(end + 1)..];
        }
        else
        {
            int end = s.IndexOfAny([' ', '\t', '\n', '\r', '\v', '\f']);
            token = end < 0 ? s : s[..end];
            s = end < 0 ? "" : s[end..];
        }

        return token.Length == 0 ? null : token;
    }

    private static bool IsIdSource(string s) => s.StartsWith('/') || IsU32(s);

    private static bool IsU32(string s) => s.Length > 0 && s.All(char.IsAsciiDigit) && uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out _);

    // Lines as Rust's BufRead::lines gives them: split at \n, a \r before it dropped, no empty last line.
    private static List<string> SplitLines(string text)
    {
        var lines = text.Split('\n').Select(l => l.EndsWith('\r') ? l[..^1] : l).ToList();
        if (text.Length == 0 || text.EndsWith('\n'))
        {
            lines.RemoveAt(lines.Count - 1);
        }

        return lines;
    }
}
