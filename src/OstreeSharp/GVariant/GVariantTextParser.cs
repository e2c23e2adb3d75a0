// Parses the GVariant text format (as g_variant_parse does) for the forms ostree users pass
// to `commit --add-metadata=KEY=VALUE`.
using System.Globalization;
using System.Text;

namespace OstreeSharp.GVariant;

/// <summary>Parses GVariant text such as <c>'str'</c>, <c>uint64 5</c>, <c>['a', 'b']</c>, <c>&lt;1&gt;</c>, <c>@as []</c>.</summary>
public sealed class GVariantTextParser
{
    private readonly string _s;
    private int _pos;
    private int _depth;

    private GVariantTextParser(string s) => _s = s;

    /// <summary>Parses <paramref name="text"/>; <paramref name="expected"/> fixes the type when given.</summary>
    /// <exception cref="GVariantFormatException">The text cannot be parsed.</exception>
    public static GVariantValue Parse(string text, GVariantType? expected = null)
    {
        var p = new GVariantTextParser(text);
        var v = p.ParseValue(expected);
        p.SkipWs();
        if (p._pos != p._s.Length)
        {
            throw p.Error("unexpected trailing text");
        }

        return v;
    }

    // Elements of one array must have one type: '[1, <2>]' or "{'a': 1, 'b': <3.5>}" are refused as GLib refuses them.
    private GVariantValue Array(GVariantType elementType, List<GVariantValue> items)
    {
        foreach (var item in items)
        {
            if (item.Type.Text != elementType.Text)
            {
                throw Error($"array elements of different types: {elementType.Text} and {item.Type.Text}");
            }
        }

        return GVariantValue.FromArray(elementType, items);
    }

    private GVariantFormatException Error(string what) => new($"cannot parse GVariant text '{GVariantType.Clip(_s)}': {what}", _pos);

    private void SkipWs()
    {
        while (_pos < _s.Length && char.IsWhiteSpace(_s[_pos]))
        {
            _pos++;
        }
    }

    private bool TryKeyword(string kw)
    {
        SkipWs();
        if (string.CompareOrdinal(_s, _pos, kw, 0, kw.Length) == 0 &&
            (_pos + kw.Length == _s.Length || !char.IsLetterOrDigit(_s[_pos + kw.Length])))
        {
            _pos += kw.Length;
            return true;
        }

        return false;
    }

    private void Expect(char c)
    {
        SkipWs();
        if (_pos >= _s.Length || _s[_pos] != c)
        {
            throw Error($"expected '{c}'");
        }

        _pos++;
    }

    // Every nested value passes through here: the nesting is counted, and refused past GLib's limit.
    private GVariantValue ParseValue(GVariantType? expected)
    {
        if (++_depth > GVariantType.MaxDepth)
        {
            throw Error($"values nested more than {GVariantType.MaxDepth} levels deep");
        }

        try
        {
            return ParseValueAt(expected);
        }
        finally
        {
            _depth--;
        }
    }

    private GVariantValue ParseValueAt(GVariantType? expected)
    {
        SkipWs();
        if (_pos >= _s.Length)
        {
            throw Error("unexpected end of text");
        }

        char c = _s[_pos];
        if (c == '@')
        {
            _pos++;
            int start = _pos;
            int depth = 0;
            while (_pos < _s.Length && (depth > 0 || !char.IsWhiteSpace(_s[_pos])))
            {
                depth += _s[_pos] is '(' or '{' ? 1 : _s[_pos] is ')' or '}' ? -1 : 0;
                _pos++;
            }

            if (!GVariantType.TryParse(_s[start.._pos], out var t))
            {
                throw Error("invalid type annotation");
            }

            var annotated = ParseValue(t);
            return annotated.Type.ToString() == t!.ToString() ? annotated : throw Error($"a value of type {annotated.Type} where the annotation says {t}");
        }

        if (TryKeyword("nothing"))
        {
            if (expected is null || expected.Kind != 'm')
            {
                throw Error("'nothing' needs a maybe type annotation");
            }

            return GVariantValue.FromMaybe(expected.Element!, null);
        }

        if (TryKeyword("just"))
        {
            var inner = ParseValue(expected?.Element);
            return GVariantValue.FromMaybe(inner.Type, inner);
        }

        // A maybe is printed as its value when it has one (@mb false): the value is read as the maybe's element.
        if (expected is { Kind: 'm' })
        {
            var inner = ParseValue(expected.Element);
            return GVariantValue.FromMaybe(inner.Type, inner);
        }

        string[] numericKeywords = ["byte", "int16", "uint16", "int32", "uint32", "int64", "uint64", "double", "handle"];
        string[] numericTypes = ["y", "n", "q", "i", "u", "x", "t", "d", "h"];
        for (int k = 0; k < numericKeywords.Length; k++)
        {
            if (TryKeyword(numericKeywords[k]))
            {
                return ParseNumber(GVariantType.Parse(numericTypes[k]));
            }
        }

        if (TryKeyword("string"))
        {
            return ParseValue(GVariantType.String);
        }

        if (TryKeyword("objectpath"))
        {
            return GVariantValue.FromString(ParseString(), 'o');
        }

        if (TryKeyword("signature"))
        {
            return GVariantValue.FromString(ParseString(), 'g');
        }

        if (TryKeyword("true"))
        {
            return GVariantValue.FromBoolean(true);
        }

        if (TryKeyword("false"))
        {
            return GVariantValue.FromBoolean(false);
        }

        c = _s[_pos];

        if (c is '\'' or '"')
        {
            var str = ParseString();
            return expected is { Kind: 'o' or 'g' } ? GVariantValue.FromString(str, expected.Kind) : GVariantValue.FromString(str);
        }

        if (c == 'b' && _pos + 1 < _s.Length && _s[_pos + 1] is '\'' or '"')
        {
            _pos++;
            return GVariantValue.FromBytes(ParseByteString());
        }

        if (c == '<')
        {
            _pos++;
            var inner = ParseValue(null);
            Expect('>');
            return GVariantValue.FromVariant(inner);
        }

        if (c == '[')
        {
            return ParseArray(expected);
        }

        if (c == '(')
        {
            return ParseTuple(expected);
        }

        if (c == '{')
        {
            return ParseDict(expected);
        }

        if (char.IsDigit(c) || c is '-' or '+' or '.')
        {
            return ParseNumber(expected);
        }

        throw Error($"unexpected character '{c}'");
    }

