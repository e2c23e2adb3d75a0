// Plain tarballs into a MutableTree: `commit --tree=tar=FILE`, and container layers with the
// filtering rules of ostree-container-format.md 4.5 and 8.3 (etc -> usr/etc, /run /tmp /proc
// /sys /dev emptied, other top-level folders dropped, `..` refused), with a report of what
// was dropped. Binary xattr values from PAX records are kept exactly. `commit --tree=tar=` also takes cpio archives.
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Tar;

/// <summary>How a plain tarball is mapped into a commit.</summary>
public sealed record TarTreeOptions
{
    /// <summary>Create missing parent directories (0755, root) instead of failing.</summary>
    public bool AutocreateParents { get; init; }

    /// <summary>Apply the container-layer filtering rules.</summary>
    public bool FilterContainerLayer { get; init; }

    /// <summary>With filtering: keep top-level folders other than usr, etc and var (overlay-style roots).</summary>
    public bool AllowOtherTopLevel { get; init; }

    /// <summary>Rewrites each entry's path (and a hard link's target), made relative (no leading <c>/</c> or <c>./</c>) as libostree does first, before anything else reads it (<c>--tar-pathname-filter</c>).</summary>
    public Func<string, string>? TranslatePathname { get; init; }
}

/// <summary>Imports a tar (or, outside container layers, cpio) stream into a <see cref="MutableTree"/>.</summary>
public static class TarTreeImporter
{
    private const uint DefaultDirMode = UnixMode.Directory | 0x1ED;

    /// <summary>Imports the tar file at <paramref name="path"/> (<c>-</c> for stdin).</summary>
    public static IReadOnlyDictionary<string, int> Import(RepoTransaction tx, CommitModifier modifier, string path, MutableTree root, bool autocreateParents)
    {
        using var stream = path == "-" ? Console.OpenStandardInput() : new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Import(tx, modifier, stream, path, root, new TarTreeOptions { AutocreateParents = autocreateParents });
    }

