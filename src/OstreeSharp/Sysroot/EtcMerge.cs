// The /etc three-way merge of `ostree admin deploy` (spec 3.2): the merge deployment's local changes win.
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;

namespace OstreeSharp.Sysroot;

/// <summary>The local changes of an /etc against its defaults, as relative paths in walk order.</summary>
public sealed record EtcChanges(IReadOnlyList<string> Modified, IReadOnlyList<string> Removed, IReadOnlyList<string> Added);

/// <summary>Computes and applies /etc changes.</summary>
public static class EtcMerge
{
    /// <summary>Compares <paramref name="defaults"/> (usr/etc) with <paramref name="current"/> (etc), ignoring xattrs.</summary>
    public static EtcChanges Diff(string defaults, string current)
    {
        var m = new List<string>();
        var r = new List<string>();
        var a = new List<string>();
        DiffDirs(defaults, current, string.Empty, m, r, a);
        return new EtcChanges(m, r, a);
    }

    private static void DiffDirs(string oldDir, string newDir, string rel, List<string> modified, List<string> removed, List<string> added)
    {
        var oldNames = Names(oldDir);
        var newNames = Names(newDir).ToHashSet(StringComparer.Ordinal);
        foreach (var name in oldNames)
        {
            string o = Path.Combine(oldDir, name), n = Path.Combine(newDir, name), relPath = rel + name;
            if (!newNames.Contains(name))
            {
                removed.Add(relPath);
                continue;
            }

            var so = Native.LStat(o);
            var sn = Native.LStat(n);
            if (so.Type != sn.Type)
            {
                modified.Add(relPath);
            }
            else if (so.Type == UnixMode.Directory)
            {
                if (so.Uid != sn.Uid || so.Gid != sn.Gid || so.Mode != sn.Mode)
                {
                    modified.Add(relPath);
                }

                DiffDirs(o, n, relPath + "/", modified, removed, added);
            }
            else if (!SameContent(o, so, n, sn))
            {
                modified.Add(relPath);
            }
        }

        var oldSet = oldNames.ToHashSet(StringComparer.Ordinal);
        foreach (var name in Names(newDir).Where(x => !oldSet.Contains(x)))
        {
            AddRecursive(Path.Combine(newDir, name), rel + name, added);
        }
    }

    private static void AddRecursive(string path, string rel, List<string> added)
    {
        added.Add(rel);
        if (Native.LStat(path).Type == UnixMode.Directory)
        {
            foreach (var name in Names(path))
            {
                AddRecursive(Path.Combine(path, name), rel + "/" + name, added);
            }
        }
    }

    private static bool SameContent(string a, FileStatus sa, string b, FileStatus sb)
    {
        if (sa.Type is UnixMode.Regular or UnixMode.Symlink)
        {
            return FileChecksum.Compute(a, ignoreXattrs: true) == FileChecksum.Compute(b, ignoreXattrs: true);
        }

        return sa.Mode == sb.Mode && sa.Uid == sb.Uid && sa.Gid == sb.Gid && sa.RdevMajor == sb.RdevMajor && sa.RdevMinor == sb.RdevMinor;
    }

    private static List<string> Names(string dir) =>
        Directory.Exists(dir) && Native.LStat(dir).Type == UnixMode.Directory
            ? Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Cast<string>().Order(StringComparer.Ordinal).ToList()
            : [];

    /// <summary>
    /// Applies the changes of <paramref name="mergeEtc"/> against its defaults onto <paramref name="newEtc"/>:
    /// removed paths are deleted, modified then added ones copied over; local always wins.
    /// </summary>
    public static EtcChanges Merge(string mergeDefaults, string mergeEtc, string newEtc, Action<string>? log = null)
    {
        var changes = Diff(mergeDefaults, mergeEtc);
        foreach (var rel in changes.Removed)
        {
            DeletePath(Path.Combine(newEtc, rel));
        }

        foreach (var rel in changes.Modified.Concat(changes.Added))
        {
            CopyOne(mergeEtc, newEtc, rel, log);
        }

        return changes;
    }

    private static void CopyOne(string srcRoot, string dstRoot, string rel, Action<string>? log)
    {
        // Parents one by one, with the attributes of the source's folders; existing ones stay as they are.
        var parts = rel.Split('/');
        for (int i = 1; i < parts.Length; i++)
        {
            var sub = string.Join('/', parts[..i]);
            var dst = Path.Combine(dstRoot, sub);
            if (!Native.TryLStat(dst, out _))
            {
                MakeDirLike(Path.Combine(srcRoot, sub), dst);
            }
        }

        string s = Path.Combine(srcRoot, rel), d = Path.Combine(dstRoot, rel);
        var ss = Native.LStat(s);
        if (Native.TryLStat(d, out var ds))
        {
            if (ds.Type == UnixMode.Directory)
            {
                if (ss.Type != UnixMode.Directory)
                {
                    throw new OstreeException(OstreeErrorCode.EtcMergeFailed, $"Modified config file newly defaults to directory '{rel}', cannot merge");
                }

                return;
            }

            File.Delete(d);
        }

        if (ss.Type is not (UnixMode.Directory or UnixMode.Regular or UnixMode.Symlink))
        {
            log?.Invoke($"Ignoring non-regular/non-symlink file found during /etc merge: {rel}");
            return;
        }

        CopyTree(s, d);
    }

    /// <summary>Copies a file, symlink or folder tree preserving owner, mode, xattrs and times.</summary>
    public static void CopyTree(string src, string dst)
    {
        var st = Native.LStat(src);
        switch (st.Type)
        {
            case UnixMode.Directory:
                MakeDirLike(src, dst);
                foreach (var name in Names(src))
                {
                    CopyTree(Path.Combine(src, name), Path.Combine(dst, name));
                }

                return;
            case UnixMode.Symlink:
                Native.Symlink(new FileInfo(src).LinkTarget ?? string.Empty, dst);
                break;
            case UnixMode.Regular:
                File.Copy(src, dst);
                break;
            default:
                throw new OstreeException(OstreeErrorCode.EtcMergeFailed, $"Unsupported file type in /etc merge: {src}");
        }

        CopyAttributes(src, dst, st);
        Native.SetTimes(dst, st.AtimeSeconds, st.AtimeNanos, st.MtimeSeconds, st.MtimeNanos);
    }

    private static void MakeDirLike(string src, string dst)
    {
        var st = Native.LStat(src);
        Directory.CreateDirectory(dst);
        CopyAttributes(src, dst, st);
    }

    private static void CopyAttributes(string src, string dst, FileStatus st)
    {
        if (Native.EffectiveUid == 0)
        {
            Native.LChown(dst, st.Uid, st.Gid);
        }

        foreach (var (name, value) in Native.ListXattrs(src))
        {
            Native.SetXattr(dst, name, value);
        }

        if (st.Type != UnixMode.Symlink)
        {
            Native.Chmod(dst, st.Mode & 0xFFF);
        }
    }

    /// <summary>rm -rf of one path (not following symlinks).</summary>
    public static void DeletePath(string path)
    {
        if (!Native.TryLStat(path, out var st))
        {
            return;
        }

        if (st.Type == UnixMode.Directory)
        {
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }
}
