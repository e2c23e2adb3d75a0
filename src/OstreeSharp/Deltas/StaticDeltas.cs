// The static deltas of a repository: listing, reading, deleting, applying offline, and the index the summary and
// delta-indexes/ publish (name -> sha256 of the superblock).
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Deltas;

/// <summary>How <see cref="StaticDeltas.ApplyOffline"/> applies a delta.</summary>
public sealed record DeltaApplyOptions
{
    /// <summary>Apply a delta that lists fallback objects too, leaving those objects for the caller to bring (pull-local copies them from the delta's repository).</summary>
    public bool AllowFallbacks { get; init; }

    /// <summary>Keys that check a signed superblock; null: a signed delta is applied unchecked (unless <see cref="EnforceSignatures"/>).</summary>
    public Signing.SignEngine? Verifier { get; init; }

    /// <summary>A signed delta needs a <see cref="Verifier"/> when the repository sets <c>core.sign-verify-deltas</c> (as libostree's offline apply).</summary>
    public bool EnforceSignatures { get; init; }

    /// <summary>A line per part applied.</summary>
    public IProgress<string>? Log { get; init; }
}

/// <summary>Operations on the deltas kept in a repository.</summary>
public static class StaticDeltas
{
    private const int MaxSuperblockSize = 64 << 20;

    /// <summary>Every delta under <c>deltas/</c> that has a superblock, sorted by name.</summary>
    public static IReadOnlyList<DeltaName> List(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var root = Path.Combine(repo.Path, "deltas");
        var result = new List<DeltaName>();
        if (!Directory.Exists(root))
        {
            return result;
        }

        foreach (var prefixDir in Directory.EnumerateDirectories(root))
        {
            var prefix = Path.GetFileName(prefixDir);
            if (prefix.Length != 2)
            {
                continue;
            }

            foreach (var dir in Directory.EnumerateDirectories(prefixDir))
            {
                if (TryParseDir(prefix + Path.GetFileName(dir), out var name) && File.Exists(Path.Combine(dir, "superblock")))
                {
                    result.Add(name);
                }
            }
        }

        return result.OrderBy(n => n.ToString(), StringComparer.Ordinal).ToList();
    }

    private static bool TryParseDir(string joined, out DeltaName name)
    {
        name = default;
        int dash = joined.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            if (DeltaName.TryParseModifiedBase64(joined, out var to))
            {
                name = new DeltaName(null, to);
                return true;
            }

            return false;
        }

        if (DeltaName.TryParseModifiedBase64(joined[..dash], out var f) && DeltaName.TryParseModifiedBase64(joined[(dash + 1)..], out var t))
        {
            name = new DeltaName(f, t);
            return true;
        }

