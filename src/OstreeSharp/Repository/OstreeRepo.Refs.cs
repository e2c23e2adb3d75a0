// Refs (spec: ostree-repo-format.md, section 3.1).
using System.Text;
using System.Text.RegularExpressions;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;

namespace OstreeSharp.Repository;

public sealed partial class OstreeRepo
{
    [GeneratedRegex(@"^[\w\d][-._\w\d]*$")]
    private static partial Regex RefFragment();

    /// <summary>Checks a ref name (<c>/</c>-separated fragments matching <c>[\w\d][-._\w\d]*</c>).</summary>
    public static void ValidateRefName(string name)
    {
        if (name.Length == 0 || name.Split('/').Any(f => !RefFragment().IsMatch(f)))
        {
            throw new OstreeFormatException(OstreeErrorCode.RefInvalid, $"Invalid ref name {name}");
        }
    }

    /// <summary>Splits <c>REMOTE:REF</c> into its parts; the remote is null for a local ref.</summary>
    public static (string? Remote, string Ref) ParseRefspec(string refspec)
    {
        int colon = refspec.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            ValidateRefName(refspec);
            return (null, refspec);
        }

        var remote = refspec[..colon];
        var r = refspec[(colon + 1)..];
        if (!RefFragment().IsMatch(remote))
        {
            throw new OstreeFormatException(OstreeErrorCode.RefInvalid, $"Invalid remote name {remote}");
        }

