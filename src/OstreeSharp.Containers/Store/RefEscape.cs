using System.Globalization;
using System.Text;

namespace OstreeSharp.Containers.Store;

/// <summary>The ref-name escaping of ostree-ext's image store (ostree-container-format.md 4.7).</summary>
internal static class RefEscape
{
    /// <summary>Escapes <paramref name="text"/> into a valid ref name fragment.</summary>
    /// <exception cref="ContainerException">Empty, or an embedded NUL.</exception>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
        {
            throw new ContainerException(OstreeErrorCode.RefInvalid, "Invalid empty string for ref");
        }

        var sb = new StringBuilder(text.Length * 2);
        bool prevAlnum = false;
        var runes = text.EnumerateRunes().ToList();
        for (int i = 0; i < runes.Count; i++)
        {
            var r = runes[i];
            if (r.Value == 0)
            {
                throw new ContainerException(OstreeErrorCode.RefInvalid, "Invalid embedded NUL in string for ostree ref");
            }

            bool alnum = r.IsAscii && char.IsAsciiLetterOrDigit((char)r.Value);
            if (alnum || r.Value == '-')
            {
                sb.Append((char)r.Value);
            }
            else if (r.Value == '/' && prevAlnum && i != runes.Count - 1)
            {
                sb.Append('/');
            }
            else if (r.Value == '_')
            {
                sb.Append("__");
            }
            else
            {
                sb.Append('_').Append(r.Value.ToString("X2", CultureInfo.InvariantCulture)).Append('_');
            }

            prevAlnum = alnum;
        }

        return sb.ToString();
    }

    /// <summary>Reverses <see cref="Escape"/>.</summary>
    /// <exception cref="ContainerException">Not an escaped string.</exception>
    public static string Unescape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '/')
            {
                sb.Append(c);
            }
            else if (c == '_')
            {
                if (i + 1 < text.Length && text[i + 1] == '_')
                {
                    sb.Append('_');
                    i++;
                    continue;
                }

                int end = text.IndexOf('_', i + 1);
                if (end < 0 || !int.TryParse(text.AsSpan(i + 1, end - i - 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) || !Rune.IsValid(value))
                {
                    throw new ContainerException(OstreeErrorCode.RefInvalid, $"Invalid escaped ref fragment '{text}'");
                }

                sb.Append(new Rune(value).ToString());
                i = end;
            }
            else
            {
                throw new ContainerException(OstreeErrorCode.RefInvalid, $"Invalid character '{c}' in escaped ref '{text}'");
            }
        }

        return sb.ToString();
    }
}