    /// <summary>Imports a tar stream; returns the names dropped by filtering with their counts.</summary>
    public static IReadOnlyDictionary<string, int> Import(RepoTransaction tx, CommitModifier modifier, Stream stream, string name, MutableTree root, TarTreeOptions options)
    {
        var filtered = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var defaultMeta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(modifier.OwnerUid ?? 0, modifier.OwnerGid ?? 0, DefaultDirMode, Xattrs.Empty).ToBytes());
        root.MetaChecksum ??= defaultMeta;
        root.Invalidate();
        var byPath = new Dictionary<string, Checksum>(StringComparer.Ordinal);
        var deferredLinks = new List<(string Path, string Target, string EntryName, bool Payload)>();
        var stashed = new Dictionary<string, Checksum>(StringComparer.Ordinal);
        var rehomed = new Dictionary<string, string>(StringComparer.Ordinal);
        // Container layers are tar (OCI); `commit --tree=tar=` also reads cpio, as libarchive does.
        using var reader = options.FilterContainerLayer ? new TarReader(stream, leaveOpen: true) : ArchiveReaders.Open(stream, name);
        // As libostree, the filter sees the path without its leading `/` and `./` (a trailing `/` stays): `^usr/` matches `./usr/bin/foo`.
        string Translate(string path) => options.TranslatePathname is { } translate ? translate(Relative(path)) : path;
        TarEntry? entry;
        while ((entry = reader.GetNextEntry()) is not null)
        {
            var rel = Normalize(Translate(entry.Name), name);
            if (options.FilterContainerLayer && entry.Mtime > 0 && rel.StartsWith(RepoPrefix, StringComparison.Ordinal) && entry.IsRegular)
            {
                // A modified copy of a file the base image hard-linked into its object store (a container
                // engine's copy-up): kept aside for the hard links that give it its real path.
                uint fileMode = UnixMode.Regular | (entry.Mode & UnixMode.PermissionMask);
                var (su, sg, sm, sx) = modifier.Apply("/" + rel, entry.Uid, entry.Gid, fileMode, OstreeOrder(entry));
                stashed[rel] = tx.WriteContent(new FileHeader(su, sg, sm, string.Empty, sx), reader.DataStream, entry.Size);
                continue;
            }

            if (options.FilterContainerLayer && entry.Type == TarType.HardLink && entry.Mtime > 0)
            {
                var linkTarget = Normalize(entry.LinkName, name);
                if (linkTarget.StartsWith(RepoPrefix, StringComparison.Ordinal))
                {
                    Checksum? c = stashed.TryGetValue(linkTarget, out var s1) ? s1 : rehomed.TryGetValue(linkTarget, out var home) && byPath.TryGetValue(home, out var s2) ? s2 : null;
                    // (ostree-ext emits these paths without the etc -> usr/etc move; we move them like every other path.)
                    if (c is { } found && Filter(rel, false, options, filtered) is { Length: > 0 } mapped)
                    {
                        var (ldir, lleaf) = Parent(root, mapped, options.AutocreateParents, defaultMeta, name, entry.Name);
                        ldir.SetFile(lleaf, found);
                        byPath[mapped] = found;
                        rehomed.TryAdd(linkTarget, mapped);
                    }

                    continue;
                }
            }

            if (options.FilterContainerLayer)
            {
                rel = Filter(rel, entry.IsDirectory, options, filtered);
                if (rel is null)
                {
                    continue;
                }
            }

            if (rel.Length == 0)
            {
                if (entry.IsDirectory)
                {
                    root.MetaChecksum = WriteDirMeta(tx, modifier, entry, "/");
                }

                continue;
            }

            var treePath = "/" + rel;
            if (modifier.SkipList.Contains(treePath))
            {
                continue;
            }

            var (dir, leaf) = Parent(root, rel, options.AutocreateParents, defaultMeta, name, entry.Name);
            switch (entry.Type)
            {
                case TarType.Directory:
                    dir.EnsureDir(leaf, WriteDirMeta(tx, modifier, entry, treePath));
                    break;
                case TarType.Regular or TarType.RegularOld or TarType.Contiguous or TarType.Symlink:
                    {
                        // A later name of a cpio inode: imported when it carries data, and linked at the end (as ostree does).
                        var linkOf = entry.HardLinkTo is { } first ? Normalize(Translate(first), name) : null;
                        if (linkOf is null || entry.Size > 0)
                        {
                            bool link = entry.Type == TarType.Symlink;
                            uint mode = (link ? UnixMode.Symlink : UnixMode.Regular) | (entry.Mode & UnixMode.PermissionMask);
                            var (u, g, m, x) = modifier.Apply(treePath, entry.Uid, entry.Gid, mode, OstreeOrder(entry));
                            var header = new FileHeader(u, g, m, link ? entry.LinkName : string.Empty, x);
                            var c = tx.WriteContent(header, link ? Stream.Null : reader.DataStream, link ? 0 : entry.Size);
                            dir.SetFile(leaf, c);
                            byPath[rel] = c;
                        }

                        if (linkOf is not null)
                        {
                            deferredLinks.Add((rel, linkOf, entry.Name, entry.Size > 0));
                        }

                        break;
                    }

                case TarType.HardLink:
                    {
                        var target = Normalize(Translate(entry.LinkName), name);
                        if (options.FilterContainerLayer)
                        {
                            target = MapEtc(target);
                        }

                        deferredLinks.Add((rel, target, entry.Name, false));
                        break;
                    }

                default:
                    throw new TarFormatException($"{name}: Unsupported file type for path \"{entry.Name}\" ({TarType.Describe(entry.Type)})");
            }
        }

        // Hard links are resolved at the end, as ostree does, so they may point at later entries. The first link of a
        // target that carried data (cpio: GNU cpio writes it with the last name) gives its content to the target.
        foreach (var links in deferredLinks.GroupBy(l => l.Target, StringComparer.Ordinal))
        {
            var target = links.Key;
            var payload = links.FirstOrDefault(l => l.Payload);
            if (payload.Payload && byPath.TryGetValue(payload.Path, out var content))
            {
                var (tdir, tleaf) = Parent(root, target, false, defaultMeta, name, target);
                tdir.SetFile(tleaf, content);
                byPath[target] = content;
            }

            foreach (var (rel, _, entryName, _) in links)
            {
                if (!byPath.TryGetValue(target, out var c))
                {
                    throw new TarFormatException($"{name}: Processing deferred hardlink {entryName}: Failed to find object {target}");
                }

                var (dir, leaf) = Parent(root, rel, options.AutocreateParents, defaultMeta, name, entryName);
                dir.SetFile(leaf, c);
                byPath[rel] = c;
            }
        }

