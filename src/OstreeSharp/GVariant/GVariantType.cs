// GVariant type strings: the subset ostree uses (spec: ostree-repo-format.md, section 1.1).
using System.Collections.Concurrent;

namespace OstreeSharp.GVariant;

/// <summary>A parsed GVariant type string with its alignment and fixed size.</summary>
public sealed class GVariantType
{
    /// <summary>
    /// The deepest nesting GLib accepts (<c>G_VARIANT_MAX_RECURSION_DEPTH</c>), in type strings and in values
    /// (containers and variants together); deeper input is refused before anything recurses that far.
    /// </summary>
    public const int MaxDepth = 128;

    // Types parsed so far, for reuse; bounded, since type strings also come from untrusted variants.
    private const int CacheLimit = 4096;
    private static readonly ConcurrentDictionary<string, GVariantType> Cache = new(StringComparer.Ordinal);

    private GVariantType(char kind, string text, GVariantType? element, GVariantType[] members)
    {
        Kind = kind;
        Text = text;
        Element = element;
        Members = members;
        (Alignment, FixedSize) = ComputeLayout();
        Depth = 1 + Math.Max(element?.Depth ?? 0, members.Length == 0 ? 0 : members.Max(m => m.Depth));
    }

    /// <summary>Levels of nesting: 1 for a basic type or <c>v</c>, one more for each container around it.</summary>
    public int Depth { get; }

    /// <summary>The type character: a basic type, 'v', 'm', 'a', '(' or '{'.</summary>
    public char Kind { get; }

    /// <summary>The type string, e.g. <c>a{sv}</c>.</summary>
    public string Text { get; }

    /// <summary>Element type of an array or maybe.</summary>
    public GVariantType? Element { get; }

    /// <summary>Members of a tuple or dict entry.</summary>
    public IReadOnlyList<GVariantType> Members { get; }

    /// <summary>Alignment in bytes (1, 2, 4 or 8).</summary>
    public int Alignment { get; }

    /// <summary>Fixed size in bytes, or 0 when the type is variable-size.</summary>
    public int FixedSize { get; }

    /// <summary>True when every value of the type has the same size.</summary>
    public bool IsFixedSize => FixedSize > 0;

    /// <summary>True for array types.</summary>
    public bool IsArray => Kind == 'a';

    /// <summary>True for tuples and dict entries.</summary>
    public bool IsTuple => Kind is '(' or '{';

    /// <summary>The type <c>b</c>.</summary>
    public static readonly GVariantType Boolean = Parse("b");
    /// <summary>The type <c>y</c>.</summary>
    public static readonly GVariantType Byte = Parse("y");
    /// <summary>The type <c>u</c>.</summary>
    public static readonly GVariantType UInt32 = Parse("u");
    /// <summary>The type <c>t</c>.</summary>
    public static readonly GVariantType UInt64 = Parse("t");
    /// <summary>The type <c>s</c>.</summary>
    public static readonly GVariantType String = Parse("s");
    /// <summary>The type <c>v</c>.</summary>
    public static readonly GVariantType Variant = Parse("v");
    /// <summary>The type <c>ay</c>.</summary>
    public static readonly GVariantType ByteArray = Parse("ay");
    /// <summary>The type <c>a{sv}</c>.</summary>
    public static readonly GVariantType VarDict = Parse("a{sv}");
    /// <summary>The type <c>as</c>.</summary>
    public static readonly GVariantType StringArray = Parse("as");
    /// <summary>The type <c>aay</c>.</summary>
    public static readonly GVariantType ByteArrayArray = Parse("aay");

    /// <summary>Parses one complete type string.</summary>
    /// <exception cref="GVariantFormatException">The string is not exactly one valid type.</exception>
    public static GVariantType Parse(string text)
    {
        if (Cache.TryGetValue(text, out var cached))
        {
            return cached;
        }

        int pos = 0;
        var t = ParseOne(text, ref pos, 1);
        if (pos != text.Length)
        {
            throw new GVariantFormatException($"invalid GVariant type string '{Clip(text)}'", pos);
        }

        if (Cache.Count < CacheLimit)
        {
            Cache.TryAdd(text, t);
        }

        return t;
    }

