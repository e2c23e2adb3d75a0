// A Boot Loader Specification entry as libostree parses and writes it (spec 1.8).
using System.Text;

namespace OstreeSharp.Sysroot;

/// <summary>One BLS entry: ordered keys, with extra <c>initrd</c> lines kept as overlay initrds.</summary>
public sealed class BootEntry
{
    private static readonly string[] KeyOrder = ["title", "version", "options", "devicetree", "linux", "initrd"];
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    /// <summary>Overlay initrds: the second and later <c>initrd</c> lines.</summary>
    public List<string> OverlayInitrds { get; } = [];

    /// <summary>The value of a key, or null.</summary>
    public string? this[string key]
    {
        get => _values.GetValueOrDefault(key);
        set
        {
            if (value is null)
            {
                if (_values.Remove(key))
                {
                    _order.Remove(key);
                }

                return;
            }

            if (!_values.ContainsKey(key))
            {
                _order.Add(key);
            }

            _values[key] = value;
        }
    }

    /// <summary>Keys in the order they were first seen.</summary>
    public IEnumerable<string> Keys => _order;

    /// <summary>Parses an entry file's text; <paramref name="source"/> names it in errors.</summary>
    public static BootEntry Parse(string text, string source)
    {
        var e = new BootEntry();
        bool seenInitrd = false;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || !char.IsAsciiLetter(line[0]))
            {
                continue;
            }

            int sep = line.IndexOfAny([' ', '\t']);
            if (sep <= 0)
            {
                continue;
            }

            string key = line[..sep], value = line[(sep + 1)..];
            if (key == "initrd" && seenInitrd)
            {
                if (Path.GetFileName(value).Length != 68)
                {
                    throw new OstreeFormatException($"{source}: invalid overlay initrd path '{value}'");
                }

                e.OverlayInitrds.Add(value);
                continue;
            }

            seenInitrd |= key == "initrd";
            e[key] = value;
        }

        return e;
    }

    /// <summary>A copy.</summary>
    public BootEntry Clone()
    {
        var c = new BootEntry();
        foreach (var k in _order)
        {
            c[k] = _values[k];
        }

        c.OverlayInitrds.AddRange(OverlayInitrds);
        return c;
    }

    /// <summary>The file text: fixed keys first, then overlay initrds, then the rest.</summary>
    public string Serialize()
    {
        var sb = new StringBuilder();
        foreach (var k in KeyOrder)
        {
            if (_values.TryGetValue(k, out var v))
            {
                sb.Append(k).Append(' ').Append(v).Append('\n');
            }
        }

        foreach (var i in OverlayInitrds)
        {
            sb.Append("initrd ").Append(i).Append('\n');
        }

        foreach (var k in _order.Where(k => !KeyOrder.Contains(k)))
        {
            sb.Append(k).Append(' ').Append(_values[k]).Append('\n');
        }

        return sb.ToString();
    }
}
