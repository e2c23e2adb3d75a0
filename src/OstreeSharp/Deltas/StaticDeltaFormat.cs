// Static delta names, paths and the superblock (spec: ostree-repo-format.md, section 7; libostree's
// ostree-repo-static-delta-private.h). Numbers in part and fallback headers are in the byte order the superblock's
// "ostree.endianness" names (host order of the generator: 'l' in practice); the timestamp is always big-endian.
using System.Buffers.Binary;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;

namespace OstreeSharp.Deltas;

/// <summary>A delta's identity: from a commit (or from nothing) to a commit.</summary>
public readonly record struct DeltaName(Checksum? From, Checksum To)
{
    /// <summary>The name ostree prints and the summary indexes: <c>TO</c> or <c>FROM-TO</c> in hex.</summary>
    public override string ToString() => From is { } f ? $"{f.ToHex()}-{To.ToHex()}" : To.ToHex();

    /// <summary>Parses <c>TO</c> or <c>FROM-TO</c>.</summary>
    /// <exception cref="OstreeFormatException">Not a delta name.</exception>
    public static DeltaName Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int dash = name.IndexOf('-', StringComparison.Ordinal);
        return dash < 0
            ? new DeltaName(null, Checksum.Parse(name))
            : new DeltaName(Checksum.Parse(name[..dash]), Checksum.Parse(name[(dash + 1)..]));
    }

    /// <summary>The delta's folder relative to the repository: <c>deltas/XX/REST</c> or <c>deltas/XX/REST-TO</c>, in modified base64.</summary>
    public string RelativeDir
    {
        get
        {
            if (From is { } f)
            {
                var fb = ModifiedBase64(f);
                return $"deltas/{fb[..2]}/{fb[2..]}-{ModifiedBase64(To)}";
            }

            var tb = ModifiedBase64(To);
            return $"deltas/{tb[..2]}/{tb[2..]}";
        }
    }

    /// <summary>The superblock's path relative to the repository.</summary>
    public string SuperblockPath => RelativeDir + "/superblock";

    /// <summary>Part <paramref name="index"/>'s path relative to the repository.</summary>
    public string PartPath(int index) => $"{RelativeDir}/{index}";

    /// <summary>The superblock metadata key of the target's detached metadata.</summary>
    public string CommitMetaKey => RelativeDir + "/commitmeta";

    /// <summary>The delta index of commit <paramref name="to"/>: <c>delta-indexes/XX/REST.index</c>.</summary>
    public static string IndexPath(Checksum to)
    {
        var tb = ModifiedBase64(to);
        return $"delta-indexes/{tb[..2]}/{tb[2..]}.index";
    }

    /// <summary>Standard base64 of the 32 bytes without padding, <c>/</c> replaced by <c>_</c>.</summary>
    public static string ModifiedBase64(Checksum c) => Convert.ToBase64String(c.ToBytes()).TrimEnd('=').Replace('/', '_');

    /// <summary>Reads a checksum written in modified base64.</summary>
    public static bool TryParseModifiedBase64(string text, out Checksum checksum)
    {
        checksum = default;
        if (text.Length != 43)
        {
            return false;
        }

        Span<byte> raw = stackalloc byte[33];
        if (!Convert.TryFromBase64String(text.Replace('_', '/') + "=", raw, out int n) || n != 32)
        {
            return false;
        }

        checksum = new Checksum(raw[..32]);
        return true;
    }
}

/// <summary>One object a part rebuilds: its type and id.</summary>
public readonly record struct DeltaObject(ObjectType Type, Checksum Checksum);

/// <summary>A part's entry in the superblock.</summary>
public sealed record DeltaPartHeader(uint Version, byte[] Checksum, ulong CompressedSize, ulong UncompressedSize, IReadOnlyList<DeltaObject> Objects);

/// <summary>An object the client fetches as a plain loose object instead.</summary>
public sealed record DeltaFallback(ObjectType Type, Checksum Checksum, ulong CompressedSize, ulong UncompressedSize);

/// <summary>The superblock of a static delta.</summary>
public sealed class DeltaSuperblock
{
    /// <summary>The superblock type.</summary>
    public static readonly GVariantType Type = GVariantType.Parse("(a{sv}tayay(a{sv}aya(say)sstayay)aya(uayttay)a(yaytt))");

