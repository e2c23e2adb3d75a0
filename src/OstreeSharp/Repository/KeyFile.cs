// GLib keyfile subset used by ostree's config (spec: ostree-repo-format.md, section 3.2).
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Repository;

/// <summary>An INI-like GLib keyfile that keeps group and key order and comments.</summary>
public sealed class KeyFile
{
    private readonly List<Group> _groups = [];
    private readonly List<string> _leading = [];

    private sealed class Group(string name)
    {
        public string Name { get; } = name;

        public List<(string? Key, string Line)> Lines { get; } = [];
    }

    /// <summary>Group names in order.</summary>
    public IEnumerable<string> Groups => _groups.Select(g => g.Name);

    /// <summary>Parses keyfile text; <paramref name="source"/> names the file in errors.</summary>
    public static KeyFile Parse(string text, string source)
    {
        var kf = new KeyFile();
        Group? current = null;
        int lineNo = 0;
        var rawLines = text.Split('\n');
        // The text after the last newline is not a line of its own.
        foreach (var raw in text.EndsWith('\n') ? rawLines[..^1] : rawLines)
        {
            lineNo++;
            var line = raw.TrimEnd('\r');
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                if (current is null)
                {
                    kf._leading.Add(line);
                }
                else
                {
                    current.Lines.Add((null, line));
                }

                continue;
            }

            if (trimmed.StartsWith('['))
            {
                if (!trimmed.EndsWith(']'))
                {
                    throw new OstreeFormatException($"{source}:{lineNo}: invalid group header '{trimmed}'");
                }

                current = new Group(trimmed[1..^1]);
                kf._groups.Add(current);
                continue;
            }

            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || current is null)
            {
                throw new OstreeFormatException($"{source}:{lineNo}: invalid line '{MessageText.Quote(trimmed)}'");
            }

            current.Lines.Add((line[..eq].Trim(), line));
        }

        while (kf._leading.Count > 0 && kf._leading[^1].Length == 0)
        {
            kf._leading.RemoveAt(kf._leading.Count - 1);
        }

        return kf;
    }

    /// <summary>True when the group exists.</summary>
    public bool HasGroup(string group) => _groups.Any(g => g.Name == group);

    /// <summary>Keys of a group in order.</summary>
    public IEnumerable<string> Keys(string group) =>
        _groups.FirstOrDefault(g => g.Name == group)?.Lines.Where(l => l.Key is not null).Select(l => l.Key!) ?? [];

    /// <summary>The raw (unescaped) string value, or null.</summary>
    public string? Get(string group, string key)
    {
        var g = _groups.FirstOrDefault(x => x.Name == group);
        var line = g?.Lines.LastOrDefault(l => l.Key == key).Line;
        if (line is null)
        {
            return null;
        }

        return Unescape(line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..].TrimStart());
    }

    /// <summary>A boolean value (<c>true</c>/<c>false</c>/<c>1</c>/<c>0</c>), or the default.</summary>
    public bool GetBoolean(string group, string key, bool defaultValue)
    {
        var v = Get(group, key);
        return v switch
        {
            null => defaultValue,
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw new OstreeFormatException($"config key {group}.{key} is not a boolean: '{v}'"),
        };
    }

    /// <summary>
    /// A yes/no/maybe value as libostree reads one: <c>maybe</c>, or a boolean written
    /// <c>yes</c>/<c>true</c>/<c>1</c> or <c>no</c>/<c>false</c>/<c>0</c> (surrounding blanks ignored).
    /// </summary>
    /// <exception cref="OstreeFormatException">Any other value.</exception>
    public Tristate GetTristate(string group, string key, Tristate defaultValue) =>
        Get(group, key) is { } v ? ParseTristate(v.Trim(), $"config key {group}.{key}") : defaultValue;

    /// <summary>Parses a yes/no/maybe value (see <see cref="GetTristate"/>); <paramref name="what"/> names it in the error.</summary>
    public static Tristate ParseTristate(string value, string what) => value switch
    {
        "maybe" => Tristate.Maybe,
        "yes" or "true" or "1" => Tristate.Yes,
        "no" or "false" or "0" => Tristate.No,
        _ => throw new OstreeFormatException($"{what}: Invalid tri-state value: {value}"),
    };

    /// <summary>A list value split on <c>;</c> (and <c>,</c> when asked).</summary>
    public IReadOnlyList<string> GetList(string group, string key) =>
        Get(group, key)?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    /// <summary>Sets a value, adding the group and key when missing.</summary>
    public void Set(string group, string key, string value)
    {
        var g = _groups.FirstOrDefault(x => x.Name == group);
        if (g is null)
        {
            g = new Group(group);
            _groups.Add(g);
        }

        string line = key + "=" + Escape(value);
        int idx = g.Lines.FindLastIndex(l => l.Key == key);
        if (idx >= 0)
        {
            g.Lines[idx] = (key, line);
        }
        else
        {
            int last = g.Lines.FindLastIndex(l => l.Key is not null);
            g.Lines.Insert(last + 1, (key, line));
        }
    }

    /// <summary>Removes a key; true when it existed.</summary>
    public bool Remove(string group, string key)
    {
        var g = _groups.FirstOrDefault(x => x.Name == group);
        return g is not null && g.Lines.RemoveAll(l => l.Key == key) > 0;
    }

    /// <summary>Removes a whole group; true when it existed.</summary>
    public bool RemoveGroup(string group)
    {
        if (_groups.RemoveAll(g => g.Name == group) == 0)
        {
            return false;
        }

        // The blank line that separated the removed group goes with it.
        if (_groups.Count > 0)
        {
            var lines = _groups[^1].Lines;
            while (lines.Count > 0 && lines[^1].Key is null && lines[^1].Line.Trim().Length == 0)
            {
                lines.RemoveAt(lines.Count - 1);
            }
        }

        return true;
    }

    /// <summary>Serializes to text in GLib's layout.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var l in _leading)
        {
            sb.Append(l).Append('\n');
        }

        for (int k = 0; k < _groups.Count; k++)
        {
            var g = _groups[k];
            if (k > 0 && (sb.Length < 2 || sb[^2] != '\n'))
            {
                sb.Append('\n');
            }

            sb.Append('[').Append(g.Name).Append("]\n");
            foreach (var l in g.Lines)
            {
                sb.Append(l.Line).Append('\n');
            }
        }

        return sb.ToString();
    }

    private static string Unescape(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }

        var sb = new StringBuilder();
        for (int k = 0; k < s.Length; k++)
        {
            if (s[k] != '\\' || k + 1 == s.Length)
            {
                sb.Append(s[k]);
                continue;
            }

            char c = s[++k];
            sb.Append(c switch { 'n' => '\n', 't' => '\t', 'r' => '\r', 's' => ' ', _ => c });
        }

        return sb.ToString();
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder();
        for (int k = 0; k < s.Length; k++)
        {
            char c = s[k];
            switch (c)
            {
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                case '\\': sb.Append("\\\\"); break;
                case ' ' when k == 0: sb.Append("\\s"); break;
                default: sb.Append(c); break;
            }
        }

        return sb.ToString();
    }
}

/// <summary>A configuration value that may also be "maybe" (libostree's OtTristate).</summary>
public enum Tristate
{
    /// <summary>Off.</summary>
    No,

    /// <summary>Used when possible.</summary>
    Maybe,

    /// <summary>Required.</summary>
    Yes,
}
