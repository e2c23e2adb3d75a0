// `commit --tree=tar=FILE`: a plain tarball streamed into content objects.
using System.Formats.Tar;
using System.Text;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Trees;

/// <summary>Imports a tar archive (ustar, PAX, GNU) into a <see cref="MutableTree"/>.</summary>
public static class TarTreeImporter
{
    private const uint DefaultDirMode = UnixMode.Directory | 0x1ED;

    /// <summary>Imports the tar file at <paramref name="path"/> (<c>-</c> for stdin).</summary>
    public static void Import(RepoTransaction tx, CommitModifier modifier, string path, MutableTree root, bool autocreateParents)
    {
        using var stream = path == "-" ? Console.OpenStandardInput() : File.OpenRead(path);
        Import(tx, modifier, stream, path, root, autocreateParents);
    }

    /// <summary>Imports a tar stream.</summary>
    public static void Import(RepoTransaction tx, CommitModifier modifier, Stream stream, string name, MutableTree root, bool autocreateParents)
    {
        var defaultMeta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(modifier.OwnerUid ?? 0, modifier.OwnerGid ?? 0, DefaultDirMode, Xattrs.Empty).ToBytes());
        root.MetaChecksum ??= defaultMeta;
        root.Invalidate();
        var byPath = new Dictionary<string, Checksum>(StringComparer.Ordinal);
        using var reader = new TarReader(stream);
        TarEntry? entry;
        try
        {
            while ((entry = reader.GetNextEntry()) is not null)
            {
                var rel = Normalize(entry.Name, name);
                if (rel.Length == 0)
                {
                    if (entry.EntryType == TarEntryType.Directory)
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

                var parts = rel.Split('/');
                var dir = root;
                for (int i = 0; i < parts.Length - 1; i++)
                {
                    if (!dir.Dirs.TryGetValue(parts[i], out var next))
                    {
                        if (!autocreateParents)
                        {
                            throw new OstreeFormatException($"{name}: parent directory of '{entry.Name}' is not in the archive (use --tar-autocreate-parents)");
                        }

                        next = dir.EnsureDir(parts[i], defaultMeta);
                    }

                    dir = next;
                }

                var leaf = parts[^1];
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        dir.EnsureDir(leaf, WriteDirMeta(tx, modifier, entry, treePath));
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile or TarEntryType.SymbolicLink:
                        {
                            bool link = entry.EntryType == TarEntryType.SymbolicLink;
                            uint mode = (link ? UnixMode.Symlink : UnixMode.Regular) | ((uint)entry.Mode & UnixMode.PermissionMask);
                            var (u, g, m, x) = modifier.Apply(treePath, (uint)entry.Uid, (uint)entry.Gid, mode, XattrsOf(entry));
                            var header = new FileHeader(u, g, m, link ? entry.LinkName : string.Empty, x);
                            using var data = entry.DataStream ?? Stream.Null;
                            var c = tx.WriteContent(header, data, link ? 0 : entry.Length);
                            dir.SetFile(leaf, c);
                            byPath[rel] = c;
                            break;
                        }

                    case TarEntryType.HardLink:
                        {
                            var target = Normalize(entry.LinkName, name);
                            if (!byPath.TryGetValue(target, out var c))
                            {
                                throw new OstreeFormatException($"{name}: hardlink '{entry.Name}' points to '{entry.LinkName}', which is not an earlier file of the archive");
                            }

                            dir.SetFile(leaf, c);
                            byPath[rel] = c;
                            break;
                        }

                    case TarEntryType.GlobalExtendedAttributes:
                        break;
                    default:
                        throw new OstreeFormatException($"{name}: entry '{entry.Name}' has type {entry.EntryType}, which a commit cannot hold");
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new OstreeFormatException($"{name}: malformed tar archive: {e.Message}", e);
        }
        catch (EndOfStreamException e)
        {
            throw new OstreeFormatException($"{name}: truncated tar archive", e);
        }
    }

    private static Checksum WriteDirMeta(RepoTransaction tx, CommitModifier modifier, TarEntry entry, string treePath)
    {
        var (u, g, m, x) = modifier.Apply(treePath, (uint)entry.Uid, (uint)entry.Gid, UnixMode.Directory | ((uint)entry.Mode & UnixMode.PermissionMask), XattrsOf(entry));
        return tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(u, g, m, x).ToBytes());
    }

    private static Xattrs XattrsOf(TarEntry entry)
    {
        if (entry is not PaxTarEntry pax)
        {
            return Xattrs.Empty;
        }

        const string prefix = "SCHILY.xattr.";
        return Xattrs.Create(pax.ExtendedAttributes
            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) && kv.Value.Length > 0)
            .Select(kv => Xattr.Create(kv.Key[prefix.Length..], Encoding.UTF8.GetBytes(kv.Value))));
    }

    private static string Normalize(string path, string archive)
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
                throw new OstreeFormatException($"{archive}: entry '{path}' contains '..'");
            }

            parts.Add(p);
        }

        return string.Join('/', parts);
    }
}
