using System.Text;

namespace OstreeSharp.Internal;

/// <summary>Error messages that stay readable whatever an input put in them.</summary>
internal static class MessageText
{
    /// <summary>Words (runs without a space) longer than this are clipped in <see cref="OneLine"/>.</summary>
    public const int MaxWord = 512;

    /// <summary>
    /// <paramref name="s"/> as printable text: control characters as <c>\xNN</c>, and clipped to
    /// <paramref name="max"/> characters, the rest replaced by <c>...</c> and the full length.
    /// </summary>
    public static string Quote(string s, int max = 128)
    {
        ArgumentNullException.ThrowIfNull(s);
        var sb = new StringBuilder(Math.Min(s.Length, max) + 24);
        AppendEscaped(sb, s.AsSpan(0, Math.Min(s.Length, max)));
        if (s.Length > max)
        {
            sb.Append(FormattableString.Invariant($"... ({s.Length} characters)"));
        }

        return sb.ToString();
    }

    /// <summary>
    /// A message made fit for one line of a terminal or log: line breaks become spaces, other control characters
    /// <c>\xNN</c>, and a word longer than <see cref="MaxWord"/> characters (a huge path or name) is clipped.
    /// </summary>
    public static string OneLine(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var sb = new StringBuilder(Math.Min(message.Length, 4096));
        int i = 0;
        while (i < message.Length)
        {
            int end = i;
            while (end < message.Length && message[end] is not (' ' or '\n' or '\r'))
            {
                end++;
            }

            var word = message.AsSpan(i, end - i);
            if (word.Length > MaxWord)
            {
                AppendEscaped(sb, word[..(MaxWord - 64)]);
                sb.Append(FormattableString.Invariant($"...({word.Length} characters)..."));
                AppendEscaped(sb, word[^32..]);
            }
            else
            {
                AppendEscaped(sb, word);
            }

            if (end < message.Length)
            {
                sb.Append(' ');
                end++;
                if (message[end - 1] == '\r' && end < message.Length && message[end] == '\n')
                {
                    end++;
                }
            }

            i = end;
        }

        return sb.ToString();
    }

    private static void AppendEscaped(StringBuilder sb, ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (c < ' ' || c is (>= '\x7f' and <= '\x9f'))
            {
                sb.Append(FormattableString.Invariant($"\\x{(int)c:x2}"));
            }
            else
            {
                sb.Append(c);
            }
        }
    }
}