    private GVariantValue ParseNumber(GVariantType? type)
    {
        SkipWs();
        int start = _pos;
        while (_pos < _s.Length && (char.IsLetterOrDigit(_s[_pos]) || _s[_pos] is '-' or '+' or '.'))
        {
            _pos++;
        }

        string tok = _s[start.._pos];
        bool isFloat = (tok.Contains('.', StringComparison.Ordinal) || tok.Contains('e', StringComparison.OrdinalIgnoreCase)) && !tok.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        type ??= isFloat ? GVariantType.Parse("d") : GVariantType.Parse("i");
        if (type.Kind == 'd')
        {
            if (!double.TryParse(tok, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            {
                throw Error($"invalid number '{tok}'");
            }

            return GVariantValue.FromDouble(d);
        }

        bool neg = tok.StartsWith('-');
        string digits = tok.TrimStart('-', '+');
        ulong mag;
        bool ok = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(digits.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out mag)
            : ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out mag);
        if (!ok)
        {
            throw Error($"invalid number '{tok}'");
        }

        (long min, ulong max) = type.Kind switch
        {
            'y' => (0L, (ulong)byte.MaxValue),
            'n' => (short.MinValue, (ulong)short.MaxValue),
            'q' => (0L, (ulong)ushort.MaxValue),
            'i' or 'h' => (int.MinValue, (ulong)int.MaxValue),
            'u' => (0L, (ulong)uint.MaxValue),
            'x' => (long.MinValue, (ulong)long.MaxValue),
            't' => (0L, ulong.MaxValue),
            _ => throw Error($"a number cannot have type '{type}'"),
        };
        if ((!neg && mag > max) || (neg && (min == 0 || mag > (ulong)(-(min + 1)) + 1)))
        {
            throw Error($"number '{tok}' out of range for '{type}'");
        }

        ulong bits = neg ? unchecked(0UL - mag) : mag;
        return GVariantValue.FromNumberBits(type, bits);
    }

    private string ParseString()
    {
        SkipWs();
        if (_pos >= _s.Length)
        {
            throw Error("expected a string");
        }

        char quote = _s[_pos++];
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _s.Length)
            {
                throw Error("unterminated string");
            }

            char c = _s[_pos++];
            if (c == quote)
            {
                // GVariant strings are NUL-terminated: a NUL inside one cannot be represented.
                return sb.ToString().Contains('\0', StringComparison.Ordinal) ? throw Error("a string cannot contain NUL") : sb.ToString();
            }

            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (_pos >= _s.Length)
            {
                throw Error("unterminated escape");
            }

            c = _s[_pos++];
            switch (c)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'u' or 'U':
                    {
                        int len = c == 'u' ? 4 : 8;
                        if (_pos + len > _s.Length || !int.TryParse(_s.AsSpan(_pos, len), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int cp)
                            || cp is < 0 or > 0x10FFFF or (>= 0xD800 and <= 0xDFFF))
                        {
                            throw Error("invalid unicode escape");
                        }

                        sb.Append(char.ConvertFromUtf32(cp));
                        _pos += len;
                        break;
                    }

                default: sb.Append(c); break;
            }
        }
    }

    // b'...': bytes as GLib reads them, where '\NNN' (one to three octal digits) is one byte, as the printer writes
    // bytes outside printable ASCII. The value gets a terminating NUL, as GLib gives it.
    private byte[] ParseByteString()
    {
        if (_pos >= _s.Length)
        {
            throw Error("expected a byte string");
        }

        char quote = _s[_pos++];
        var bytes = new List<byte>();
        Span<byte> utf8 = stackalloc byte[4];
        while (true)
        {
            if (_pos >= _s.Length)
            {
                throw Error("unterminated byte string");
            }

            char c = _s[_pos++];
            if (c == quote)
            {
                bytes.Add(0);
                return [.. bytes];
            }

            if (c == '\\')
            {
                if (_pos >= _s.Length)
                {
                    throw Error("unterminated escape");
                }

                c = _s[_pos++];
                if (c is >= '0' and <= '7')
                {
                    int value = c - '0';
                    for (int i = 0; i < 2 && _pos < _s.Length && _s[_pos] is >= '0' and <= '7'; i++)
                    {
                        value = (value * 8) + (_s[_pos++] - '0');
                    }

                    if (value > 0xff)
                    {
                        throw Error("octal escape out of range");
                    }

                    bytes.Add((byte)value);
                    continue;
                }

                c = c switch { 'n' => '\n', 't' => '\t', 'r' => '\r', 'a' => '\a', 'b' => '\b', 'f' => '\f', 'v' => '\v', _ => c };
            }

            if (char.IsSurrogate(c))
            {
                if (!char.IsHighSurrogate(c) || _pos >= _s.Length || !char.IsLowSurrogate(_s[_pos]))
                {
                    throw Error("invalid UTF-16 in a byte string");
                }

                int n = Encoding.UTF8.GetBytes([c, _s[_pos++]], utf8);
                bytes.AddRange(utf8[..n]);
            }
            else
            {
                int n = Encoding.UTF8.GetBytes([c], utf8);
                bytes.AddRange(utf8[..n]);
            }
        }
    }

    private GVariantValue ParseArray(GVariantType? expected)
    {
        Expect('[');
        var elemType = expected?.Kind == 'a' ? expected.Element : null;
        var items = new List<GVariantValue>();
        SkipWs();
        if (_pos < _s.Length && _s[_pos] == ']')
        {
            _pos++;
            if (elemType is null)
            {
                throw Error("an empty array needs a type annotation such as @as []");
            }

            return Array(elemType, items);
        }

        while (true)
        {
            var item = ParseValue(elemType);
            elemType ??= item.Type;
            if (!ReferenceEquals(item.Type, elemType))
            {
                throw Error($"array element of type '{item.Type}' differs from '{elemType}'");
            }

            items.Add(item);
            SkipWs();
            if (_pos < _s.Length && _s[_pos] == ',')
            {
                _pos++;
                continue;
            }

            Expect(']');
            return Array(elemType, items);
        }
    }

    private GVariantValue ParseTuple(GVariantType? expected)
    {
        Expect('(');
        var members = new List<GVariantValue>();
        SkipWs();
        if (_pos < _s.Length && _s[_pos] == ')')
        {
            _pos++;
            return GVariantValue.FromTuple();
        }

        while (true)
        {
            var mt = expected is { Kind: '(' } && members.Count < expected.Members.Count ? expected.Members[members.Count] : null;
            members.Add(ParseValue(mt));
            SkipWs();
            if (_pos < _s.Length && _s[_pos] == ',')
            {
                _pos++;
                SkipWs();
                if (_pos < _s.Length && _s[_pos] == ')')
                {
                    _pos++;
                    return GVariantValue.FromTuple([.. members]);
                }

                continue;
            }

            Expect(')');
            return GVariantValue.FromTuple([.. members]);
        }
    }

    private GVariantValue ParseDict(GVariantType? expected)
    {
        Expect('{');
        // A dictionary is an array of dict entries: any other expected type (@as {...}) is an error, not a crash.
        var entryType = expected is null ? null
            : expected.Kind == 'a' && expected.Element!.Kind == '{' ? expected.Element
            : throw Error($"a dictionary where a value of type {expected} was expected");
        var entries = new List<GVariantValue>();
        SkipWs();
        if (_pos < _s.Length && _s[_pos] == '}')
        {
            _pos++;
            if (entryType is null)
            {
                throw Error("an empty dictionary needs a type annotation such as @a{sv} {}");
            }

            return Array(entryType, entries);
        }

        while (true)
        {
            var k = ParseValue(entryType?.Members[0]);
            Expect(':');
            var v = ParseValue(entryType?.Members[1]);
            var e = GVariantValue.FromDictEntry(k, v);
            entryType ??= e.Type;
            entries.Add(e);
            SkipWs();
            if (_pos < _s.Length && _s[_pos] == ',')
            {
                _pos++;
                continue;
            }

            Expect('}');
            return Array(entryType, entries);
        }
    }
}