    /// <summary>The part payload type: modes, xattr sets, raw data, operations.</summary>
    public static readonly GVariantType PartPayloadType = GVariantType.Parse("(a(uuu)aa(ayay)ayay)");

    private static readonly GVariantType PartHeaderType = GVariantType.Parse("(uayttay)");
    private static readonly GVariantType FallbackType = GVariantType.Parse("(yaytt)");

    /// <summary>Creates a superblock.</summary>
    public DeltaSuperblock(IReadOnlyList<KeyValuePair<string, GVariantValue>> metadata, ulong timestamp, Checksum? from, Checksum to, byte[] commitBytes, IReadOnlyList<DeltaPartHeader> parts, IReadOnlyList<DeltaFallback> fallbacks)
    {
        Metadata = metadata;
        Timestamp = timestamp;
        From = from;
        To = to;
        CommitBytes = commitBytes;
        Parts = parts;
        Fallbacks = fallbacks;
    }

    /// <summary>The metadata, in stored order.</summary>
    public IReadOnlyList<KeyValuePair<string, GVariantValue>> Metadata { get; }

    /// <summary>Generation time, seconds since the epoch.</summary>
    public ulong Timestamp { get; }

    /// <summary>The source commit; null for a delta from nothing.</summary>
    public Checksum? From { get; }

    /// <summary>The target commit.</summary>
    public Checksum To { get; }

    /// <summary>The target commit object's bytes.</summary>
    public byte[] CommitBytes { get; }

    /// <summary>The parts, in order.</summary>
    public IReadOnlyList<DeltaPartHeader> Parts { get; }

    /// <summary>Objects fetched as loose objects.</summary>
    public IReadOnlyList<DeltaFallback> Fallbacks { get; }

    /// <summary>The delta's name.</summary>
    public DeltaName Name => new(From, To);

    /// <summary>
    /// Whether the numbers of the headers are big-endian: <c>ostree.endianness</c> is <c>'B'</c>, or, for a delta
    /// made before that key existed, libostree's guess (<see cref="EndiannessGuessed"/>).
    /// </summary>
    public bool BigEndian => Lookup("ostree.endianness") is { Type.Kind: 'y' } e ? e.GetByte() == (byte)'B' : GuessedBigEndian;

    /// <summary>Whether the superblock names no endianness, so <see cref="BigEndian"/> is a guess from its sizes.</summary>
    public bool EndiannessGuessed => Lookup("ostree.endianness") is not { Type.Kind: 'y' };

    private bool GuessedBigEndian { get; init; }

    // libostree's guess for a delta without ostree.endianness, read in the host's (little-endian) order: a part more
    // than 20% larger compressed than uncompressed, or objects averaging over 4 GiB, mean the numbers are swapped.
    private static bool GuessBigEndian(GVariantValue partHeaders)
    {
        ulong totalSize = 0, totalObjects = 0;
        foreach (var p in partHeaders.GetChildren())
        {
            ulong size = p[2].GetUInt64(), usize = p[3].GetUInt64();
            totalObjects += (ulong)p[4].GetBytes().Length / 33;
            totalSize += size;
            if (size > usize && (double)size / usize > 1.2)
            {
                return BitConverter.IsLittleEndian;
            }
        }

        return totalObjects > 0 && totalSize / totalObjects > uint.MaxValue ? BitConverter.IsLittleEndian : !BitConverter.IsLittleEndian;
    }

    /// <summary>A metadata value.</summary>
    public GVariantValue? Lookup(string key) => Metadata.FirstOrDefault(kv => kv.Key == key).Value;

    /// <summary>The target's detached metadata carried in the superblock, if any.</summary>
    public GVariantValue? DetachedMetadata => Lookup(Name.CommitMetaKey) is { } v && v.Type.Text == "a{sv}" ? v : null;

