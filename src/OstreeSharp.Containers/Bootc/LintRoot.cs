// A root folder looked at as if it were /: symbolic links are followed inside it (an absolute target starts
// again at the folder, .. stops there), as bootc's capability-based directory handles keep lookups inside.
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;

namespace OstreeSharp.Containers.Bootc;

/// <summary>Lookups of paths relative to a root folder that never leave it.</summary>
internal sealed class LintRoot
{
    // As Linux's MAXSYMLINKS.
    private const int MaxLinks = 40;

    // Configuration files larger than this are not configuration.
    private const long MaxTextSize = 16 << 20;

    public LintRoot(string root)
    {
        var full = Path.GetFullPath(root);
        Root = full.Length > 1 ? full.TrimEnd('/') : full;
        if (!Directory.Exists(Root))
        {
            throw new DirectoryNotFoundException($"{root}: No such file or directory");
        }
    }

    /// <summary>The root folder on the host.</summary>
    public string Root { get; }

    /// <summary>The host path of a physical path relative to the root.</summary>
    public string Host(string rel) => rel.Length == 0 ? Root : Path.Join(Root, rel);

    /// <summary>
    /// The physical path (relative to the root, no links but perhaps the last) that <paramref name="rel"/> leads to,
    /// or null when a component is missing or not a folder.
    /// </summary>
    /// <exception cref="LintRuntimeException">Too many links.</exception>
    public string? Resolve(string rel, bool followLast)
    {
        var pending = new Stack<string>();
        Push(pending, rel);
        var done = new List<string>();
        int links = 0;
        while (pending.TryPop(out var c))
        {
            if (c == "..")
            {
                if (done.Count > 0)
                {
                    done.RemoveAt(done.Count - 1);
                }

                continue;
            }

            done.Add(c);
            var path = string.Join('/', done);
            if (!Native.TryLStat(Host(path), out var st))
            {
                return null;
            }

            if (st.Type == UnixMode.Symlink && (pending.Count > 0 || followLast))
            {
                if (++links > MaxLinks)
                {
                    throw new LintRuntimeException($"/{rel}: Too many levels of symbolic links");
                }

                done.RemoveAt(done.Count - 1);
                var target = ReadLink(path);
                if (target.StartsWith('/'))
                {
                    done.Clear();
                }

                Push(pending, target);
            }
        }

        return string.Join('/', done);
    }

    private static void Push(Stack<string> pending, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            if (parts[i] != ".")
            {
                pending.Push(parts[i]);
            }
        }
    }

    /// <summary>lstat of a path (the last component not followed); null when missing.</summary>
    public FileStatus? LStat(string rel) =>
        Resolve(rel, followLast: false) is { } p && Native.TryLStat(Host(p), out var st) ? st : null;

    /// <summary>stat of a path (links followed inside the root); null when missing or a dangling link.</summary>
    public FileStatus? Stat(string rel) =>
        Resolve(rel, followLast: true) is { } p && Native.TryLStat(Host(p), out var st) ? st : null;

    /// <summary>The host path of a folder (links followed); null when missing.</summary>
    /// <exception cref="LintRuntimeException">It exists and is not a folder.</exception>
    public string? OpenDirectory(string rel)
    {
        if (Resolve(rel, followLast: true) is not { } p || !Native.TryLStat(Host(p), out var st))
        {
            return null;
        }

        return st.Type == UnixMode.Directory ? Host(p) : throw new LintRuntimeException($"/{rel}: Not a directory");
    }

    /// <summary>A file's text (links followed); null when missing.</summary>
    /// <exception cref="LintRuntimeException">It is a folder or too large.</exception>
    public string? ReadText(string rel)
    {
        if (Resolve(rel, followLast: true) is not { } p || !Native.TryLStat(Host(p), out var st))
        {
            return null;
        }

        if (st.Type == UnixMode.Directory)
        {
            throw new LintRuntimeException($"/{rel}: Is a directory");
        }

        if (st.Type == UnixMode.Regular && (long)st.Size > MaxTextSize)
        {
            throw new LintRuntimeException($"/{rel}: larger than {MaxTextSize} bytes");
        }

        using var f = new FileStream(Host(p), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
        using var reader = new StreamReader(f, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var buffer = new char[8192];
        var sb = new StringBuilder();
        int n;
        try
        {
            while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
            {
                sb.Append(buffer, 0, n);
                if (sb.Length > MaxTextSize)
                {
                    throw new LintRuntimeException($"/{rel}: larger than {MaxTextSize} bytes");
                }
            }
        }
        catch (DecoderFallbackException)
        {
            throw new LintRuntimeException($"/{rel}: stream did not contain valid UTF-8");
        }

        return sb.ToString();
    }

    /// <summary>The target of a symbolic link at a physical path.</summary>
    public string ReadLink(string physical) => new FileInfo(Host(physical)).LinkTarget ?? "";

    /// <summary>The names in a folder, in ordinal order (so results do not depend on the file system's order).</summary>
    public static string[] List(string hostDirectory)
    {
        var names = new DirectoryInfo(hostDirectory)
            .EnumerateFileSystemInfos("*", new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false, RecurseSubdirectories = false })
            .Select(i => i.Name)
            .ToArray();
        Array.Sort(names, StringComparer.Ordinal);
        return names;
    }
}