    /// <summary>Tries to parse a type string; false when it is not exactly one valid type.</summary>
    public static bool TryParse(string text, out GVariantType? type)
    {
        try
        {
            type = Parse(text);
            return true;
        }
        catch (GVariantFormatException)
        {
            type = null;
            return false;
        }
    }

    // A type string in an error message (they come from untrusted data too): cut when long, control and non-ASCII
    // characters escaped.
    internal static string Clip(string s)
    {
        var sb = new System.Text.StringBuilder();
        foreach (char c in s.Length <= 64 ? s : s[..64])
        {
            sb.Append(c is >= ' ' and <= '~' ? c.ToString() : $"\\x{(int)c:x2}");
        }

        return s.Length <= 64 ? sb.ToString() : sb + "...";
    }

    private static GVariantType ParseOne(string s, ref int pos, int depth)
    {
        if (pos >= s.Length)
        {
            throw new GVariantFormatException($"truncated GVariant type string '{Clip(s)}'", pos);
        }

        if (depth > MaxDepth)
        {
            throw new GVariantFormatException($"GVariant type string '{Clip(s)}' is nested more than {MaxDepth} levels deep", pos);
        }

        int start = pos;
        char c = s[pos++];
        switch (c)
        {
            case 'b' or 'y' or 'n' or 'q' or 'i' or 'u' or 'h' or 'x' or 't' or 'd' or 's' or 'o' or 'g' or 'v':
                return Intern(c, c.ToString(), null, []);
            case 'a' or 'm':
                {
                    var elem = ParseOne(s, ref pos, depth + 1);
                    return Intern(c, s[start..pos], elem, []);
                }

            case '(':
                {
                    var members = new List<GVariantType>();
                    while (pos < s.Length && s[pos] != ')')
                    {
                        members.Add(ParseOne(s, ref pos, depth + 1));
                    }

                    if (pos >= s.Length)
                    {
                        throw new GVariantFormatException($"unterminated tuple in GVariant type string '{Clip(s)}'", pos);
                    }

                    pos++;
                    return Intern('(', s[start..pos], null, [.. members]);
                }

            case '{':
                {
                    var key = ParseOne(s, ref pos, depth + 1);
                    if (key.Kind is 'v' or 'a' or 'm' or '(' or '{')
                    {
                        throw new GVariantFormatException($"dict entry key must be a basic type in '{Clip(s)}'", pos);
                    }

                    var value = ParseOne(s, ref pos, depth + 1);
                    if (pos >= s.Length || s[pos] != '}')
                    {
                        throw new GVariantFormatException($"unterminated dict entry in GVariant type string '{Clip(s)}'", pos);
                    }

                    pos++;
                    return Intern('{', s[start..pos], null, [key, value]);
                }

            default:
                throw new GVariantFormatException($"invalid character '{Clip(c.ToString())}' in GVariant type string '{Clip(s)}'", start);
        }
    }

    private static GVariantType Intern(char kind, string text, GVariantType? element, GVariantType[] members) =>
        Cache.TryGetValue(text, out var t) ? t
        : Cache.Count < CacheLimit ? Cache.GetOrAdd(text, _ => new GVariantType(kind, text, element, members))
        : new GVariantType(kind, text, element, members);

    private (int Align, int Fixed) ComputeLayout()
    {
        switch (Kind)
        {
            case 'b' or 'y': return (1, 1);
            case 'n' or 'q': return (2, 2);
            case 'i' or 'u' or 'h': return (4, 4);
            case 'x' or 't' or 'd': return (8, 8);
            case 's' or 'o' or 'g': return (1, 0);
            case 'v': return (8, 0);
            case 'a' or 'm': return (Element!.Alignment, 0);
            default:
                {
                    int align = 1;
                    int offset = 0;
                    bool fixedSize = true;
                    foreach (var m in Members)
                    {
                        align = Math.Max(align, m.Alignment);
                        if (!m.IsFixedSize)
                        {
                            fixedSize = false;
                        }
                        else
                        {
                            offset = AlignUp(offset, m.Alignment) + m.FixedSize;
                        }
                    }

                    if (!fixedSize)
                    {
                        return (align, 0);
                    }

                    return Members.Count == 0 ? (1, 1) : (align, AlignUp(offset, align));
                }
        }
    }

    internal static int AlignUp(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);

    /// <inheritdoc />
    public override string ToString() => Text;
}
