// `static-delta generate`: the objects of TO that FROM lacks, packed into parts libostree can execute. Metadata and
// new files are spliced whole; a file that replaces a similar one of FROM (same path, or same name but for its
// version digits, in the same folder) is sent as a bsdiff patch against it; large new files are left to be fetched
// as loose objects ("fallbacks"), as libostree does. Parts are xz-compressed on both cores while the next part fills,
// built under tmp/ and moved into deltas/ whole.
using System.Buffers;
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Deltas;

/// <summary>How to generate a static delta (defaults are libostree's).</summary>
public sealed record StaticDeltaOptions
{
    /// <summary>New files larger than this (uncompressed) are fallbacks; 0 puts every file in the parts.</summary>
    public long MinFallbackSize { get; init; } = 4_000_000;

    /// <summary>A part is closed once its data would pass this size.</summary>
    public long MaxChunkSize { get; init; } = 32_000_000;

    /// <summary>Files whose old and new sizes sum beyond this are not diffed.</summary>
    public long MaxBsdiffSize { get; init; } = 128_000_000;

    /// <summary>Whether changed files are sent as bsdiff patches.</summary>
    public bool Bsdiff { get; init; } = true;

    /// <summary>Whether parts are xz-compressed (libostree's default) or stored.</summary>
    public bool Compress { get; init; } = true;

    /// <summary>Extra superblock metadata, stored first (as libostree does).</summary>
    public IReadOnlyList<KeyValuePair<string, GVariantValue>> Metadata { get; init; } = [];

    /// <summary>
    /// Whether the superblock's numbers (part versions and sizes, fallback sizes) are big-endian, with
    /// <c>ostree.endianness</c> <c>'B'</c>; libostree writes the host's order, little-endian on the machines we run on.
    /// </summary>
    public bool BigEndian { get; init; }

    /// <summary>
    /// Whether the parts are carried inside the superblock (each under its part path, as a <c>(yay)</c>), making the
    /// delta one file, as libostree's <c>--inline</c>.
    /// </summary>
    public bool Inline { get; init; }

    /// <summary>
    /// Write the superblock to this file (and the parts, named <c>0</c>, <c>1</c>..., beside it) instead of into the
    /// repository's <c>deltas/</c>, as libostree's <c>--filename</c>.
    /// </summary>
    public string? Filename { get; init; }

    /// <summary>Generation time stored in the superblock; null: now.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>
    /// Engines (of one type, each with its secret key) whose signatures wrap the superblock
    /// (<see cref="SignedSuperblock"/>), as libostree's <c>--sign</c>; none: a plain superblock.
    /// </summary>
    public IReadOnlyList<Signing.SignEngine> Signers { get; init; } = [];
}

/// <summary>What a generation did.</summary>
public sealed record StaticDeltaStats(DeltaName Name, int Parts, int Objects, int Patched, int Fallbacks, long CompressedSize, long UncompressedSize, long FallbackSize);

/// <summary>Generates static deltas.</summary>
public static class StaticDeltaGenerator
{
    // A part holds its data in memory: a file larger than this is always a fallback, whatever the options say.
    private const long MaxSpliced = 1L << 30;

