// Extended attributes as a(ayay) (spec: ostree-repo-format.md, section 4.3).
using System.Text;
using OstreeSharp.GVariant;

namespace OstreeSharp.Objects;

/// <summary>One extended attribute: the name without its NUL, and the raw value.</summary>
public sealed record Xattr(byte[] Name, byte[] Value)
{
    /// <summary>The name as a string.</summary>
    public string NameString => Encoding.UTF8.GetString(Name);

    /// <summary>Creates an xattr from a name string.</summary>
    public static Xattr Create(string name, byte[] value) => new(Encoding.UTF8.GetBytes(name), value);
}

/// <summary>An immutable, sorted set of extended attributes.</summary>
public sealed class Xattrs : IEquatable<Xattrs>
{
    /// <summary>No xattrs.</summary>
    public static readonly Xattrs Empty = new([]);

    private static readonly GVariantType ItemType = GVariantType.Parse("(ayay)");
    internal static readonly GVariantType ArrayType = GVariantType.Parse("a(ayay)");

    private Xattrs(Xattr[] sorted) => Items = sorted;

    /// <summary>Entries sorted by name bytes.</summary>
    public IReadOnlyList<Xattr> Items { get; }

    /// <summary>Number of entries.</summary>
    public int Count => Items.Count;

    /// <summary>Creates a set, sorted by name bytes as ostree sorts them.</summary>
    public static Xattrs Create(IEnumerable<Xattr> items)
    {
        var arr = items.ToArray();
        if (arr.Length == 0)
        {
            return Empty;
        }

        Array.Sort(arr, (x, y) => x.Name.AsSpan().SequenceCompareTo(y.Name));
        return new Xattrs(arr);
    }

    /// <summary>The value of <paramref name="name"/>, or null.</summary>
    public byte[]? Get(string name)
    {
        var n = Encoding.UTF8.GetBytes(name);
        return Items.FirstOrDefault(x => x.Name.AsSpan().SequenceEqual(n))?.Value;
    }

    /// <summary>The GVariant <c>a(ayay)</c> (names carry a trailing NUL).</summary>
    public GVariantValue ToGVariant() => GVariantValue.FromArray(
        ItemType,
        Items.Select(x =>
        {
            var name = new byte[x.Name.Length + 1];
            x.Name.CopyTo(name, 0);
            return GVariantValue.FromTuple(GVariantValue.FromBytes(name), GVariantValue.FromBytes(x.Value));
        }));

    /// <summary>Reads an <c>a(ayay)</c> value.</summary>
    public static Xattrs FromGVariant(GVariantValue v)
    {
        var items = new List<Xattr>(v.ChildCount);
        foreach (var t in v.GetChildren())
        {
            var name = t[0].GetBytes();
            if (name.Length == 0 || name[^1] != 0)
            {
                throw new OstreeFormatException("xattr name is not NUL-terminated");
            }

            items.Add(new Xattr(name[..^1], t[1].GetBytes()));
        }

        // Keep stored order: it is part of the checksummed bytes.
        return items.Count == 0 ? Empty : new Xattrs([.. items]);
    }

    /// <inheritdoc />
    public bool Equals(Xattrs? other) =>
        other is not null && Count == other.Count &&
        Items.Zip(other.Items).All(p => p.First.Name.AsSpan().SequenceEqual(p.Second.Name) && p.First.Value.AsSpan().SequenceEqual(p.Second.Value));

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as Xattrs);

    /// <inheritdoc />
    public override int GetHashCode() => Count;
}