        return false;
    }

    /// <summary>Resolves a delta given by name, or by a target commit when only one delta leads to it.</summary>
    /// <exception cref="ObjectNotFoundException">No such delta.</exception>
    public static DeltaName Resolve(OstreeRepo repo, string text)
    {
        ArgumentNullException.ThrowIfNull(text);

        // libostree's words for something that is not a delta name (at most 64 characters of it shown).
        foreach (var part in text.Split('-', 2))
        {
            if (!Checksum.TryParse(part, out _))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Invalid rev " + (part.Length > 64 ? part[..64] : part).Replace('\n', ' '));
            }
        }

        var all = List(repo);
        var match = all.Where(n => n.ToString() == text).ToList();
        if (match.Count == 0 && !text.Contains('-', StringComparison.Ordinal))
        {
            match = all.Where(n => n.To.ToHex() == text).ToList();
        }

        return match.Count == 1 ? match[0] : throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"No static delta {text} in {repo.Path}");
    }

    /// <summary>Reads a kept delta's superblock.</summary>
    public static DeltaSuperblock ReadSuperblock(OstreeRepo repo, DeltaName name)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var path = Path.Combine(repo.Path, name.SuperblockPath);
        if (!File.Exists(path))
        {
            throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"No static delta {name} in {repo.Path}");
        }

        return DeltaSuperblock.Parse(SignedSuperblock.Plain(ReadBounded(path, MaxSuperblockSize), path), path);
    }

    /// <summary>The bytes of a kept delta's superblock file (signed or not), or of the superblock file at a path (one with a '/').</summary>
    public static byte[] ReadSuperblockFile(OstreeRepo repo, string delta)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(delta);
        var path = delta.Contains('/', StringComparison.Ordinal) ? delta : Path.Combine(repo.Path, DeltaName.Parse(delta).SuperblockPath);
        return File.Exists(path) ? ReadBounded(path, MaxSuperblockSize) : throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"No static delta superblock at {path}");
    }

    /// <summary>Removes a delta.</summary>
    public static void Delete(OstreeRepo repo, DeltaName name)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var dir = Path.Combine(repo.Path, name.RelativeDir);
        if (!Directory.Exists(dir))
        {
            throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"No static delta {name} in {repo.Path}");
        }

        // Out of sight first, so a reader never sees a superblock without its parts.
        var trash = Path.Combine(repo.Path, "tmp", $"delta-deleted-{Guid.NewGuid():N}");
        Directory.Move(dir, trash);
        FileUtil.DeleteAny(trash);
    }

    /// <summary>Moves a delta built in <paramref name="staging"/> into place, replacing any delta of that name.</summary>
    internal static void Install(OstreeRepo repo, DeltaName name, string staging)
    {
        var dir = Path.Combine(repo.Path, name.RelativeDir);
        Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
        string? old = null;
        if (Directory.Exists(dir))
        {
            old = Path.Combine(repo.Path, "tmp", $"delta-replaced-{Guid.NewGuid():N}");
            Directory.Move(dir, old);
        }

        Directory.Move(staging, dir);
        if (old is not null)
        {
            FileUtil.DeleteAny(old);
        }
    }

    /// <summary>The index published by the summary: every delta's name and the sha256 of its superblock.</summary>
    public static IReadOnlyList<(DeltaName Name, byte[] SuperblockSha256)> Index(OstreeRepo repo) =>
        List(repo).Select(n => (n, Checksum.Compute(File.ReadAllBytes(Path.Combine(repo.Path, n.SuperblockPath))).ToBytes())).ToList();

    /// <summary>An <c>a{sv}</c> of delta name to superblock checksum (<c>ay</c>).</summary>
    public static GVariantValue IndexValue(IEnumerable<(DeltaName Name, byte[] SuperblockSha256)> entries) =>
        GVariantValue.FromVarDict(GHashTableOrder.Reorder(entries.Select(e => new KeyValuePair<string, GVariantValue>(e.Name.ToString(), GVariantValue.FromBytes(e.SuperblockSha256)))));

    /// <summary>
    /// The deltas to <paramref name="to"/> that <paramref name="repo"/> publishes, as a pull from it finds them: listed in
    /// its summary's <c>ostree.static-deltas</c> or in the commit's <c>delta-indexes/</c> file, and present.
    /// </summary>
    public static IEnumerable<DeltaName> Published(OstreeRepo repo, Checksum to)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var summaryPath = Path.Combine(repo.Path, "summary");
        if (File.Exists(summaryPath))
        {
            var meta = GVariantValue.Parse(Summary.Type, File.ReadAllBytes(summaryPath))[1];
            if (meta.Lookup("ostree.static-deltas") is { Type.Text: "a{sv}" } listed)
            {
                names.UnionWith(listed.GetVarDictEntries().Select(kv => kv.Key));
            }
        }

        var indexPath = Path.Combine(repo.Path, DeltaName.IndexPath(to));
        if (File.Exists(indexPath) && GVariantValue.Parse(GVariantType.VarDict, File.ReadAllBytes(indexPath)).Lookup("ostree.static-deltas") is { Type.Text: "a{sv}" } indexed)
        {
            names.UnionWith(indexed.GetVarDictEntries().Select(kv => kv.Key));
        }

        foreach (var n in names)
        {
            var name = DeltaName.Parse(n);
            if (name.To == to && File.Exists(Path.Combine(repo.Path, name.SuperblockPath)))
            {
                yield return name;
            }
        }
    }

    /// <summary>
    /// The commits <c>delta-indexes/</c> has an index for (<c>XX/REST.index</c>, the commit in modified base64), in
    /// order; other files there are skipped, as libostree skips them.
    /// </summary>
    public static IReadOnlyList<Checksum> ListIndexes(OstreeRepo repo)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var root = Path.Combine(repo.Path, "delta-indexes");
        var found = new List<Checksum>();
        if (!Directory.Exists(root))
        {
            return found;
        }

        foreach (var dir in Directory.EnumerateDirectories(root).Where(d => Path.GetFileName(d).Length == 2))
        {
            foreach (var file in Directory.EnumerateFiles(dir, "*.index"))
            {
                var rest = Path.GetFileName(file)[..^".index".Length];
                if (rest.Length == 41 && DeltaName.TryParseModifiedBase64(Path.GetFileName(dir) + rest, out var c))
                {
                    found.Add(c);
                }
            }
        }

        found.Sort();
        return found;
    }

    /// <summary>
    /// Rewrites <c>delta-indexes/</c>: for each commit some delta leads to, an <c>a{sv}</c> whose
    /// <c>ostree.static-deltas</c> lists those deltas. Stale index files are removed.
    /// </summary>
    public static void WriteIndexes(OstreeRepo repo, IReadOnlyList<(DeltaName Name, byte[] SuperblockSha256)> index) =>
        WriteIndexes(repo, index, only: null);

    /// <summary>
    /// <c>static-delta reindex [--to=REV]</c>: rewrites <c>delta-indexes/</c> from the deltas in the repository, or
    /// only the index of commit <paramref name="only"/> (its file removed when no delta leads there).
    /// </summary>
    public static void WriteIndexes(OstreeRepo repo, IReadOnlyList<(DeltaName Name, byte[] SuperblockSha256)> index, Checksum? only)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(index);

        // As libostree, the config says so: a pull that names its commits then needs no summary to find deltas.
        if (!repo.Config.GetBoolean("core", "indexed-deltas", false))
        {
            repo.Config.Set("core", "indexed-deltas", "true");
            repo.SaveConfig();
        }
        if (only is { } to)
        {
            var entries = index.Where(e => e.Name.To == to).ToList();
            var file = Path.Combine(repo.Path, DeltaName.IndexPath(to));
            if (entries.Count == 0)
            {
                File.Delete(file);
                return;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            FileUtil.WriteAtomic(file, GVariantValue.FromVarDict([new("ostree.static-deltas", IndexValue(entries))]).ToBytes(), repo.Fsync);
            return;
        }

        var root = Path.Combine(repo.Path, "delta-indexes");
        var keep = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in index.GroupBy(e => e.Name.To))
        {
            var rel = DeltaName.IndexPath(group.Key);
            keep.Add(Path.GetFullPath(Path.Combine(repo.Path, rel)));
            var value = GVariantValue.FromVarDict([new("ostree.static-deltas", IndexValue(group))]);
            var path = Path.Combine(repo.Path, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            FileUtil.WriteAtomic(path, value.ToBytes(), repo.Fsync);
        }

        if (Directory.Exists(root))
        {
            foreach (var f in Directory.EnumerateFiles(root, "*.index", SearchOption.AllDirectories).ToList())
            {
                if (!keep.Contains(Path.GetFullPath(f)))
                {
                    File.Delete(f);
                }
            }
        }
    }

    /// <summary>
    /// Applies a delta from files (<paramref name="path"/>: its folder or its superblock) into <paramref name="repo"/>:
    /// every part is checked against the superblock and every object against its id, and nothing is published
    /// unless all of it is. A delta from a commit needs that commit; a delta with fallback objects is refused unless
    /// <see cref="DeltaApplyOptions.AllowFallbacks"/>. Returns the target commit.
    /// </summary>
    /// <exception cref="ObjectNotFoundException">The delta or its source commit is missing.</exception>
    /// <exception cref="ObjectCorruptedException">A part or an object does not match its checksum.</exception>
    /// <exception cref="Signing.SignatureException">The signature does not verify, or a needed key is missing.</exception>
    public static Checksum ApplyOffline(OstreeRepo repo, string path, DeltaApplyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(path);
        options ??= new DeltaApplyOptions();
        var (log, allowFallbacks, verifier, enforceSignatures) = (options.Log, options.AllowFallbacks, options.Verifier, options.EnforceSignatures);
        var superblockPath = Directory.Exists(path) ? Path.Combine(path, "superblock") : path;
        if (!File.Exists(superblockPath))
        {
            throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"No static delta superblock at {superblockPath}");
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(superblockPath))!;
        var file = ReadBounded(superblockPath, MaxSuperblockSize);
        if (SignedSuperblock.IsSigned(file))
        {
            if (enforceSignatures && verifier is null && repo.Config.GetBoolean("core", "sign-verify-deltas", false))
            {
                throw new Signing.SignatureException("Key is mandatory to check delta signature", Signing.SignatureFailure.UnknownKey);
            }

            if (verifier is not null)
            {
                SignedSuperblock.Verify(file, verifier, superblockPath);
            }

            file = SignedSuperblock.Unwrap(file, superblockPath).Superblock;
        }

        var sb = DeltaSuperblock.Parse(file, superblockPath);
        if (sb.From is { } from && !repo.HasObject(from, ObjectType.Commit))
        {
            throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"Commit {from}, which is the delta source, is not in repository {repo.Path}");
        }

        if (sb.Fallbacks.Count > 0 && !allowFallbacks)
        {
            throw new OstreeException(OstreeErrorCode.NotSupported, $"Cannot execute delta {sb.Name} offline: it lists {sb.Fallbacks.Count} objects to fetch over HTTP");
        }

        using var tx = repo.BeginTransaction();
        for (int i = 0; i < sb.Parts.Count; i++)
        {
            var partPath = Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var bytes = InlinePart(sb, i) ?? (File.Exists(partPath)
                ? ReadBounded(partPath, (long)Math.Min(sb.Parts[i].CompressedSize + 1, int.MaxValue))
                : throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"Static delta part {partPath} is missing"));
            int n = DeltaPartExecutor.Execute(tx, sb.Parts[i], bytes, partPath);
            log?.Report($"part {i}: {n} objects");
        }

        WriteTarget(tx, sb);
        tx.Commit();
        return sb.To;
    }

    /// <summary>The bytes of part <paramref name="index"/> when the superblock carries it inline.</summary>
    public static byte[]? InlinePart(DeltaSuperblock superblock, int index)
    {
        ArgumentNullException.ThrowIfNull(superblock);
        if (superblock.Lookup(superblock.Name.PartPath(index)) is not { } v || v.Type.Text != "(yay)")
        {
            return null;
        }

        var data = v[1].GetBytes();
        var bytes = new byte[data.Length + 1];
        bytes[0] = v[0].GetByte();
        data.CopyTo(bytes, 1);
        return bytes;
    }

    /// <summary>Writes the target commit carried by the superblock (checked against its id) and its detached metadata.</summary>
    public static void WriteTarget(RepoTransaction tx, DeltaSuperblock superblock)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(superblock);
        tx.WriteMetadataTrusted(ObjectType.Commit, superblock.To, superblock.CommitBytes);
        if (superblock.DetachedMetadata is { } detached)
        {
            tx.WriteCommitDetachedMetadata(superblock.To, detached);
        }
    }

    /// <summary>Text as <c>ostree static-delta show</c> prints it.</summary>
    public static string Show(OstreeRepo repo, DeltaName name)
    {
        var sb = ReadSuperblock(repo, name);
        var dir = Path.Combine(repo.Path, name.RelativeDir);
        var text = new StringBuilder();
        text.Append("Delta: ").Append(name).Append('\n');
        text.Append("Signed: no\n");
        text.Append(sb.From is { } from ? "From: " + from.ToHex() : "From <scratch>").Append('\n');
        text.Append("To: ").Append(sb.To.ToHex()).Append('\n');
        text.Append("Endianness: ").Append(sb.BigEndian ? "big" : "little").Append(sb.EndiannessGuessed ? " (heuristic)" : string.Empty).Append('\n');
        text.Append("Timestamp: ").Append(sb.Timestamp).Append('\n');
        text.Append("Number of parents: 0\n");
        ulong fallbackSize = 0, fallbackUsize = 0;
        foreach (var f in sb.Fallbacks)
        {
            fallbackSize += f.CompressedSize;
            fallbackUsize += f.UncompressedSize;
        }

        text.Append("Number of fallback entries: ").Append(sb.Fallbacks.Count).Append('\n');
        text.Append("Total Fallback Size: ").Append(Sized(fallbackSize)).Append('\n');
        text.Append("Total Fallback Uncompressed Size: ").Append(Sized(fallbackUsize)).Append('\n');
        text.Append("Number of parts: ").Append(sb.Parts.Count).Append('\n');
        ulong total = 0, totalU = 0;
        for (int i = 0; i < sb.Parts.Count; i++)
        {
            var p = sb.Parts[i];
            text.Append("PartMeta").Append(i).Append(": nobjects=").Append(p.Objects.Count).Append(" size=").Append(p.CompressedSize).Append(" usize=").Append(p.UncompressedSize).Append('\n');
            var partPath = Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var bytes = InlinePart(sb, i) ?? File.ReadAllBytes(partPath);
            var d = DeltaPartExecutor.Describe(p.Objects, DeltaPartExecutor.Decompress(bytes, partPath), partPath);
            text.Append("PartPayload").Append(i).Append(": nmodes=").Append(d.Modes).Append(" nxattrs=").Append(d.Xattrs).Append(" blobsize=").Append(d.BlobSize).Append(" opsize=").Append(d.OpSize).Append('\n');
            int Count(char c) => d.Ops.GetValueOrDefault(c);
            text.Append("PartPayloadOps").Append(i).Append(": openspliceclose=").Append(Count('S')).Append(" open=").Append(Count('o')).Append(" write=").Append(Count('w'))
                .Append(" setread=").Append(Count('r')).Append(" unsetread=").Append(Count('R')).Append(" close=").Append(Count('c')).Append(" bspatch=").Append(Count('B')).Append('\n');
            total += p.CompressedSize;
            totalU += p.UncompressedSize;
        }

        text.Append("Total Part Size: ").Append(Sized(total)).Append('\n');
        text.Append("Total Part Uncompressed Size: ").Append(Sized(totalU)).Append('\n');
        text.Append("Total Size: ").Append(Sized(total + fallbackSize)).Append('\n');
        text.Append("Total Uncompressed Size: ").Append(Sized(totalU + fallbackUsize)).Append('\n');
        return text.ToString();
    }

    private static string Sized(ulong n) => $"{n} ({SizeFormat.FormatAsGlibPrints((long)n)})";

    private static byte[] ReadBounded(string path, long max)
    {
        var info = new FileInfo(path);
        if (info.Length > max)
        {
            throw new OstreeFormatException($"{path}: {info.Length} bytes, more than the {max} expected");
        }

        return File.ReadAllBytes(path);
    }
}