    /// <summary>Parses superblock bytes.</summary>
    /// <exception cref="OstreeFormatException">Malformed superblock.</exception>
    public static DeltaSuperblock Parse(ReadOnlySpan<byte> bytes, string what)
    {
        try
        {
            var v = GVariantValue.Parse(Type, bytes);
            var metadata = v[0].GetVarDictEntries().Select(kv => new KeyValuePair<string, GVariantValue>(kv.Key, kv.Value)).ToList();
            bool big = metadata.FirstOrDefault(kv => kv.Key == "ostree.endianness").Value is { Type.Kind: 'y' } e ? e.GetByte() == (byte)'B' : GuessBigEndian(v[6]);
            ulong U64(GVariantValue x) => big == BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(x.GetUInt64()) : x.GetUInt64();
            uint U32(GVariantValue x) => big == BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(x.GetUInt32()) : x.GetUInt32();
            var fromBytes = v[2].GetBytes();
            Checksum? from = fromBytes.Length == 0 ? null : new Checksum(fromBytes);
            var to = new Checksum(v[3].GetBytes());
            var parts = v[6].GetChildren().Select(p => new DeltaPartHeader(U32(p[0]), p[1].GetBytes(), U64(p[2]), U64(p[3]), ParseObjects(p[4].GetBytes()))).ToList();
            var fallbacks = v[7].GetChildren().Select(f => new DeltaFallback(ParseType(f[0].GetByte()), new Checksum(f[1].GetBytes()), U64(f[2]), U64(f[3]))).ToList();
            foreach (var p in parts)
            {
                if (p.Checksum.Length != 32)
                {
                    throw new OstreeFormatException("part checksum is not 32 bytes");
                }
            }

            return new DeltaSuperblock(metadata, BinaryPrimitives.ReverseEndianness(v[1].GetUInt64()), from, to, v[4].ToBytes(), parts, fallbacks) { GuessedBigEndian = big };
        }
        catch (OstreeFormatException e)
        {
            throw new OstreeFormatException($"{what}: invalid static delta superblock: {e.Message}");
        }
    }

    /// <summary>The objects list of a part header: 33-byte (type, checksum) entries.</summary>
    public static IReadOnlyList<DeltaObject> ParseObjects(ReadOnlySpan<byte> raw)
    {
        if (raw.Length % 33 != 0)
        {
            throw new OstreeFormatException($"part object list of {raw.Length} bytes is not a multiple of 33");
        }

        var list = new List<DeltaObject>(raw.Length / 33);
        for (int i = 0; i < raw.Length; i += 33)
        {
            list.Add(new DeltaObject(ParseType(raw[i]), new Checksum(raw.Slice(i + 1, 32))));
        }

        return list;
    }

    private static ObjectType ParseType(byte b) =>
        b is >= (byte)ObjectType.File and <= (byte)ObjectType.CommitMeta
            ? (ObjectType)b
            : throw new OstreeFormatException($"invalid object type {b}");

    /// <summary>The superblock bytes, its numbers in the order <c>ostree.endianness</c> names (little-endian when it names none).</summary>
    public byte[] ToBytes()
    {
        bool swap = BigEndian == BitConverter.IsLittleEndian;
        uint U32(uint v) => swap ? BinaryPrimitives.ReverseEndianness(v) : v;
        ulong U64(ulong v) => swap ? BinaryPrimitives.ReverseEndianness(v) : v;
        var parts = Parts.Select(p =>
        {
            var objects = new byte[p.Objects.Count * 33];
            for (int i = 0; i < p.Objects.Count; i++)
            {
                objects[i * 33] = (byte)p.Objects[i].Type;
                p.Objects[i].Checksum.WriteTo(objects.AsSpan((i * 33) + 1, 32));
            }

            return GVariantValue.FromTuple(GVariantValue.FromUInt32(U32(p.Version)), GVariantValue.FromBytes(p.Checksum), GVariantValue.FromUInt64(U64(p.CompressedSize)), GVariantValue.FromUInt64(U64(p.UncompressedSize)), GVariantValue.FromBytes(objects));
        });
        var fallbacks = Fallbacks.Select(f => GVariantValue.FromTuple(GVariantValue.FromByte((byte)f.Type), GVariantValue.FromBytes(f.Checksum.ToBytes()), GVariantValue.FromUInt64(U64(f.CompressedSize)), GVariantValue.FromUInt64(U64(f.UncompressedSize))));
        return GVariantValue.FromTuple(
            GVariantValue.FromVarDict(Metadata),
            GVariantValue.FromUInt64(BinaryPrimitives.ReverseEndianness(Timestamp)),
            GVariantValue.FromBytes(From?.ToBytes() ?? []),
            GVariantValue.FromBytes(To.ToBytes()),
            GVariantValue.Parse(Commit.Type, CommitBytes),
            GVariantValue.FromBytes([]),
            GVariantValue.FromArray(PartHeaderType, parts),
            GVariantValue.FromArray(FallbackType, fallbacks)).ToBytes();
    }
}

