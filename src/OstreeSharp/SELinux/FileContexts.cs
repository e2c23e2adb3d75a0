// SELinux file contexts: libselinux's file_contexts backend (label_file), answering "label for this path and file type".
using System.Text.RegularExpressions;
using OstreeSharp.Objects;

namespace OstreeSharp.SELinux;

/// <summary>A malformed file_contexts line, named by file and line number.</summary>
public sealed class FileContextsFormatException(string message) : OstreeFormatException(OstreeErrorCode.InvalidFileContexts, message);

/// <summary>
/// The specifications of a policy's <c>file_contexts</c> (with <c>.homedirs</c> and <c>.local</c>) and its path
/// substitutions (<c>.subs</c>, <c>.subs_dist</c>), matched as libselinux does: exact paths first, then regular
/// expressions from the last line loaded to the first; the first match wins; <c>&lt;&lt;none&gt;&gt;</c> means no label.
/// </summary>
public sealed class FileContexts
{
    private readonly Spec[] _specs;
    private readonly int[] _stemless;
    private readonly Dictionary<string, int[]> _byStem;
    private readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _byStemLookup;
    private readonly (string From, string To)[] _subs;
    private readonly (string From, string To)[] _distSubs;

    private sealed class Spec(string regexText, bool hasMeta, string literalPrefix, string? stem, uint fileType, string? context, int order, string source, Regex? regex)
    {
        private Regex? _regex = regex;

        public string RegexText { get; } = regexText;

        public bool HasMeta { get; } = hasMeta;

        /// <summary>Whether the expression is plain text, so equality decides.</summary>
        public bool IsLiteral => LiteralPrefix.Length == RegexText.Length;

        public string LiteralPrefix { get; } = literalPrefix;

        public string? Stem { get; } = stem;

        public uint FileType { get; } = fileType;

        public string? Context { get; } = context;

        public int Order { get; } = order;

        public string Source { get; } = source;

        // libselinux anchors the expression as ^EXPR$ and compiles it with PCRE2_DOTALL.
        public Regex Regex => _regex ??= new Regex("^" + RegexText + "$", RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    private FileContexts(List<Spec> specs, (string, string)[] subs, (string, string)[] distSubs)
    {
        // libselinux's sort_specs: specifications without regular-expression characters move to the end (order
        // kept), and lookups walk from the end; so exact paths win over expressions, later lines over earlier ones.
        _specs = [.. specs.Where(s => s.HasMeta), .. specs.Where(s => !s.HasMeta)];

        // Per stem, the positions (ascending) of the specifications a key with that stem can match: its own and
        // the stemless ones; keys without a known stem only see the stemless ones.
        var stemless = Enumerable.Range(0, _specs.Length).Where(i => _specs[i].Stem is null).ToArray();
        _stemless = stemless;
        _byStem = _specs.Select(x => x.Stem).OfType<string>().Distinct(StringComparer.Ordinal).ToDictionary(
            stem => stem,
            stem => Enumerable.Range(0, _specs.Length).Where(i => _specs[i].Stem is null || _specs[i].Stem == stem).ToArray(),
            StringComparer.Ordinal);
        _byStemLookup = _byStem.GetAlternateLookup<ReadOnlySpan<char>>();
        _subs = subs;
        _distSubs = distSubs;
    }

    /// <summary>Number of specifications loaded.</summary>
    public int Count => _specs.Length;

    /// <summary>
    /// Loads <paramref name="fileContexts"/> and its <c>.homedirs</c>, <c>.local</c>, <c>.subs_dist</c> and
    /// <c>.subs</c> companions (those that exist).
    /// </summary>
    public static FileContexts Load(string fileContexts)
    {
        if (!File.Exists(fileContexts))
        {
            throw new OstreeException(OstreeErrorCode.InvalidData, $"{fileContexts}: no such file_contexts file");
        }

        var specs = new List<Spec>();
        foreach (var f in new[] { fileContexts, fileContexts + ".homedirs", fileContexts + ".local" })
        {
            if (File.Exists(f))
            {
                Parse(File.ReadAllText(f), f, specs);
            }
        }

        return new FileContexts(specs, ReadSubs(fileContexts + ".subs"), ReadSubs(fileContexts + ".subs_dist"));
    }

    /// <summary>Parses specification text (tests, in-memory policies).</summary>
    public static FileContexts Parse(string text, string source, string? subs = null, string? distSubs = null)
    {
        var specs = new List<Spec>();
        Parse(text, source, specs);
        return new FileContexts(specs, subs is null ? [] : ParseSubs(subs), distSubs is null ? [] : ParseSubs(distSubs));
    }

    private static void Parse(string text, string source, List<Spec> specs)
    {
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length is < 2 or > 3)
            {
                throw new FileContextsFormatException($"{source}:{lineNo}: expected 'REGEX [TYPE] CONTEXT', got '{line}'");
            }

            var regex = fields[0];
            uint type = 0;
            if (fields.Length == 3)
            {
                type = fields[1] switch
                {
                    "--" => UnixMode.Regular,
                    "-d" => UnixMode.Directory,
                    "-l" => UnixMode.Symlink,
                    "-c" => UnixMode.CharDevice,
                    "-b" => UnixMode.BlockDevice,
                    "-s" => UnixMode.Socket,
                    "-p" => UnixMode.Fifo,
                    _ => throw new FileContextsFormatException($"{source}:{lineNo}: invalid file type '{fields[1]}'"),
                };
            }

            var context = fields[^1];
            if (context != "<<none>>" && context.Split(':').Length < 3)
            {
                throw new FileContextsFormatException($"{source}:{lineNo}: invalid context '{context}'");
            }

            var (hasMeta, prefix, stem) = Analyse(regex);
            Regex? compiled = null;
            if (prefix.Length != regex.Length)
            {
                try
                {
                    compiled = new Regex("^" + regex + "$", RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                }
                catch (ArgumentException e)
                {
                    throw new FileContextsFormatException($"{source}:{lineNo}: invalid regular expression '{regex}': {e.Message}");
                }
            }

            specs.Add(new Spec(regex, hasMeta, prefix, stem, type, context == "<<none>>" ? null : context, specs.Count, $"{source}:{lineNo}", compiled));
        }
    }

