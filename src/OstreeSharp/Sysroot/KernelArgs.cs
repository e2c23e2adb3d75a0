// The kernel command line as libostree edits it: an ordered list of key[=value] with replace, append and delete.
namespace OstreeSharp.Sysroot;

/// <summary>An ordered kernel argument list (spec 1.9).</summary>
public sealed class KernelArgs
{
    private readonly List<(string Key, string? Value)> _args = [];

    /// <summary>Parses a command line split on single spaces.</summary>
    public static KernelArgs Parse(string? cmdline)
    {
        var k = new KernelArgs();
        if (string.IsNullOrEmpty(cmdline))
        {
            return k;
        }

        foreach (var token in cmdline.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            k._args.Add(Split(token));
        }

        return k;
    }

    /// <summary>The arguments in order.</summary>
    public IReadOnlyList<(string Key, string? Value)> Items => _args;

    /// <summary>The first value of a key, or null when absent (or present without a value).</summary>
    public string? Get(string key) => _args.FirstOrDefault(a => a.Key == key).Value;

    /// <summary>Whether a key is present.</summary>
    public bool Contains(string key) => _args.Exists(a => a.Key == key);

    /// <summary>Replaces every entry of the key with one, at the position of the first; appends when absent.</summary>
    public void Replace(string arg)
    {
        var (key, value) = Split(arg);
        int first = _args.FindIndex(a => a.Key == key);
        if (first < 0)
        {
            _args.Add((key, value));
            return;
        }

        _args.RemoveAll(a => a.Key == key);
        _args.Insert(first, (key, value));
    }

    /// <summary>Appends, duplicates allowed.</summary>
    public void Append(string arg) => _args.Add(Split(arg));

    /// <summary>Deletes <c>key</c> (when it has exactly one entry) or one <c>key=value</c> entry.</summary>
    public void Delete(string arg)
    {
        var (key, value) = Split(arg);
        var matches = _args.Where(a => a.Key == key).ToList();
        if (!arg.Contains('='))
        {
            if (matches.Count == 0)
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, $"No key '{key}' found");
            }

            if (matches.Count > 1)
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Multiple values for key '{key}' found");
            }

            _args.RemoveAll(a => a.Key == key);
            return;
        }

        int idx = _args.FindIndex(a => a.Key == key && a.Value == value);
        if (idx < 0)
        {
            throw new OstreeException(OstreeErrorCode.InvalidArgument, $"No karg '{arg}' found");
        }

        _args.RemoveAt(idx);
    }

    /// <summary>Removes every entry of a key (no error when absent).</summary>
    public void RemoveKey(string key) => _args.RemoveAll(a => a.Key == key);

    /// <summary>Joined with single spaces.</summary>
    public override string ToString() => string.Join(' ', _args.Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value));

    private static (string Key, string? Value) Split(string token)
    {
        int eq = token.IndexOf('=');
        return eq < 0 ? (token, null) : (token[..eq], token[(eq + 1)..]);
    }
}
