// A Boot Loader Specification entry as libostree parses and writes it (spec 1.8).
using System.Text;
using OstreeSharp.Internal;

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

    /// <summary>The name of the file the entry was read from; a copy keeps it, a new entry has none.</summary>
    internal string? FileName { get; private set; }

    /// <summary>
    /// The boot counter in that name (systemd's <c>NAME+LEFT-DONE.conf</c>, or <c>NAME+LEFT.conf</c>): tries left and
    /// done, both 0 when the name has none. A copy does not keep them, as libostree's clone of a boot config does not.
    /// </summary>
    internal (ulong Left, ulong Done) Tries { get; private set; }

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

        e.FileName = Path.GetFileName(source);
        e.Tries = ParseTries(Path.GetFileNameWithoutExtension(source));
        return e;
    }

    // "+LEFT" or "+LEFT-DONE" after the last '+' of the name, as libostree reads it: digits as g_ascii_strtoull reads
    // them (anything after them ignored); no digits, a '-' first, or a number past 2^64-1, and there is no counter.
    private static (ulong Left, ulong Done) ParseTries(string name)
    {
        int plus = name.LastIndexOf('+');
        if (plus < 0)
        {
            return (0, 0);
        }

        var rest = name.AsSpan(plus + 1);
        if (!TryNumber(ref rest, out var left))
        {
            return (0, 0);
        }

        ulong done = 0;
        if (rest.StartsWith("-"))
        {
            rest = rest[1..];
            if (!TryNumber(ref rest, out done))
            {
                return (0, 0);
            }
        }

        return (left, done);

        static bool TryNumber(ref ReadOnlySpan<char> text, out ulong value)
        {
            if (!GlibNumbers.TryLeadingDigits(text, out value, out int n) || n == 0)
            {
                return false;
            }

            text = text[n..];
            return true;
        }
    }

    /// <summary>Records that the entry was written to the file <paramref name="fileName"/> (its name and counter).</summary>
    internal void WrittenAs(string fileName)
    {
        FileName = fileName;
        Tries = ParseTries(Path.GetFileNameWithoutExtension(fileName));
    }

    /// <summary>
    /// The entry's file name for <paramref name="stem"/> (<c>ostree-2-os</c>), as libostree names it with boot counting
    /// on (<paramref name="maxTries"/> above 0): a new entry gets <c>+MAX</c>, an entry read with a counter keeps it as
    /// <c>+LEFT-DONE</c>, any other gets none.
    /// </summary>
    internal string FileNameFor(string stem, int maxTries) =>
        maxTries == 0 ? stem + ".conf"
        : FileName is null ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{stem}+{maxTries}.conf")
        : Tries == (0, 0) ? stem + ".conf"
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{stem}+{Tries.Left}-{Tries.Done}.conf");

    /// <summary>A copy.</summary>
    public BootEntry Clone()
    {
        var c = new BootEntry();
        foreach (var k in _order)
        {
            c[k] = _values[k];
        }

        c.OverlayInitrds.AddRange(OverlayInitrds);
        c.FileName = FileName;
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
