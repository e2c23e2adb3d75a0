// dirtree objects (spec: ostree-repo-format.md, section 2.3).
using System.Text;
using OstreeSharp.GVariant;

namespace OstreeSharp.Objects;

/// <summary>A file entry of a dirtree.</summary>
public sealed record DirTreeFile(string Name, Checksum Checksum);

/// <summary>A subdirectory entry of a dirtree.</summary>
public sealed record DirTreeDir(string Name, Checksum TreeChecksum, Checksum MetaChecksum);

/// <summary>A directory listing: <c>(a(say)a(sayay))</c>, each list sorted by name bytes.</summary>
public sealed class DirTree
{
    /// <summary>The GVariant type.</summary>
    public static readonly GVariantType Type = GVariantType.Parse("(a(say)a(sayay))");
    private static readonly GVariantType FileType = GVariantType.Parse("(say)");
    private static readonly GVariantType DirType = GVariantType.Parse("(sayay)");

    /// <summary>Creates a dirtree; entries are sorted as ostree sorts them.</summary>
    public DirTree(IEnumerable<DirTreeFile> files, IEnumerable<DirTreeDir> dirs)
    {
        Files = files.OrderBy(f => f.Name, Utf8NameComparer.Instance).ToArray();
        Dirs = dirs.OrderBy(d => d.Name, Utf8NameComparer.Instance).ToArray();
    }

    private DirTree(DirTreeFile[] files, DirTreeDir[] dirs, bool _)
    {
        Files = files;
        Dirs = dirs;
    }

    /// <summary>Files and symlinks.</summary>
    public IReadOnlyList<DirTreeFile> Files { get; }

    /// <summary>Subdirectories.</summary>
    public IReadOnlyList<DirTreeDir> Dirs { get; }

    /// <summary>Serializes to the object bytes.</summary>
    public byte[] ToBytes() => GVariantValue.FromTuple(
        GVariantValue.FromArray(FileType, Files.Select(f => GVariantValue.FromTuple(GVariantValue.FromString(f.Name), GVariantValue.FromBytes(f.Checksum.ToBytes())))),
        GVariantValue.FromArray(DirType, Dirs.Select(d => GVariantValue.FromTuple(GVariantValue.FromString(d.Name), GVariantValue.FromBytes(d.TreeChecksum.ToBytes()), GVariantValue.FromBytes(d.MetaChecksum.ToBytes()))))).ToBytes();

    /// <summary>Parses and validates object bytes (names, order, checksum lengths).</summary>
    public static DirTree Parse(ReadOnlySpan<byte> bytes)
    {
        var v = GVariantValue.Parse(Type, bytes);
        var files = v[0].GetChildren().Select(e => new DirTreeFile(ValidName(e[0].GetString()), new Checksum(e[1].GetBytes()))).ToArray();
        var dirs = v[1].GetChildren().Select(e => new DirTreeDir(ValidName(e[0].GetString()), new Checksum(e[1].GetBytes()), new Checksum(e[2].GetBytes()))).ToArray();
        CheckSorted(files.Select(f => f.Name));
        CheckSorted(dirs.Select(d => d.Name));
        return new DirTree(files, dirs, true);
    }

    /// <summary>
    /// Validates a single path component as ostree does, refusing it in libostree's words. An empty name, which
    /// ostree's check lets through though no folder can hold it, is refused too.
    /// </summary>
    public static string ValidName(string name) => name switch
    {
        "" => throw new OstreeFormatException("Invalid empty filename"),
        "." => throw new OstreeFormatException("Invalid self-referential filename '.'"),
        ".." => throw new OstreeFormatException("Invalid path uplink filename '..'"),
        _ when name.Contains('/', StringComparison.Ordinal) => throw new OstreeFormatException($"Invalid / in filename {name}"),
        _ => name,
    };

    private static void CheckSorted(IEnumerable<string> names)
    {
        string? prev = null;
        foreach (var n in names)
        {
            if (prev is not null && Utf8NameComparer.Instance.Compare(prev, n) >= 0)
            {
                throw new OstreeFormatException($"dirtree entries are not sorted or are duplicated at '{n}'");
            }

            prev = n;
        }
    }
}

/// <summary>Orders names by their UTF-8 bytes, as C <c>strcmp</c> does.</summary>
internal sealed class Utf8NameComparer : IComparer<string>
{
    /// <summary>The shared instance.</summary>
    public static readonly Utf8NameComparer Instance = new();

    /// <inheritdoc />
    public int Compare(string? x, string? y)
    {
        if (x is null || y is null)
        {
            return x is null ? (y is null ? 0 : -1) : 1;
        }

        // UTF-16 ordinal order equals UTF-8 byte order except around surrogates; handle those exactly.
        if (x.AsSpan().IndexOfAnyInRange('\uD800', '\uFFFF') < 0 && y.AsSpan().IndexOfAnyInRange('\uD800', '\uFFFF') < 0)
        {
            return string.CompareOrdinal(x, y);
        }

        return Encoding.UTF8.GetBytes(x).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(y));
    }
}