        ValidateRefName(r);
        return (remote, r);
    }

    private string RefPath(string? remote, string name) => remote is null
        ? System.IO.Path.Combine(Path, "refs", "heads", name)
        : System.IO.Path.Combine(Path, "refs", "remotes", remote, name);

    /// <summary>All refs as refspecs (<c>REF</c> for heads, <c>REMOTE:REF</c> for remotes), sorted.</summary>
    public SortedDictionary<string, Checksum> ListRefs(string? prefix = null, bool includeRemotes = true, bool includeMirrors = false)
    {
        var result = new SortedDictionary<string, Checksum>(StringComparer.Ordinal);
        RequireRefsDir("heads");
        AddRefs(System.IO.Path.Combine(Path, "refs", "heads"), null, result);
        if (includeRemotes)
        {
            foreach (var r in Directory.EnumerateDirectories(RequireRefsDir("remotes")).Where(d => RefFragment().IsMatch(System.IO.Path.GetFileName(d))))
            {
                AddRefs(r, System.IO.Path.GetFileName(r) + ":", result);
            }
        }

        if (includeMirrors)
        {
            var mirrors = System.IO.Path.Combine(Path, "refs", "mirrors");
            if (Directory.Exists(mirrors))
            {
                foreach (var c in Directory.EnumerateDirectories(mirrors).Where(d => RefFragment().IsMatch(System.IO.Path.GetFileName(d))))
                {
                    AddRefs(c, "(" + System.IO.Path.GetFileName(c) + ")/", result);
                }
            }
        }

        if (prefix is not null)
        {
            foreach (var k in result.Keys.Where(k => !k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                result.Remove(k);
            }
        }

        return result;
    }

    /// <summary>
    /// The refs that belong to a collection, as libostree's <c>ostree_repo_list_collection_refs</c>: local refs in the
    /// repository's own collection (none when it has no collection id), refs/mirrors/COLLECTION/REF, and unless
    /// <paramref name="excludeRemotes"/> the refs of remotes that have a <c>collection-id</c>; only
    /// <paramref name="collection"/>'s when given. Sorted by collection, then ref.
    /// </summary>
    public SortedDictionary<(string Collection, string Ref), Checksum> ListCollectionRefs(string? collection = null, bool excludeRemotes = false)
    {
        var result = new SortedDictionary<(string Collection, string Ref), Checksum>(Comparer<(string, string)>.Create((a, b) =>
            string.CompareOrdinal(a.Item1, b.Item1) is var c and not 0 ? c : string.CompareOrdinal(a.Item2, b.Item2)));
        void Add(string id, string dir)
        {
            if (collection is null || collection == id)
            {
                foreach (var (file, name) in EnumerateRefFiles(dir))
                {
                    result[(id, name)] = ReadRefFile(file);
                }
            }
        }

        if (CollectionId is { } own)
        {
            Add(own, RequireRefsDir("heads"));
        }

        var mirrors = System.IO.Path.Combine(Path, "refs", "mirrors");
        if (Directory.Exists(mirrors))
        {
            foreach (var c in Directory.EnumerateDirectories(mirrors).Where(d => RefFragment().IsMatch(System.IO.Path.GetFileName(d))))
            {
                Add(System.IO.Path.GetFileName(c), c);
            }
        }

        var remotes = System.IO.Path.Combine(Path, "refs", "remotes");
        if (!excludeRemotes && Directory.Exists(remotes))
        {
            foreach (var r in Directory.EnumerateDirectories(remotes).Where(d => RefFragment().IsMatch(System.IO.Path.GetFileName(d))))
            {
                if (GetRemote(System.IO.Path.GetFileName(r))?.CollectionId is { } id)
                {
                    Add(id, r);
                }
            }
        }

        return result;
    }

    /// <summary>
    /// Points a collection ref at a commit (null deletes it), as libostree's <c>ostree_repo_set_collection_ref_immediate</c>:
    /// a ref of the repository's own collection is a local ref, any other lives under refs/mirrors/COLLECTION/.
    /// </summary>
    public void SetCollectionRefImmediate(string collection, string refName, Checksum? target)
    {
        ArgumentNullException.ThrowIfNull(collection);
        ValidateCollectionId(collection);
        ValidateRefName(refName);
        if (collection == CollectionId)
        {
            SetRefImmediate(refName, target);
            return;
        }

        WriteMirrorRef(collection, refName, target);
        MaybeRegenerateSummary();
    }

    /// <summary>Writes (null: deletes) refs/mirrors/COLLECTION/REF, a ref of another collection than the repository's.</summary>
    internal void WriteMirrorRef(string collection, string refName, Checksum? target)
    {
        var path = System.IO.Path.Combine(Path, "refs", "mirrors", collection, refName);
        if (target is null)
        {
            if (!File.Exists(path))
            {
                throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"Refspec '({collection}, {refName})' not found");
            }

            File.Delete(path);
            PruneEmptyRefDirs(System.IO.Path.GetDirectoryName(path)!);
        }
        else
        {
            FileUtil.WriteAtomic(path, Encoding.ASCII.GetBytes(target.Value.ToHex() + "\n"), Fsync);
        }
    }

    /// <summary>A collection id as libostree accepts one (a D-Bus interface name): at least two dot-separated elements of [A-Za-z0-9_], none starting with a digit.</summary>
    public static void ValidateCollectionId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var parts = id.Split('.');
        if (id.Length > 255 || parts.Length < 2 || parts.Any(p => p.Length == 0 || char.IsAsciiDigit(p[0]) || !p.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')))
        {
            throw new OstreeException(OstreeErrorCode.RefInvalid, $"Invalid collection ID {id}");
        }
    }

    // libostree's words when a repository lost one of its refs folders.
    private string RequireRefsDir(string name)
    {
        var dir = System.IO.Path.Combine(Path, "refs", name);
        return Directory.Exists(dir) ? dir : throw new OstreeException(OstreeErrorCode.RefNotFound, $"Listing refs: opendir(refs/{name}): No such file or directory");
    }

    private static void AddRefs(string dir, string? prefix, SortedDictionary<string, Checksum> into)
    {
        foreach (var (file, name) in EnumerateRefFiles(dir))
        {
            into[(prefix ?? string.Empty) + name] = ReadRefFile(file);
        }
    }

    /// <summary>
    /// The ref files under a refs folder, each with its name relative to the folder. Entries whose names are not
    /// ref fragments are skipped, as libostree skips them: the temporary file of a write that was killed, or a
    /// dotfile a sync tool dropped.
    /// </summary>
    internal static IEnumerable<(string File, string Name)> EnumerateRefFiles(string dir)
    {
        if (!Directory.Exists(dir))
        {
            yield break;
        }

        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            var rel = System.IO.Path.GetRelativePath(dir, f).Replace(System.IO.Path.DirectorySeparatorChar, '/');
            if (rel.Split('/').All(RefFragment().IsMatch))
            {
                yield return (f, rel);
            }
        }
    }

    private static Checksum ReadRefFile(string file)
    {
        var text = File.ReadAllText(file).Trim();
        if (!Checksum.TryParse(text, out var c))
        {
            throw new OstreeFormatException($"ref file {file} does not hold a checksum");
        }

        return c;
    }

    /// <summary>
    /// Resolves a revision: a checksum, <c>REF</c>, <c>REMOTE:REF</c>, optionally followed by <c>^</c>
    /// (parent) any number of times. Returns null when <paramref name="allowMissing"/> and the ref does not exist.
    /// </summary>
    public Checksum? ResolveRev(string rev, bool allowMissing = false)
    {
        int carets = 0;
        while (rev.EndsWith('^'))
        {
            carets++;
            rev = rev[..^1];
        }

        Checksum? c = ResolveRefOrChecksum(rev, allowMissing);
        for (int k = 0; k < carets && c is not null; k++)
        {
            c = LoadCommit(c.Value).Parent ?? throw new ObjectNotFoundException($"Commit {c} has no parent");
        }

        return c;
    }

    /// <summary>
    /// The aliases among the local refs (refs that are symlinks to another ref), each with the ref it names, as
    /// <c>ostree refs -A</c> lists them.
    /// </summary>
    public SortedDictionary<string, string> ListRefAliases()
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (file, name) in EnumerateRefFiles(RequireRefsDir("heads")))
        {
            if (new FileInfo(file).LinkTarget is { } target)
            {
                while (target.StartsWith("../", StringComparison.Ordinal))
                {
                    target = target[3..];
                }

                result[name] = target;
            }
        }

        return result;
    }

    /// <summary>
    /// Makes local ref <paramref name="alias"/> a symlink to local ref <paramref name="target"/> (relative, as libostree
    /// writes it), replacing what it was; the alias then follows every update of the target.
    /// </summary>
    public void SetAliasRef(string alias, string target)
    {
        ValidateRefName(alias);
        ValidateRefName(target);
        var path = RefPath(null, alias);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var link = string.Concat(Enumerable.Repeat("../", alias.Count(ch => ch == '/'))) + target;
        var tmp = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, "." + System.IO.Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..12] + ".tmp");
        Native.Symlink(link, tmp);
        Native.Rename(tmp, path);
    }

    /// <summary>Whether the ref itself exists (<c>REF</c> a local ref, <c>REMOTE:REF</c> a remote one), without falling back to remotes.</summary>
    public bool HasRef(string refspec)
    {
        var (remote, name) = ParseRefspec(refspec);
        return File.Exists(RefPath(remote, name));
    }

    /// <summary>Resolves a revision that must exist.</summary>
    public Checksum Resolve(string rev) => ResolveRev(rev)!.Value;

    private Checksum? ResolveRefOrChecksum(string rev, bool allowMissing)
    {
        if (Checksum.TryParse(rev, out var c) && rev.All(char.IsAsciiHexDigitLower))
        {
            return c;
        }

        var (remote, name) = ParseRefspec(rev);
        var path = RefPath(remote, name);
        if (File.Exists(path))
        {
            return ReadRefFile(path);
        }

        if (remote is null)
        {
            // "origin/branch" may name a remote ref, and collection refs live under mirrors.
            var alt = System.IO.Path.Combine(Path, "refs", "remotes", name);
            if (File.Exists(alt))
            {
                return ReadRefFile(alt);
            }

            // As libostree: an unqualified ref not found locally is looked up under every remote (here in name
            // order, where libostree takes the order of the folder listing).
            var remotes = System.IO.Path.Combine(Path, "refs", "remotes");
            if (Directory.Exists(remotes))
            {
                foreach (var dir in Directory.GetDirectories(remotes).Order(StringComparer.Ordinal))
                {
                    var candidate = System.IO.Path.Combine(dir, name);
                    if (File.Exists(candidate))
                    {
                        return ReadRefFile(candidate);
                    }
                }
            }
        }

        // As libostree: hex that names no ref may be the start of one commit's checksum.
        if (remote is null && rev.Length is > 0 and < 64 && rev.All(char.IsAsciiHexDigitLower) && PartialCommit(rev) is { } partial)
        {
            return partial;
        }

        // As libostree: a ref not found here may be the parent repository's.
        if (Parent?.ResolveRefOrChecksum(rev, allowMissing: true) is { } inherited)
        {
            return inherited;
        }

        if (allowMissing)
        {
            return null;
        }

        throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"Refspec '{rev}' not found");
    }

    // The one commit whose checksum starts with PREFIX; null when none, an error when several.
    private Checksum? PartialCommit(string prefix)
    {
        var dirs = prefix.Length >= 2
            ? [System.IO.Path.Combine(Path, "objects", prefix[..2])]
            : Directory.Exists(System.IO.Path.Combine(Path, "objects")) ? Directory.GetDirectories(System.IO.Path.Combine(Path, "objects"), prefix + "?") : [];
        var found = new List<Checksum>();
        foreach (var dir in dirs.Where(Directory.Exists))
        {
            var rest = prefix.Length > 2 ? prefix[2..] : string.Empty;
            foreach (var f in Directory.EnumerateFiles(dir, rest + "*.commit"))
            {
                var hex = System.IO.Path.GetFileName(dir) + System.IO.Path.GetFileNameWithoutExtension(f);
                if (Checksum.TryParse(hex, out var c))
                {
                    found.Add(c);
                }
            }
        }

        return found.Count switch
        {
            0 => null,
            1 => found[0],
            _ => throw new OstreeException(OstreeErrorCode.RefInvalid, $"Refspec {prefix} is ambiguous"),
        };
    }

    /// <summary>Points a ref at a commit (or deletes it with null), atomically, outside a transaction.</summary>
    public void SetRefImmediate(string refspec, Checksum? target)
    {
        WriteRef(refspec, target);
        MaybeRegenerateSummary();
    }

    /// <summary>
    /// As libostree after refs change: with <c>core.auto-update-summary</c> (or its older name
    /// <c>core.commit-update-summary</c>) the summary is written again.
    /// </summary>
    internal void MaybeRegenerateSummary()
    {
        if (Config.GetBoolean("core", "auto-update-summary", false) || Config.GetBoolean("core", "commit-update-summary", false))
        {
            Summary.Update(this);
        }
    }

    // Writes (or deletes, for a null target) one ref file.
    internal void WriteRef(string refspec, Checksum? target)
    {
        var (remote, name) = ParseRefspec(refspec);
        var path = RefPath(remote, name);
        if (target is null)
        {
            if (!File.Exists(path))
            {
                throw new ObjectNotFoundException(OstreeErrorCode.RefNotFound, $"Refspec '{refspec}' not found");
            }

            File.Delete(path);
            PruneEmptyRefDirs(System.IO.Path.GetDirectoryName(path)!);
            return;
        }

        if (Directory.Exists(path))
        {
            throw new OstreeException(OstreeErrorCode.RefExists, $"Cannot create ref {refspec}: a ref directory of that name exists");
        }

        FileUtil.WriteAtomic(path, Encoding.ASCII.GetBytes(target.Value.ToHex() + "\n"), Fsync);
    }

    private void PruneEmptyRefDirs(string dir)
    {
        var stops = new[] { "heads", "remotes", "mirrors" }.Select(d => System.IO.Path.Combine(Path, "refs", d)).ToHashSet();
        while (!stops.Contains(dir) && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
        {
            if (System.IO.Path.GetDirectoryName(dir) is { } parent && stops.Contains(parent) && parent.EndsWith("remotes", StringComparison.Ordinal))
            {
                break; // keep refs/remotes/NAME itself
            }

            Directory.Delete(dir);
            dir = System.IO.Path.GetDirectoryName(dir)!;
        }
    }
}