        return filtered;
    }

    private static (MutableTree Dir, string Leaf) Parent(MutableTree root, string rel, bool autocreate, Checksum defaultMeta, string archive, string entryName)
    {
        var parts = rel.Split('/');
        var dir = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (dir.Files.ContainsKey(parts[i]))
            {
                throw new TarFormatException($"{archive}: '{entryName}' goes through '{string.Join('/', parts[..(i + 1)])}', which is not a directory");
            }

            if (!dir.Dirs.TryGetValue(parts[i], out var next))
            {
                if (!autocreate)
                {
                    throw new TarFormatException($"{archive}: parent directory of '{entryName}' is not in the archive (use --tar-autocreate-parents)");
                }

                next = dir.EnsureDir(parts[i], defaultMeta);
            }

            dir = next;
        }

        return (dir, parts[^1]);
    }

    private static string? Filter(string rel, bool isDir, TarTreeOptions options, SortedDictionary<string, int> filtered)
    {
        if (rel.Length == 0)
        {
            return rel;
        }

        var parts = rel.Split('/');
        switch (parts[0])
        {
            case "usr" or "var":
                return rel;
            case "etc":
                return MapEtc(rel);
            case "run" or "tmp" or "proc" or "sys" or "dev":
                if (parts.Length == 1)
                {
                    return isDir ? rel : Drop(parts[0]);
                }

                return Drop(parts[1]);
            default:
                return options.AllowOtherTopLevel ? rel : Drop(parts[0]);
        }

        string? Drop(string key)
        {
            filtered[key] = filtered.GetValueOrDefault(key) + 1;
            return null;
        }
    }

    private const string RepoPrefix = "sysroot/ostree/repo/";

    private static string MapEtc(string rel) => rel == "etc" ? "usr/etc" : rel.StartsWith("etc/", StringComparison.Ordinal) ? "usr/" + rel : rel;

    private static Checksum WriteDirMeta(RepoTransaction tx, CommitModifier modifier, TarEntry entry, string treePath)
    {
        var (u, g, m, x) = modifier.Apply(treePath, entry.Uid, entry.Gid, UnixMode.Directory | (entry.Mode & UnixMode.PermissionMask), OstreeOrder(entry));
        return tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(u, g, m, x).ToBytes());
    }

    // libarchive lists a tarball's xattr records as they come (bsdtar's pax format records each twice, as
    // LIBARCHIVE.xattr.* and SCHILY.xattr.*). libostree 2022.7 kept that list as it was (reversed, duplicates
    // included); libostree 2024.10 and later sort it, refuse a duplicate name, and refuse to fsck or pull a
    // dirmeta whose xattrs are not sorted and unique. We write what every version accepts: sorted by name (the
    // checksum of 2026.4), an exact repeat collapsed, a name repeated with another value refused.
    private static Xattrs OstreeOrder(TarEntry entry)
    {
        var unique = new List<Xattr>(entry.Xattrs.Count);
        foreach (var x in entry.Xattrs)
        {
            var seen = unique.Find(u => u.Name.AsSpan().SequenceEqual(x.Name));
            if (seen is null)
            {
                unique.Add(x);
            }
            else if (!seen.Value.AsSpan().SequenceEqual(x.Value))
            {
                throw new TarFormatException($"{entry.Name}: Duplicate xattr name {x.NameString} with different values");
            }
        }

        return Xattrs.Create(unique);
    }

    private static string Relative(string path)
    {
        int i = 0;
        while (i < path.Length && (path[i] == '/' || (path[i] == '.' && i + 1 < path.Length && path[i + 1] == '/')))
        {
            i += path[i] == '/' ? 1 : 2;
        }

        return path.Length - i == 1 && path[i] == '.' ? string.Empty : path[i..];
    }

    /// <summary>Normalises a tar path: leading <c>/</c> and <c>./</c> removed; <c>..</c> refused.</summary>
    public static string Normalize(string path, string archive)
    {
        var parts = new List<string>();
        foreach (var p in path.Split('/'))
        {
            if (p.Length == 0 || p == ".")
            {
                continue;
            }

            if (p == "..")
            {
                throw new TarFormatException($"{archive}: Invalid path: {path}");
            }

            parts.Add(p);
        }

        return string.Join('/', parts);
    }
}
