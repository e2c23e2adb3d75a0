// The var-tmpfiles lint (bootc 1.16, crates/tmpfiles): content of /var that no tmpfiles.d(5) line of
// /usr/lib/tmpfiles.d or /etc/tmpfiles.d declares, shown as the line that would create it.
using System.Globalization;
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Containers.Bootc;

public static partial class ContainerLint
{
    private static LintOutcome CheckVarTmpfiles(LintRoot r, CancellationToken ct)
    {
        var declared = DeclaredTmpfiles(r);
        var names = new OwnerNames(r);
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        var unsupported = new List<string>();
        if (r.Resolve("var", followLast: true) is not { } var || !Native.TryLStat(r.Host(var), out var varSt))
        {
            throw new LintRuntimeException("/var: No such file or directory");
        }

        // Physical folder, the path shown for it (always under /var), its device; depth first in name order.
        var stack = new Stack<(string Physical, string Shown, ulong Device)>();
        stack.Push((var, "/var", varSt.Device));
        while (stack.TryPop(out var d))
        {
            ct.ThrowIfCancellationRequested();
            var children = new List<(string, string, ulong)>();
            foreach (var name in LintRoot.List(r.Host(d.Physical)))
            {
                var physical = d.Physical + "/" + name;
                var shown = d.Shown + "/" + name;
                if (!Native.TryLStat(r.Host(physical), out var st))
                {
                    continue;
                }

                if (!declared.Contains((d.Physical, name)))
                {
                    if (st.Type == UnixMode.Directory)
                    {
                        var mode = Convert.ToString((int)(st.Mode & 0xFFF), 8).PadLeft(4, '0');
                        lines.Add($"d {TmpfilesPath(shown)} {mode} {names.User(st.Uid)} {names.Group(st.Gid)} - -");
                    }
                    else if (st.Type == UnixMode.Symlink)
                    {
                        lines.Add($"L {TmpfilesPath(shown)} - - - - {TmpfilesPath(r.ReadLink(physical))}");
                    }
                    else
                    {
                        unsupported.Add(shown[1..]);
                        continue;
                    }
                }

                // Other file systems mounted under /var are not part of the image.
                if (st.Type == UnixMode.Directory && st.Device == d.Device)
                {
                    children.Add((physical, shown, d.Device));
                }
            }

            for (int i = children.Count - 1; i >= 0; i--)
            {
                stack.Push(children[i]);
            }
        }

        return LintOutcome.Fail(
            new LintSection("Found content in /var missing systemd tmpfiles.d entries", [.. lines]),
            new LintSection("Found non-directory/non-symlink files in /var", [.. unsupported.Select(QuotePath)]));
    }

    // Each declared path as (its parent folder resolved inside the root, its last name): /root/.ssh is declared
    // for /var/roothome/.ssh when /root links there. A parent that does not exist declares nothing that can be met.
    private static HashSet<(string Parent, string Name)> DeclaredTmpfiles(LintRoot r)
    {
        var declared = new HashSet<(string, string)>();
        foreach (var dirRel in new[] { "usr/lib/tmpfiles.d", "etc/tmpfiles.d" })
        {
            if (r.OpenDirectory(dirRel) is not { } dir)
            {
                continue;
            }

            foreach (var file in LintRoot.List(dir).Where(n => Extension(n) == "conf"))
            {
                // A file masked with a link to /dev/null leads nowhere inside an image root: it declares nothing.
                var text = r.Stat($"{dirRel}/{file}") is { Type: UnixMode.Regular } ? r.ReadText($"{dirRel}/{file}") : null;
                foreach (var line in (text ?? "").Split('\n'))
                {
                    var l = line.EndsWith('\r') ? line[..^1] : line;
                    if (l.Length == 0 || l.StartsWith('#'))
                    {
                        continue;
                    }

                    var path = TmpfilesLinePath(l).TrimStart('/');
                    int slash = path.LastIndexOf('/');
                    var (parent, leaf) = slash < 0 ? ("", path) : (path[..slash], path[(slash + 1)..]);
                    if ((parent.Length == 0 ? "" : r.Resolve(parent, followLast: true)) is { } physical)
                    {
                        declared.Add((physical, leaf));
                    }
                }
            }
        }

        return declared;
    }