    /// <summary>
    /// What libselinux derives from an expression: whether it has regular-expression characters
    /// (<c>spec_hasMetaChars</c>, where a backslash escapes the next character), the literal text every match starts
    /// with, and the stem (<c>get_stem_from_spec</c>: the text up to the second slash when none of it is special).
    /// </summary>
    private static (bool HasMeta, string LiteralPrefix, string? Stem) Analyse(string regex)
    {
        const string Meta = ".^$?*+|[({";
        bool hasMeta = false;
        for (int i = 0; i < regex.Length; i++)
        {
            if (regex[i] == '\\')
            {
                i++;
            }
            else if (Meta.Contains(regex[i], StringComparison.Ordinal))
            {
                hasMeta = true;
                break;
            }
        }

        int literal = regex.IndexOfAny([.. Meta, '\\']);
        var prefix = literal < 0 ? regex : regex[..literal];
        string? stem = null;
        int slash = regex.Length > 1 ? regex.IndexOf('/', 1) : -1;
        if (slash > 0 && regex.AsSpan(0, slash).IndexOfAny(Meta) < 0)
        {
            stem = regex[..slash];
        }

        return (hasMeta, prefix, stem);
    }

    private static (string, string)[] ReadSubs(string path) => File.Exists(path) ? ParseSubs(File.ReadAllText(path)) : [];

    private static (string, string)[] ParseSubs(string text) =>
        [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#')
            .Select(l => l.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)).Where(p => p.Length >= 2).Select(p => (p[0], p[1]))];

    /// <summary>The context for <paramref name="path"/> (absolute) of file type <paramref name="mode"/>, or null.</summary>
    public string? Lookup(string path, uint mode)
    {
        var key = Substitute(Clean(path));
        uint type = mode & UnixMode.TypeMask;
        var keyStem = KeyStem(key);
        var candidates = keyStem.IsEmpty || !_byStemLookup.TryGetValue(keyStem, out var forStem) ? _stemless : forStem;
        for (int c = candidates.Length - 1; c >= 0; c--)
        {
            var s = _specs[candidates[c]];
            if (s.FileType != 0 && type != 0 && s.FileType != type)
            {
                continue;
            }

            if (!key.StartsWith(s.LiteralPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            if (s.IsLiteral ? key.Length == s.LiteralPrefix.Length : s.Regex.IsMatch(key))
            {
                return s.Context;
            }
        }

        return null;
    }

    private static ReadOnlySpan<char> KeyStem(string key)
    {
        if (key.Length < 2 || key[0] != '/')
        {
            return [];
        }

        int slash = key.IndexOf('/', 1);
        return slash < 0 ? [] : key.AsSpan(0, slash);
    }

    /// <summary>Duplicate slashes folded, a trailing slash dropped.</summary>
    private static string Clean(string path)
    {
        if (!path.Contains("//", StringComparison.Ordinal) && (path.Length <= 1 || path[^1] != '/'))
        {
            return path;
        }

        var s = Regex.Replace(path, "/{2,}", "/");
        return s.Length > 1 && s[^1] == '/' ? s[..^1] : s;
    }

    /// <summary>Local substitutions first, then the distribution's, each on a whole leading path component.</summary>
    private string Substitute(string key)
    {
        var local = Apply(_subs, key);
        return Apply(_distSubs, local ?? key) ?? local ?? key;

        static string? Apply((string From, string To)[] subs, string key)
        {
            foreach (var (from, to) in subs)
            {
                if (key.StartsWith(from, StringComparison.Ordinal) && (key.Length == from.Length || key[from.Length] == '/'))
                {
                    return to + key[from.Length..];
                }
            }

            return null;
        }
    }
}