    /// <summary>Generates the delta from <paramref name="from"/> (null: from nothing) to <paramref name="to"/> into the repository's <c>deltas/</c>.</summary>
    /// <exception cref="ObjectNotFoundException">A commit or an object of its tree is missing.</exception>
    public static StaticDeltaStats Generate(OstreeRepo repo, Checksum? from, Checksum to, StaticDeltaOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(repo);
        options ??= new StaticDeltaOptions();
        var name = new DeltaName(from, to);
        var commitBytes = repo.ReadMetadataBytes(ObjectType.Commit, to);
        var toTree = DeltaTreeIndex.Of(repo, Commit.Parse(commitBytes));
        var fromTree = from is { } f ? DeltaTreeIndex.Of(repo, repo.LoadCommit(f)) : DeltaTreeIndex.Empty;

        // What TO has that FROM lacks; the TO commit travels in the superblock.
        var metadata = toTree.Metadata.Where(m => !fromTree.Metadata.Contains(m)).OrderBy(m => m.Type).ThenBy(m => m.Checksum).ToList();
        var files = new List<(Checksum Id, ContentObject Content, string Path)>();
        foreach (var (id, path) in toTree.Files.OrderBy(kv => kv.Key))
        {
            if (!fromTree.Files.ContainsKey(id))
            {
                files.Add((id, repo.LoadContent(id), path));
            }
        }

        var patched = options.Bsdiff ? Diff(repo, files, fromTree, options) : [];
        var fallbacks = new List<DeltaFallback>();
        var plain = new List<ContentObject>();
        var symlinks = new List<ContentObject>();
        foreach (var (id, content, _) in files)
        {
            if (patched.ContainsKey(id))
            {
                continue;
            }

            if (content.Header.IsSymlink)
            {
                symlinks.Add(content);
            }
            else if ((options.MinFallbackSize > 0 && content.Size > options.MinFallbackSize) || content.Size > MaxSpliced)
            {
                fallbacks.Add(new DeltaFallback(ObjectType.File, id, (ulong)new FileInfo(content.Path).Length, (ulong)content.Size));
            }
            else
            {
                plain.Add(content);
            }
        }

        var staging = Path.Combine(repo.Path, "tmp", $"delta-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            using var packer = new PartPacker(staging, options);
            foreach (var m in metadata)
            {
                packer.AddMetadata(m, repo.ReadMetadataBytes(m.Type, m.Checksum));
            }

            foreach (var (id, patch) in patched.OrderBy(kv => kv.Key))
            {
                packer.AddPatched(repo.LoadContent(id), patch.Source, patch.Bytes);
            }

            foreach (var c in plain.Concat(symlinks))
            {
                packer.AddWhole(c);
            }

            var parts = packer.Finish();
            var meta = new List<KeyValuePair<string, GVariantValue>>(options.Metadata)
            {
                new("ostree.endianness", GVariantValue.FromByte(options.BigEndian ? (byte)'B' : (byte)'l')),
            };
            if (options.Inline)
            {
                var partType = GVariantType.Parse("(yay)");
                for (int i = 0; i < parts.Count; i++)
                {
                    var partFile = Path.Combine(staging, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    meta.Add(new(name.PartPath(i), GVariantValue.Parse(partType, File.ReadAllBytes(partFile))));
                    File.Delete(partFile);
                }
            }

            if (repo.LoadDetachedMetadata(to) is { } detached)
            {
                meta.Add(new(name.CommitMetaKey, detached));
            }

            var superblock = new DeltaSuperblock(meta, (ulong)(options.Timestamp ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds(), from, to, commitBytes, parts, fallbacks);
            var superblockBytes = superblock.ToBytes();
            File.WriteAllBytes(Path.Combine(staging, "superblock"), options.Signers.Count > 0 ? SignedSuperblock.Wrap(superblockBytes, options.Signers) : superblockBytes);
            if (options.Filename is { } file)
            {
                var outDir = Path.GetDirectoryName(Path.GetFullPath(file))!;
                for (int i = 0; i < parts.Count && !options.Inline; i++)
                {
                    var part = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    File.Move(Path.Combine(staging, part), Path.Combine(outDir, part), overwrite: true);
                }

                File.Move(Path.Combine(staging, "superblock"), file, overwrite: true);
            }
            else
            {
                StaticDeltas.Install(repo, name, staging);
            }
            return new StaticDeltaStats(name, parts.Count, parts.Sum(p => p.Objects.Count), patched.Count, fallbacks.Count,
                parts.Sum(p => (long)p.CompressedSize), parts.Sum(p => (long)p.UncompressedSize), fallbacks.Sum(x => (long)x.CompressedSize));
        }
        finally
        {
            FileUtil.DeleteAny(staging);
        }
    }

    // Pairs each new regular file with a similar file of FROM and diffs them on every core.
    private static Dictionary<Checksum, (Checksum Source, byte[] Bytes)> Diff(OstreeRepo repo, List<(Checksum Id, ContentObject Content, string Path)> files, DeltaTreeIndex fromTree, StaticDeltaOptions options)
    {
        var pairs = new List<(Checksum To, ContentObject New, ContentObject Old)>();
        foreach (var (id, content, path) in files)
        {
            if (!content.Header.IsSymlink && content.Size >= 64 && fromTree.FindSimilar(repo, path, content.Size, options.MaxBsdiffSize) is { } best)
            {
                pairs.Add((id, content, best));
            }
        }

        var result = new System.Collections.Concurrent.ConcurrentDictionary<Checksum, (Checksum, byte[])>();
        Parallel.ForEach(pairs.OrderByDescending(p => p.New.Size), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, pair =>
        {
            var oldData = pair.Old.ReadAllData();
            var newData = pair.New.ReadAllData();
            var patch = new ArrayBufferWriter<byte>(Math.Max(256, newData.Length + 1024));
            Bsdiff.Diff(oldData, newData, patch);
            result[pair.To] = (pair.Old.Checksum, patch.WrittenSpan.ToArray());
        });
        return new Dictionary<Checksum, (Checksum Source, byte[] Bytes)>(result);
    }
}