/// <summary>
/// A signed superblock file, as libostree writes one with <c>static-delta generate --sign</c>: a <c>(taya{sv})</c> of
/// the magic <c>OSTSGNDT</c> (stored big-endian), the plain superblock's bytes, and a dictionary holding the
/// signatures of those bytes under <c>ostree.sign.NAME</c>.
/// </summary>
public static class SignedSuperblock
{
    /// <summary>The wrapper's type.</summary>
    public static readonly GVariantType Type = GVariantType.Parse("(taya{sv})");

    private const ulong Magic = 0x4F535453474E4454; // "OSTSGNDT"

    /// <summary>Whether the file's bytes start with the magic (a plain superblock starts with its metadata).</summary>
    public static bool IsSigned(ReadOnlySpan<byte> file) => file.Length >= 8 && BinaryPrimitives.ReadUInt64BigEndian(file) == Magic;

    /// <summary>The plain superblock and the signature dictionary of a signed file.</summary>
    /// <exception cref="OstreeFormatException">Not a signed superblock (libostree: "no signatures in static-delta").</exception>
    public static (byte[] Superblock, GVariantValue Signatures) Unwrap(ReadOnlySpan<byte> file, string what)
    {
        if (!IsSigned(file))
        {
            throw new OstreeFormatException($"{what}: no signatures in static-delta");
        }

        try
        {
            var v = GVariantValue.Parse(Type, file);
            return (v[1].GetBytes(), v[2]);
        }
        catch (OstreeFormatException e)
        {
            throw new OstreeFormatException($"{what}: invalid signed static delta superblock: {e.Message}");
        }
    }

    /// <summary>The plain superblock bytes of a file that may be signed.</summary>
    public static byte[] Plain(byte[] file, string what) => IsSigned(file) ? Unwrap(file, what).Superblock : file;

    /// <summary>Wraps <paramref name="superblock"/> with a signature by each of <paramref name="signers"/> (one engine type).</summary>
    public static byte[] Wrap(byte[] superblock, IReadOnlyList<Signing.SignEngine> signers)
    {
        ArgumentNullException.ThrowIfNull(signers);
        if (signers.Count == 0 || signers.Any(s => s.Name != signers[0].Name))
        {
            throw new ArgumentException("a signed superblock needs signers of one type", nameof(signers));
        }

        var sigs = GVariantValue.FromArray(GVariantType.ByteArray, signers.Select(s => GVariantValue.FromBytes(s.Sign(superblock))));
        var dict = GVariantValue.FromVarDict([new KeyValuePair<string, GVariantValue>(signers[0].MetadataKey, sigs)]);
        return GVariantValue.FromTuple(GVariantValue.FromUInt64(BinaryPrimitives.ReverseEndianness(Magic)), GVariantValue.FromBytes(superblock), dict).ToBytes();
    }

    /// <summary>
    /// Verifies a signed superblock file with <paramref name="engine"/>'s keys, as libostree's
    /// <c>ostree_repo_static_delta_verify_signature</c>.
    /// </summary>
    /// <exception cref="Signing.SignatureException">Unsigned, or no signature verifies.</exception>
    public static Signing.SignVerified Verify(ReadOnlySpan<byte> file, Signing.SignEngine engine, string what)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (!IsSigned(file))
        {
            throw new Signing.SignatureException("no signatures in static-delta", Signing.SignatureFailure.NoSignature);
        }

        var (superblock, meta) = Unwrap(file, what);
        if (engine.SignaturesIn(meta) is not { } sigs)
        {
            throw new Signing.SignatureException($"no signature for '{engine.MetadataKey}' in static-delta superblock", Signing.SignatureFailure.NoSignature);
        }

        return engine.Verify(superblock, sigs);
    }
}