    // The path field of a tmpfiles.d line: after the type, plain or in double quotes, with \\ \n \r \t \xNN escapes.
    private static string TmpfilesLinePath(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line);
        int i = 0;
        while (i < bytes.Length && IsAsciiSpace(bytes[i]))
        {
            i++;
        }

        int typeStart = i;
        while (i < bytes.Length && !IsAsciiSpace(bytes[i]))
        {
            i++;
        }

        if (i == typeStart)
        {
            throw new LintRuntimeException($"Malformed tmpfiles.d line {line}");
        }

        while (i < bytes.Length && IsAsciiSpace(bytes[i]))
        {
            i++;
        }

        bool quoted = i < bytes.Length && bytes[i] == '"';
        if (quoted)
        {
            i++;
        }

        var path = new List<byte>();
        for (; i < bytes.Length && (quoted ? bytes[i] != '"' : !IsAsciiSpace(bytes[i])); i++)
        {
            if (bytes[i] != '\\')
            {
                path.Add(bytes[i]);
                continue;
            }

            if (++i >= bytes.Length)
            {
                throw new LintRuntimeException("Malformed tmpfiles.d");
            }

            switch (bytes[i])
            {
                case (byte)'\\': path.Add((byte)'\\'); break;
                case (byte)'n': path.Add((byte)'\n'); break;
                case (byte)'r': path.Add((byte)'\r'); break;
                case (byte)'t': path.Add((byte)'\t'); break;
                case (byte)'x' when i + 2 < bytes.Length
                    && byte.TryParse(Encoding.ASCII.GetString(bytes, i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b):
                    path.Add(b);
                    i += 2;
                    break;
                default: throw new LintRuntimeException("Malformed tmpfiles.d");
            }
        }

        return Encoding.UTF8.GetString([.. path]);
    }

    private static bool IsAsciiSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0C;

    // A path as a tmpfiles.d line carries it (/var/run written as /run): letters, digits and / as they are,
    // other printable ASCII too but backslash, the rest escaped.
    private static string TmpfilesPath(string path)
    {
        if (path == "/var/run" || path.StartsWith("/var/run/", StringComparison.Ordinal))
        {
            path = "/run" + path["/var/run".Length..];
        }

        if (path.All(c => char.IsAsciiLetterOrDigit(c) || c == '/'))
        {
            return path;
        }

        var sb = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(path))
        {
            _ = b switch
            {
                (byte)'\\' => sb.Append("\\\\"),
                (byte)'\n' => sb.Append("\\n"),
                (byte)'\t' => sb.Append("\\t"),
                (byte)'\r' => sb.Append("\\r"),
                > 0x20 and < 0x7F => sb.Append((char)b),
                _ => sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture)),
            };
        }

        return sb.ToString();
    }

    /// <summary>User and group names of the root's passwd and group files (and nss-altfiles' copies in /usr/lib).</summary>
    private sealed class OwnerNames(LintRoot root)
    {
        private Dictionary<uint, string>? _users;
        private Dictionary<uint, string>? _groups;

        public string User(uint uid) =>
            (_users ??= Load(root, "passwd")).TryGetValue(uid, out var n) ? n : throw new LintRuntimeException($"User not found for id {uid}");

        public string Group(uint gid) =>
            (_groups ??= Load(root, "group")).TryGetValue(gid, out var n) ? n : throw new LintRuntimeException($"Group not found for id {gid}");

        private static Dictionary<uint, string> Load(LintRoot root, string file)
        {
            var names = new Dictionary<uint, string>();
            foreach (var rel in new[] { "etc/" + file, "usr/lib/" + file })
            {
                foreach (var line in (root.ReadText(rel) ?? "").Split('\n'))
                {
                    // name:password:id:...; the first line for an id wins, as getpwuid finds it.
                    var f = line.Split(':');
                    if (f.Length >= 3 && f[0].Length > 0 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    {
                        names.TryAdd(id, f[0]);
                    }
                }
            }

            return names;
        }
    }
}
