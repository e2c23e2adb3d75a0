// S-expressions as gpg-agent stores keys (private-keys-v1.d): the canonical form (length-prefixed
// atoms) and the advanced text form of the "extended key format" (tokens, #hex#, "strings", |base64|).
using System.Text;

namespace OstreeSharp.Signing;

/// <summary>An S-expression: an atom (bytes) or a list.</summary>
internal sealed class SExpression
{
    private SExpression(byte[]? atom, List<SExpression>? list)
    {
        Atom = atom;
        List = list;
    }

    public byte[]? Atom { get; }

    public List<SExpression>? List { get; }

    public bool IsList => List is not null;

    public string? Text => Atom is null ? null : Encoding.UTF8.GetString(Atom);

    /// <summary>The list's first element as text (its "name"), or null.</summary>
    public string? Name => List is { Count: > 0 } l ? l[0].Text : null;

    /// <summary>The first sub-list named <paramref name="name"/>.</summary>
    public SExpression? Find(string name) => List?.FirstOrDefault(e => e.Name == name);

    /// <summary>The atom value of sub-list <c>(name value)</c>.</summary>
    public byte[]? Value(string name) => Find(name) is { List: { Count: >= 2 } l } ? l[1].Atom : null;

    /// <summary>The canonical encoding, as libgcrypt produces it.</summary>
    public byte[] ToCanonical()
    {
        using var ms = new MemoryStream();
        WriteCanonical(ms, null);
        return ms.ToArray();
    }

    /// <summary>The canonical encoding with <paramref name="hole"/> (a descendant) left out.</summary>
    public byte[] ToCanonicalWithout(SExpression hole)
    {
        using var ms = new MemoryStream();
        WriteCanonical(ms, hole);
        return ms.ToArray();
    }

    private void WriteCanonical(MemoryStream ms, SExpression? hole)
    {
        if (Atom is not null)
        {
            var len = Encoding.ASCII.GetBytes(Atom.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":");
            ms.Write(len);
            ms.Write(Atom);
            return;
        }

        ms.WriteByte((byte)'(');
        foreach (var e in List!)
        {
            if (!ReferenceEquals(e, hole))
            {
                e.WriteCanonical(ms, hole);
            }
        }

        ms.WriteByte((byte)')');
    }

    /// <summary>Parses one S-expression in canonical or advanced form.</summary>
    /// <exception cref="OstreeFormatException">Malformed input.</exception>
    public static SExpression Parse(ReadOnlySpan<byte> text)
    {
        int pos = 0;
        return ParseOne(text, ref pos);
    }

    // Hex and base64 in an expression: .NET's decoders throw FormatException, which becomes the parser's typed error.
    private static byte[] Decode(Func<string, byte[]> decoder, string text, string what, int at)
    {
        try
        {
            return decoder(text);
        }
        catch (FormatException)
        {
            throw new OstreeFormatException($"invalid {what} in S-expression at byte {at}");
        }
    }

