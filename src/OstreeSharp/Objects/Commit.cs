// commit objects (spec: ostree-repo-format.md, sections 2.2 and 4.5).
using System.Buffers.Binary;
using OstreeSharp.GVariant;

namespace OstreeSharp.Objects;

/// <summary>A commit: <c>(a{sv}aya(say)sstayay)</c>.</summary>
public sealed class Commit
{
    /// <summary>The GVariant type.</summary>
    public static readonly GVariantType Type = GVariantType.Parse("(a{sv}aya(say)sstayay)");
    private static readonly GVariantType RelatedType = GVariantType.Parse("(say)");

    /// <summary>Creates a commit.</summary>
    public Commit(GVariantValue metadata, Checksum? parent, string subject, string body, ulong timestamp, Checksum rootTree, Checksum rootMeta)
    {
        if (metadata.Type.Text != "a{sv}")
        {
            throw new ArgumentException("commit metadata must be a{sv}", nameof(metadata));
        }

        Metadata = metadata;
        Parent = parent;
        Subject = subject;
        Body = body;
        Timestamp = timestamp;
        RootTree = rootTree;
        RootMeta = rootMeta;
    }

    /// <summary>The commit metadata <c>a{sv}</c>, entries in stored order.</summary>
    public GVariantValue Metadata { get; }

    /// <summary>The parent commit, if any.</summary>
    public Checksum? Parent { get; }

    /// <summary>Related objects (always empty from ostree commit).</summary>
    public IReadOnlyList<(string Name, Checksum Checksum)> Related { get; private init; } = [];

    /// <summary>Subject line.</summary>
    public string Subject { get; }

    /// <summary>Body text.</summary>
    public string Body { get; }

    /// <summary>Seconds since the epoch, UTC.</summary>
    public ulong Timestamp { get; }

    /// <summary>Root dirtree.</summary>
    public Checksum RootTree { get; }

    /// <summary>Root dirmeta.</summary>
    public Checksum RootMeta { get; }

    /// <summary>The commit time.</summary>
    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeSeconds((long)Timestamp);

    /// <summary>The <c>version</c> metadata string, if any.</summary>
    public string? Version => Metadata.Lookup("version") is { Type.Kind: 's' } v ? v.GetString() : null;

    /// <summary>sha256(root dirtree ‖ root dirmeta), shown as ContentChecksum by ostree.</summary>
    public Checksum ContentChecksum
    {
        get
        {
            Span<byte> b = stackalloc byte[64];
            RootTree.WriteTo(b);
            RootMeta.WriteTo(b[32..]);
            return Checksum.Compute(b);
        }
    }

    /// <summary>Serializes to the object bytes.</summary>
    public byte[] ToBytes() => GVariantValue.FromTuple(
        Metadata,
        GVariantValue.FromBytes(Parent?.ToBytes() ?? []),
        GVariantValue.FromArray(RelatedType, Related.Select(r => GVariantValue.FromTuple(GVariantValue.FromString(r.Name), GVariantValue.FromBytes(r.Checksum.ToBytes())))),
        GVariantValue.FromString(Subject),
        GVariantValue.FromString(Body),
        GVariantValue.FromUInt64(BinaryPrimitives.ReverseEndianness(Timestamp)),
        GVariantValue.FromBytes(RootTree.ToBytes()),
        GVariantValue.FromBytes(RootMeta.ToBytes())).ToBytes();

    /// <summary>Parses and validates commit bytes.</summary>
    public static Commit Parse(ReadOnlySpan<byte> bytes)
    {
        var v = GVariantValue.Parse(Type, bytes);
        var parentBytes = v[1].GetBytes();
        if (parentBytes.Length is not (0 or 32))
        {
            throw new OstreeFormatException($"commit parent has {parentBytes.Length} bytes");
        }

        foreach (var kv in v[0].GetVarDictEntries())
        {
            if (kv.Key.Length == 0)
            {
                throw new OstreeFormatException("commit metadata has an empty key");
            }
        }

        return new Commit(
            v[0],
            parentBytes.Length == 0 ? null : new Checksum(parentBytes),
            v[3].GetString(),
            v[4].GetString(),
            BinaryPrimitives.ReverseEndianness(v[5].GetUInt64()),
            new Checksum(v[6].GetBytes()),
            new Checksum(v[7].GetBytes()))
        {
            Related = v[2].GetChildren().Select(r => (r[0].GetString(), new Checksum(r[1].GetBytes()))).ToArray(),
        };
    }
}
