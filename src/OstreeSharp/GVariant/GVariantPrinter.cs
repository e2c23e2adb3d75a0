// GVariant text form as g_variant_print writes it (used by `show` and `--print-metadata-key`).
using System.Globalization;
using System.Text;

namespace OstreeSharp.GVariant;

internal static class GVariantPrinter
{
    public static string Print(GVariantValue v, bool annotate)
    {
        var sb = new StringBuilder();
        Append(sb, v, annotate);
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, GVariantValue v, bool annotate)
    {
        var t = v.Type;
        switch (t.Kind)
        {
            case 'b':
                sb.Append(v.GetBoolean() ? "true" : "false");
                break;
            case 'y':
                sb.Append(annotate ? "byte " : string.Empty).Append(CultureInfo.InvariantCulture, $"0x{v.GetByte():x2}");
                break;
            case 'n':
                sb.Append(annotate ? "int16 " : string.Empty).Append(unchecked((short)v.NumberBits).ToString(CultureInfo.InvariantCulture));
                break;
            case 'q':
                sb.Append(annotate ? "uint16 " : string.Empty).Append(((ushort)v.NumberBits).ToString(CultureInfo.InvariantCulture));
                break;
            case 'i':
                sb.Append(unchecked((int)v.NumberBits).ToString(CultureInfo.InvariantCulture));
                break;
            case 'u':
                sb.Append(annotate ? "uint32 " : string.Empty).Append(((uint)v.NumberBits).ToString(CultureInfo.InvariantCulture));
                break;
            case 'h':
                sb.Append(annotate ? "handle " : string.Empty).Append(unchecked((int)v.NumberBits).ToString(CultureInfo.InvariantCulture));
                break;
            case 'x':
                sb.Append(annotate ? "int64 " : string.Empty).Append(unchecked((long)v.NumberBits).ToString(CultureInfo.InvariantCulture));
                break;
            case 't':
                sb.Append(annotate ? "uint64 " : string.Empty).Append(v.NumberBits.ToString(CultureInfo.InvariantCulture));
                break;
            case 'd':
                {
                    var s = BitConverter.UInt64BitsToDouble(v.NumberBits).ToString("R", CultureInfo.InvariantCulture);
                    if (s.IndexOfAny(['.', 'E', 'e', 'N', 'I']) < 0)
                    {
                        s += ".0";
                    }

                    sb.Append(s);
                    break;
                }

            case 's':
                AppendQuoted(sb, v.GetString());
                break;
            case 'o':
                sb.Append(annotate ? "objectpath " : string.Empty);
                AppendQuoted(sb, v.GetString());
                break;
            case 'g':
                sb.Append(annotate ? "signature " : string.Empty);
                AppendQuoted(sb, v.GetString());
                break;
            case 'v':
                sb.Append('<');
                Append(sb, v.GetVariant(), true);
                sb.Append('>');
                break;
            case 'm':
                {
                    var child = v.GetMaybe();
                    if (annotate)
                    {
                        sb.Append('@').Append(t.Text).Append(' ');
                    }

                    if (child is null)
                    {
                        sb.Append("nothing");
                    }
                    else
                    {
                        if (child.Type.Kind == 'm')
                        {
                            sb.Append("just ");
                        }

                        Append(sb, child, false);
                    }

                    break;
                }

            case 'a':
                AppendArray(sb, v, annotate);
                break;
            case '(':
                {
                    var members = v.GetChildren();
                    sb.Append('(');
                    for (int k = 0; k < members.Count; k++)
                    {
                        if (k > 0)
                        {
                            sb.Append(", ");
                        }

                        Append(sb, members[k], annotate);
                    }

                    sb.Append(members.Count == 1 ? ",)" : ")");
                    break;
                }

            default:
                {
                    var kv = v.GetChildren();
                    sb.Append('{');
                    Append(sb, kv[0], annotate);
                    sb.Append(", ");
                    Append(sb, kv[1], annotate);
                    sb.Append('}');
                    break;
                }
        }
    }

    private static void AppendArray(StringBuilder sb, GVariantValue v, bool annotate)
    {
        var t = v.Type;
        if (t.Element!.Kind == 'y')
        {
            var bytes = v.GetBytes();
            if (bytes.Length > 0 && bytes[^1] == 0 && Array.IndexOf(bytes, (byte)0) == bytes.Length - 1)
            {
                AppendByteString(sb, bytes.AsSpan(0, bytes.Length - 1));
                return;
            }
        }

        int n = v.ChildCount;
        if (n == 0)
        {
            if (annotate)
            {
                sb.Append('@').Append(t.Text).Append(' ');
            }

            sb.Append(t.Element.Kind == '{' ? "{}" : "[]");
            return;
        }

        var items = v.GetChildren();
        if (t.Element.Kind == '{')
        {
            sb.Append('{');
            for (int k = 0; k < n; k++)
            {
                if (k > 0)
                {
                    sb.Append(", ");
                }

                var kv = items[k].GetChildren();
                Append(sb, kv[0], annotate);
                sb.Append(": ");
                Append(sb, kv[1], annotate);
                annotate = false;
            }

            sb.Append('}');
            return;
        }

        sb.Append('[');
        for (int k = 0; k < n; k++)
        {
            if (k > 0)
            {
                sb.Append(", ");
            }

            Append(sb, items[k], annotate);
            annotate = false;
        }

        sb.Append(']');
    }

    private static void AppendByteString(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        char quote = ChooseQuote(bytes.IndexOf((byte)'\'') >= 0, bytes.IndexOf((byte)'"') >= 0);
        sb.Append('b').Append(quote);
        foreach (byte b in bytes)
        {
            if (!TryAppendEscape(sb, b, quote))
            {
                sb.Append(b is >= 0x20 and < 0x7f ? ((char)b).ToString() : "\\" + Convert.ToString(b, 8).PadLeft(3, '0'));
            }
        }

        sb.Append(quote);
    }

    private static void AppendQuoted(StringBuilder sb, string s)
    {
        char quote = ChooseQuote(s.Contains('\'', StringComparison.Ordinal), s.Contains('"', StringComparison.Ordinal));
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (TryAppendEscape(sb, c, quote))
            {
                continue;
            }

            sb.Append(Rune.IsControl(rune)
                ? (c > 0xffff ? "\\U" + c.ToString("x8", CultureInfo.InvariantCulture) : "\\u" + c.ToString("x4", CultureInfo.InvariantCulture))
                : rune.ToString());
        }

        sb.Append(quote);
    }

    // GLib quotes with ' unless the text holds a ' and no ".
    private static char ChooseQuote(bool hasSingle, bool hasDouble) => hasSingle && !hasDouble ? '"' : '\'';

    private static bool TryAppendEscape(StringBuilder sb, int c, char quote)
    {
        string? esc = c switch
        {
            '\\' => "\\\\",
            7 => "\\a",
            8 => "\\b",
            12 => "\\f",
            10 => "\\n",
            13 => "\\r",
            9 => "\\t",
            11 => "\\v",
            _ => c == quote ? "\\" + quote : null,
        };
        if (esc is null)
        {
            return false;
        }

        sb.Append(esc);
        return true;
    }
}
