// rpm's package database as rpm 4.16 and later keep it (rpmdb.sqlite: the Packages table, one header blob per
// package): each package's name, files and changelog dates. A header is an index of (tag, type, offset, count)
// entries over a data store; every offset and count is checked against the blob.
using System.Buffers.Binary;
using System.Text;

namespace OstreeSharp.Containers.Rechunk;

/// <summary>One installed package of an rpm database.</summary>
internal sealed record RpmPackage(string Name, IReadOnlyList<string> Files, IReadOnlyList<DateTimeOffset> Changelog);

/// <summary>Reads rpmdb.sqlite.</summary>
internal static class RpmDatabase
{
    private const int TagName = 1000;
    private const int TagChangelogTime = 1080;
    private const int TagDirIndexes = 1116;
    private const int TagBaseNames = 1117;
    private const int TagDirNames = 1118;
    private const int TypeInt32 = 4;
    private const int TypeString = 6;
    private const int TypeStringArray = 8;
    private const int TypeI18nString = 9;
    private const long MaxDatabase = 1L << 30;

    /// <summary>Where images keep the database.</summary>
    public static readonly string[] Locations = ["usr/lib/sysimage/rpm/rpmdb.sqlite", "var/lib/rpm/rpmdb.sqlite", "usr/share/rpm/rpmdb.sqlite"];

    /// <summary>The database file of <paramref name="tree"/>, or null.</summary>
    public static RootEntry? Find(RootTree tree)
    {
        foreach (var l in Locations)
        {
            if (tree.ResolveParents(l) is { } p && tree[p] is { Kind: RootEntryKind.Regular } e)
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>The packages of the database <paramref name="db"/> in <paramref name="tree"/> (its -wal applied).</summary>
    /// <exception cref="SqliteFormatException">A malformed database or header.</exception>
    public static List<RpmPackage> Read(RootTree tree, RootEntry db)
    {
        var bytes = ReadAll(db);
        var wal = tree[db.Path + "-wal"] is { Kind: RootEntryKind.Regular } w ? ReadAll(w) : null;
        return Read(bytes, wal, db.Path);
    }

    /// <summary>The packages of a database image.</summary>
    /// <exception cref="SqliteFormatException">A malformed database or header.</exception>
    public static List<RpmPackage> Read(byte[] db, byte[]? wal, string what)
    {
        var reader = new SqliteReader(db, wal, what);
        var result = new List<RpmPackage>();
        foreach (var (rowId, values) in reader.Rows("Packages"))
        {
            if (values.Length >= 2 && values[1] is byte[] blob)
            {
                if (Header(blob, $"{what}: package {rowId}") is { } p)
                {
                    result.Add(p);
                }
            }
        }

        return result;
    }

    private static byte[] ReadAll(RootEntry e)
    {
        if (e.Size > MaxDatabase)
        {
            throw new SqliteFormatException($"{e.Path}: {e.Size} bytes, larger than a package database may be");
        }

        using var s = RootTree.OpenRead(e);
        var buffer = new byte[e.Size];
        s.ReadExactly(buffer);
        return buffer;
    }

    // The header blob: il (entries), dl (data bytes), il 16-byte entries, then the data store.
    internal static RpmPackage? Header(byte[] blob, string what)
    {
        if (blob.Length < 8)
        {
            throw new SqliteFormatException($"{what}: header too short");
        }

        long il = BinaryPrimitives.ReadUInt32BigEndian(blob), dl = BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(4));
        long storeAt = 8 + (16 * il);
        if (il > 100_000 || storeAt + dl > blob.Length)
        {
            throw new SqliteFormatException($"{what}: header of {il} entries and {dl} data bytes in {blob.Length} bytes");
        }

        var store = blob.AsSpan((int)storeAt, (int)dl);
        string? name = null;
        List<string> baseNames = [], dirNames = [];
        List<long> dirIndexes = [], changelog = [];
        for (int i = 0; i < il; i++)
        {
            var entry = blob.AsSpan(8 + (16 * i), 16);
            int tag = BinaryPrimitives.ReadInt32BigEndian(entry), type = BinaryPrimitives.ReadInt32BigEndian(entry[4..]);
            int offset = BinaryPrimitives.ReadInt32BigEndian(entry[8..]), count = BinaryPrimitives.ReadInt32BigEndian(entry[12..]);
            if (tag is not (TagName or TagChangelogTime or TagDirIndexes or TagBaseNames or TagDirNames))
            {
                continue;
            }

            if (offset < 0 || offset > store.Length || count < 0 || count > store.Length)
            {
                throw new SqliteFormatException($"{what}: tag {tag} at {offset}, {count} items, outside the data");
            }

            switch (type)
            {
                case TypeString or TypeStringArray or TypeI18nString:
                    var strings = Strings(store[offset..], type == TypeString ? 1 : count, what, tag);
                    if (tag == TagName)
                    {
                        name = strings.FirstOrDefault();
                    }
                    else if (tag == TagBaseNames)
                    {
                        baseNames = strings;
                    }
                    else if (tag == TagDirNames)
                    {
                        dirNames = strings;
                    }

                    break;
                case TypeInt32:
                    if (offset + (4L * count) > store.Length)
                    {
                        throw new SqliteFormatException($"{what}: tag {tag}: {count} integers past the data");
                    }

                    var ints = new List<long>(Math.Min(count, 4096));
                    for (int k = 0; k < count; k++)
                    {
                        ints.Add(BinaryPrimitives.ReadUInt32BigEndian(store[(offset + (4 * k))..]));
                    }

                    if (tag == TagDirIndexes)
                    {
                        dirIndexes = ints;
                    }
                    else if (tag == TagChangelogTime)
                    {
                        changelog = ints;
                    }

                    break;
            }
        }

        if (name is null)
        {
            return null;
        }

        if (dirIndexes.Count != baseNames.Count || dirIndexes.Any(d => d >= dirNames.Count))
        {
            throw new SqliteFormatException($"{what} ({name}): {baseNames.Count} file names, {dirIndexes.Count} folder indexes, {dirNames.Count} folders");
        }

        var files = baseNames.Select((b, k) => dirNames[(int)dirIndexes[k]] + b).ToList();
        return new RpmPackage(name, files, [.. changelog.Select(t => DateTimeOffset.FromUnixTimeSeconds(t))]);
    }

    private static List<string> Strings(ReadOnlySpan<byte> data, int count, string what, int tag)
    {
        var result = new List<string>(Math.Min(count, 4096));
        int at = 0;
        for (int k = 0; k < count; k++)
        {
            int end = data[at..].IndexOf((byte)0);
            if (end < 0)
            {
                throw new SqliteFormatException($"{what}: tag {tag}: unterminated string");
            }

            result.Add(Encoding.UTF8.GetString(data.Slice(at, end)));
            at += end + 1;
        }

        return result;
    }
}