    private static void SkipSpace(ReadOnlySpan<byte> t, ref int pos)
    {
        while (pos < t.Length && t[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f')
        {
            pos++;
        }
    }

    /// <summary>Lists nested deeper than this are refused (keys nest four or five levels).</summary>
    public const int MaxDepth = 64;

    private static SExpression ParseOne(ReadOnlySpan<byte> t, ref int pos, int depth = 0)
    {
        if (depth > MaxDepth)
        {
            throw new OstreeFormatException($"S-expression nested more than {MaxDepth} levels deep");
        }

        SkipSpace(t, ref pos);
        if (pos >= t.Length)
        {
            throw new OstreeFormatException("S-expression ends early");
        }

        byte c = t[pos];
        if (c == (byte)'(')
        {
            pos++;
            var list = new List<SExpression>();
            while (true)
            {
                SkipSpace(t, ref pos);
                if (pos >= t.Length)
                {
                    throw new OstreeFormatException("unclosed list in S-expression");
                }

                if (t[pos] == (byte)')')
                {
                    pos++;
                    return new SExpression(null, list);
                }

                list.Add(ParseOne(t, ref pos, depth + 1));
            }
        }

        if (c is >= (byte)'0' and <= (byte)'9')
        {
            int start = pos;
            while (pos < t.Length && t[pos] is >= (byte)'0' and <= (byte)'9')
            {
                pos++;
            }

            if (pos < t.Length && t[pos] == (byte)':')
            {
                if (!int.TryParse(t[start..pos], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int len))
                {
                    throw new OstreeFormatException("S-expression atom length is too large");
                }

                pos++;
                if (len < 0 || pos + len > t.Length)
                {
                    throw new OstreeFormatException("S-expression atom runs past the end");
                }

                var atom = t.Slice(pos, len).ToArray();
                pos += len;
                return new SExpression(atom, null);
            }

            pos = start; // a token that starts with a digit
        }

        switch (c)
        {
            case (byte)'#':
            {
                int end = t[(pos + 1)..].IndexOf((byte)'#');
                if (end < 0)
                {
                    throw new OstreeFormatException("unterminated #hex# in S-expression");
                }

                var hex = Encoding.ASCII.GetString(t.Slice(pos + 1, end)).Where(ch => !char.IsWhiteSpace(ch)).ToArray();
                pos += end + 2;
                return new SExpression(Decode(Convert.FromHexString, new string(hex), "#hex#", pos), null);
            }

            case (byte)'|':
            {
                int end = t[(pos + 1)..].IndexOf((byte)'|');
                if (end < 0)
                {
                    throw new OstreeFormatException("unterminated |base64| in S-expression");
                }

                var b64 = Encoding.ASCII.GetString(t.Slice(pos + 1, end)).Where(ch => !char.IsWhiteSpace(ch)).ToArray();
                pos += end + 2;
                return new SExpression(Decode(Convert.FromBase64String, new string(b64), "|base64|", pos), null);
            }

            case (byte)'"':
            {
                pos++;
                var sb = new List<byte>();
                while (true)
                {
                    if (pos >= t.Length)
                    {
                        throw new OstreeFormatException("unterminated string in S-expression");
                    }

                    byte ch = t[pos++];
                    if (ch == (byte)'"')
                    {
                        break;
                    }

                    if (ch == (byte)'\\' && pos < t.Length)
                    {
                        byte e = t[pos++];
                        switch (e)
                        {
                            case (byte)'b': sb.Add(8); break;
                            case (byte)'t': sb.Add(9); break;
                            case (byte)'v': sb.Add(11); break;
                            case (byte)'n': sb.Add(10); break;
                            case (byte)'f': sb.Add(12); break;
                            case (byte)'r': sb.Add(13); break;
                            case (byte)'x' when pos + 2 <= t.Length:
                                sb.Add(Decode(Convert.FromHexString, Encoding.ASCII.GetString(t.Slice(pos, 2)), "\\x escape", pos)[0]);
                                pos += 2;
                                break;
                            case >= (byte)'0' and <= (byte)'7' when pos + 2 <= t.Length:
                                sb.Add((byte)(((e - '0') << 6) | ((t[pos] - '0') << 3) | (t[pos + 1] - '0')));
                                pos += 2;
                                break;
                            case (byte)'\n':
                                if (pos < t.Length && t[pos] == (byte)'\r')
                                {
                                    pos++;
                                }

                                break;
                            case (byte)'\r':
                                if (pos < t.Length && t[pos] == (byte)'\n')
                                {
                                    pos++;
                                }

                                break;
                            default: sb.Add(e); break;
                        }

                        continue;
                    }

                    sb.Add(ch);
                }

                return new SExpression(sb.ToArray(), null);
            }

            default:
            {
                int start = pos;
                while (pos < t.Length && t[pos] is not ((byte)'(' or (byte)')' or (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'"' or (byte)'#' or (byte)'|'))
                {
                    pos++;
                }

                if (pos == start)
                {
                    throw new OstreeFormatException($"unexpected '{(char)c}' in S-expression");
                }

                return new SExpression(t[start..pos].ToArray(), null);
            }
        }
    }
}
