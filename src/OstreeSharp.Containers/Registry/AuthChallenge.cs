using System.Text;

namespace OstreeSharp.Containers.Registry;

/// <summary>One challenge of a <c>WWW-Authenticate</c> header: a scheme and its parameters.</summary>
internal sealed record AuthChallenge(string Scheme, IReadOnlyDictionary<string, string> Parameters)
{
    /// <summary>The parameter, or null.</summary>
    public string? this[string name] => Parameters.TryGetValue(name, out var v) ? v : null;

    /// <summary>
    /// Parses a header value (RFC 7235): <c>Scheme k=v, k="quoted", ...</c>, possibly several challenges.
    /// </summary>
    /// <exception cref="RegistryAuthException">The header cannot be parsed; the message names <paramref name="url"/>.</exception>
    public static IReadOnlyList<AuthChallenge> Parse(string header, string url)
    {
        ArgumentNullException.ThrowIfNull(header);
        var result = new List<AuthChallenge>();
        int i = 0;
        Exception Bad(string why) => new RegistryAuthException($"Malformed WWW-Authenticate header from {url}: {why}: '{header}'");
        void SkipSpace()
        {
            while (i < header.Length && header[i] is ' ' or '\t')
            {
                i++;
            }
        }

        string Token()
        {
            int start = i;
            while (i < header.Length && IsTokenChar(header[i]))
            {
                i++;
            }

            return header[start..i];
        }

        while (true)
        {
            SkipSpace();
            while (i < header.Length && header[i] == ',')
            {
                i++;
                SkipSpace();
            }

            if (i >= header.Length)
            {
                break;
            }

            var scheme = Token();
            if (scheme.Length == 0)
            {
                throw Bad($"expected an auth scheme at offset {i}");
            }

            var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            SkipSpace();
            while (i < header.Length)
            {
                int save = i;
                var name = Token();
                SkipSpace();
                if (name.Length == 0 || i >= header.Length || header[i] != '=')
                {
                    // Not a parameter: the start of the next challenge (or token68, which we do not use).
                    i = save;
                    if (name.Length == 0 && i < header.Length && header[i] != ',')
                    {
                        throw Bad($"unexpected '{header[i]}' at offset {i}");
                    }

                    break;
                }

                i++;
                SkipSpace();
                string value;
                if (i < header.Length && header[i] == '"')
                {
                    i++;
                    var sb = new StringBuilder();
                    bool closed = false;
                    while (i < header.Length)
                    {
                        char c = header[i++];
                        if (c == '\\' && i < header.Length)
                        {
                            sb.Append(header[i++]);
                        }
                        else if (c == '"')
                        {
                            closed = true;
                            break;
                        }
                        else
                        {
                            sb.Append(c);
                        }
                    }

                    if (!closed)
                    {
                        throw Bad($"unterminated quoted value of '{name}'");
                    }

                    value = sb.ToString();
                }
                else
                {
                    value = Token();
                    if (value.Length == 0)
                    {
                        throw Bad($"empty value of '{name}'");
                    }
                }

                parameters[name] = value;
                SkipSpace();
                if (i < header.Length)
                {
                    if (header[i] != ',')
                    {
                        throw Bad($"expected ',' at offset {i}");
                    }

                    i++;
                    SkipSpace();
                }
            }

            result.Add(new AuthChallenge(scheme, parameters));
        }

        if (result.Count == 0)
        {
            throw Bad("no challenge");
        }

        foreach (var c in result.Where(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)))
        {
            if (string.IsNullOrEmpty(c["realm"]) || !Uri.TryCreate(c["realm"], UriKind.Absolute, out var realm) || realm.Scheme is not ("http" or "https"))
            {
                throw Bad("Bearer challenge without an absolute http(s) realm");
            }
        }

        return result;
    }

    private static bool IsTokenChar(char c) => c > ' ' && c < 127 && "()<>@,;:\\\"/[]?={} \t".IndexOf(c, StringComparison.Ordinal) < 0 || c == '/';
}
