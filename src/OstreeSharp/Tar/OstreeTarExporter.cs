// `tar export`: an ostree commit as the ostree-ext tar stream, format version 1
// (ostree-container-format.md 2.2, 2.3 and 2.5): a bare-split-xattrs repository under
// sysroot/ostree/repo plus a checkout made of hard links to its objects.
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Tar;

/// <summary>Writes commits as ostree-ext tar streams.</summary>
public sealed class OstreeTarExporter(OstreeRepo repo)
{
    /// <summary>Path of the repository inside the stream.</summary>
    public const string RepoPrefix = "sysroot/ostree/repo";

    private const string ConfigText = "[core]\nrepo_version=1\nmode=bare-split-xattrs\n";

    private readonly HashSet<Checksum> _metaSeen = [];
    // Per content object written, only what its links need (not its path or tar header): this map grows
    // with the object count, so it is kept small.
    private readonly Dictionary<Checksum, LinkInfo> _contentSeen = [];
    private readonly HashSet<Checksum> _xattrsSeen = [];
    private bool _sawVarTmp;
    private bool _structureOnly;
    private Dictionary<Checksum, List<string>>? _paths;
    private FilePrefetcher? _prefetch;

    /// <summary>Exports <paramref name="commit"/> to <paramref name="output"/> (not closed).</summary>
    public void Export(Checksum commit, Stream output, CancellationToken cancellationToken = default)
    {
        using var w = new TarWriter(output, leaveOpen: true);
        var c = repo.LoadCommit(commit);
        using (_prefetch = new FilePrefetcher(ContentFiles(c.RootTree, isRoot: true)))
        {
            WriteStructure(w, commit, c, cancellationToken);
        }

        _prefetch = null;
        w.Finish();
    }

    /// <summary>
    /// A plain tarball of <paramref name="commit"/>'s tree as <c>ostree export</c> writes it, with its
    /// <c>--subpath</c>, <c>--prefix</c> and <c>--no-xattrs</c>. The walk keeps its own stack: a tree nested
    /// thousands deep does not overflow the thread's.
    /// </summary>
    public void ExportPlain(Checksum commit, Stream output, PlainExportOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var c = repo.LoadCommit(commit);
        var root = c.RootTree;
        foreach (var part in (options.Subpath ?? "/").Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var t = repo.LoadDirTree(root);
            root = (t.Dirs.FirstOrDefault(d => d.Name == part) ?? throw new ObjectNotFoundException($"No such directory {options.Subpath} in commit {commit}")).TreeChecksum;
        }

        using var w = new TarWriter(output, leaveOpen: true);
        string Mapped(string path) => options.Prefix + (options.EtcAsEtc ? MapEtc(path) : path);
        long mtime = options.CommitTime ? (long)c.Timestamp : 0;
        if (options.RootEntry)
        {
            // ostree export starts with the root folder, "./" (or the prefix itself).
            var rootMeta = repo.LoadDirMeta(root == c.RootTree ? c.RootMeta : FindMeta(c, options.Subpath!));
            var r = Dir(options.Prefix.Length > 0 ? options.Prefix.TrimEnd('/') + "/" : "./", rootMeta.Uid, rootMeta.Gid, rootMeta.Mode);
            r.Mtime = mtime;
            if (options.Xattrs)
            {
                r.Xattrs.AddRange(rootMeta.Xattrs.Items);
            }

            w.WriteEntry(r);
        }

        using var prefetch = new FilePrefetcher(ContentFiles(root, isRoot: false));

        // Each frame: a tree's folders still to enter, and the path of the tree.
        var stack = new Stack<(Queue<(string Name, Checksum Tree, Checksum Meta)> Dirs, string Prefix)>();
        void Enter(Checksum tree, string prefix)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t = repo.LoadDirTree(tree);
            foreach (var f in t.Files)
            {
                var (obj, data) = repo.OpenContent(f.Checksum);
                using var dataToDispose = data;
                prefetch.Advance();
                var h = obj.Header;
                var e = new TarEntry { Name = Mapped(prefix + f.Name), Uid = h.Uid, Gid = h.Gid, Mode = h.Mode & UnixMode.PermissionMask, Mtime = mtime };
                if (options.Xattrs)
                {
                    e.Xattrs.AddRange(h.Xattrs.Items);
                }

                if (h.IsSymlink)
                {
                    e.Type = TarType.Symlink;
                    e.LinkName = h.SymlinkTarget;
                    w.WriteEntry(e);
                    continue;
                }

                e.Size = obj.Size;
                w.WriteEntry(e, data);
            }

            stack.Push((new Queue<(string, Checksum, Checksum)>(t.Dirs.Select(d => (d.Name, d.TreeChecksum, d.MetaChecksum))), prefix));
        }

        Enter(root, string.Empty);
        while (stack.Count > 0)
        {
            var (dirs, prefix) = stack.Peek();
            if (dirs.Count == 0)
            {
                stack.Pop();
                continue;
            }

            var d = dirs.Dequeue();
            var m = repo.LoadDirMeta(d.Meta);
            var e = Dir(Mapped(prefix + d.Name) + "/", m.Uid, m.Gid, m.Mode);
            e.Mtime = mtime;
            if (options.Xattrs)
            {
                e.Xattrs.AddRange(m.Xattrs.Items);
            }

            w.WriteEntry(e);
            Enter(d.Tree, prefix + d.Name + "/");
        }

        w.Finish();
    }

    // The dirmeta of the folder at SUBPATH.
    private Checksum FindMeta(Commit c, string subpath)
    {
        var meta = c.RootMeta;
        var tree = c.RootTree;
        foreach (var part in subpath.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var d = repo.LoadDirTree(tree).Dirs.First(x => x.Name == part);
            (tree, meta) = (d.TreeChecksum, d.MetaChecksum);
        }

        return meta;
    }

    /// <summary>
    /// Every content object of <paramref name="commit"/> with the checkout paths that use it, in commit walk
    /// order (the paths as the stream shows them: usr/etc as etc).
    /// </summary>
    public IReadOnlyDictionary<Checksum, List<string>> ContentPaths(Checksum commit)
    {
        if (_paths is null)
        {
            _paths = [];
            var c = repo.LoadCommit(commit);
            CollectPaths(string.Empty, c.RootTree, isRoot: true);
        }

        return _paths;
    }

    private void CollectPaths(string rootPath, Checksum rootTree, bool isRoot)
    {
        foreach (var (path, dt) in Folders(rootPath, rootTree, isRoot))
        {
            foreach (var f in dt.Files)
            {
                if (!_paths!.TryGetValue(f.Checksum, out var list))
                {
                    _paths[f.Checksum] = list = [];
                }

                list.Add(MapEtc(Join(path, f.Name)));
            }
        }
    }

    /// <summary>
    /// The folders under <paramref name="rootTree"/> in the order the walks here go: depth first in name order (a
    /// folder, then each subfolder in full), the root's sysroot skipped where <paramref name="isRoot"/>. An explicit
    /// stack: a tree's depth is the input's to choose.
    /// </summary>
    private IEnumerable<(string Path, DirTree Tree)> Folders(string rootPath, Checksum rootTree, bool isRoot)
    {
        var pending = new Stack<(string Path, Checksum Tree, bool IsRoot)>();
        pending.Push((rootPath, rootTree, isRoot));
        while (pending.TryPop(out var at))
        {
            var dt = repo.LoadDirTree(at.Tree);
            yield return (at.Path, dt);
            for (int i = dt.Dirs.Count - 1; i >= 0; i--)
            {
                var d = dt.Dirs[i];
                if (!(at.IsRoot && d.Name == "sysroot"))
                {
                    pending.Push((Join(at.Path, d.Name), d.TreeChecksum, false));
                }
            }
        }
    }

    /// <summary>
    /// The ostree layer of a chunked image (spec 2.4, "final chunk"): the structure of <paramref name="commit"/>
    /// (root, prelude, commit, detached metadata, every directory and metadata object, var/tmp), then the content
    /// objects not in <paramref name="chunked"/>, in ascending checksum order, each with its checkout links.
    /// </summary>
    public void ExportOstreeLayer(Checksum commit, IReadOnlySet<Checksum> chunked, Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chunked);
        var paths = ContentPaths(commit);
        using var w = new TarWriter(output, leaveOpen: true);
        _structureOnly = true;
        try
        {
            WriteStructure(w, commit, repo.LoadCommit(commit), cancellationToken);
        }
        finally
        {
            _structureOnly = false;
        }

        WriteObjects(w, paths.Keys.Where(k => !chunked.Contains(k)), paths, cancellationToken);
        w.Finish();
    }

    /// <summary>A chunk stream (spec 2.4): the prelude, then <paramref name="objects"/> in ascending checksum order, each with its checkout links.</summary>
    public void ExportChunk(Checksum commit, IEnumerable<Checksum> objects, Stream output, CancellationToken cancellationToken = default)
    {
        var paths = ContentPaths(commit);
        using var w = new TarWriter(output, leaveOpen: true);
        WritePrelude(w);
        WriteObjects(w, objects, paths, cancellationToken);
        w.Finish();
    }

    private void WriteObjects(TarWriter w, IEnumerable<Checksum> objects, IReadOnlyDictionary<Checksum, List<string>> paths, CancellationToken ct)
    {
        var ordered = objects.Order().ToArray(); // byte order is the order of the hex names
        using var prefetch = new FilePrefetcher(ordered.Select(c => repo.ObjectPath(c, ObjectType.File)));
        foreach (var c in ordered)
        {
            ct.ThrowIfCancellationRequested();
            var link = EmitContent(w, c);
            prefetch.Advance();
            var objPath = ObjectPath(c, "file");
            foreach (var p in paths.TryGetValue(c, out var list) ? list : [])
            {
                EmitLink(w, objPath, link, p);
            }
        }
    }

    /// <summary>
    /// The file of each content object under <paramref name="rootTree"/>, as often as the tree has it, in the order of
    /// <see cref="Folders"/>: what a <see cref="FilePrefetcher"/> reads ahead. (A file met again is in the cache.)
    /// </summary>
    private IEnumerable<string> ContentFiles(Checksum rootTree, bool isRoot) =>
        Folders(string.Empty, rootTree, isRoot).SelectMany(x => x.Tree.Files, (_, f) => repo.ObjectPath(f.Checksum, ObjectType.File));

    private void WriteStructure(TarWriter w, Checksum commit, Commit c, CancellationToken cancellationToken)
    {
        var rootMeta = repo.LoadDirMeta(c.RootMeta);
        w.WriteEntry(Dir("./", rootMeta.Uid, rootMeta.Gid, rootMeta.Mode));
        WritePrelude(w);
        WriteMetadataObject(w, commit, ObjectType.Commit);
        if (repo.HasObject(commit, ObjectType.CommitMeta))
        {
            WriteMetadataObject(w, commit, ObjectType.CommitMeta);
        }

        WriteMetadataObject(w, c.RootMeta, ObjectType.DirMeta);
        _metaSeen.Add(c.RootMeta);
        Walk(w, string.Empty, c.RootTree, isRoot: true, cancellationToken);
        if (!_sawVarTmp)
        {
            w.WriteEntry(Dir("var/tmp", 0, 0, 0x3FF));
        }
    }

    /// <summary>The object path inside the stream.</summary>
    public static string ObjectPath(Checksum c, string extension)
    {
        var hex = c.ToHex();
        return $"{RepoPrefix}/objects/{hex[..2]}/{hex[2..]}.{extension}";
    }

    private static TarEntry Dir(string name, uint uid, uint gid, uint mode) =>
        new() { Name = name, Type = TarType.Directory, Uid = uid, Gid = gid, Mode = mode & UnixMode.PermissionMask };

    private static void WritePrelude(TarWriter w)
    {
        foreach (var d in new[] { "sysroot", "sysroot/ostree", RepoPrefix, RepoPrefix + "/objects" })
        {
            w.WriteEntry(Dir(d, 0, 0, 0x1ED));
        }

        for (int i = 0; i < 256; i++)
        {
            w.WriteEntry(Dir($"{RepoPrefix}/objects/{i:x2}", 0, 0, 0x1ED));
        }

        foreach (var d in new[] { "extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache" })
        {
            w.WriteEntry(Dir($"{RepoPrefix}/{d}", 0, 0, 0x1ED));
        }

        w.WriteFile(new TarEntry { Name = RepoPrefix + "/config", Mode = 0x1A4 }, Encoding.ASCII.GetBytes(ConfigText));
    }

    private void WriteMetadataObject(TarWriter w, Checksum c, ObjectType type)
    {
        var bytes = repo.ReadMetadataBytes(type, c);
        w.WriteFile(new TarEntry { Name = ObjectPath(c, type.ToName()), Mode = 0x1A4 }, bytes);
    }

    private static string MapEtc(string path) =>
        path == "usr/etc" ? "etc" : path.StartsWith("usr/etc/", StringComparison.Ordinal) ? "etc/" + path["usr/etc/".Length..] : path;

    private void Walk(TarWriter w, string rootPath, Checksum rootTree, bool isRoot, CancellationToken ct)
    {
        // The order of recursion (a folder's files, then each subfolder in full), with an explicit stack of the
        // folders being listed and the index of their next subfolder: a tree's depth is the input's to choose.
        var open = new Stack<(string Path, DirTree Tree, bool IsRoot, int Next)>();
        open.Push((rootPath, Enter(w, rootPath, rootTree, ct), isRoot, 0));
        while (open.TryPop(out var at))
        {
            var (path, dt, root, next) = at;
            if (next == dt.Dirs.Count)
            {
                continue;
            }

            open.Push((path, dt, root, next + 1));
            var d = dt.Dirs[next];
            if (_metaSeen.Add(d.MetaChecksum))
            {
                WriteMetadataObject(w, d.MetaChecksum, ObjectType.DirMeta);
            }

            if (root && d.Name == "sysroot")
            {
                continue;
            }

            var sub = Join(path, d.Name);
            if (sub == "var/tmp")
            {
                _sawVarTmp = true;
            }

            var m = repo.LoadDirMeta(d.MetaChecksum);
            w.WriteEntry(Dir(MapEtc(sub), m.Uid, m.Gid, m.Mode));
            open.Push((sub, Enter(w, sub, d.TreeChecksum, ct), false, 0));
        }
    }

    // A folder's dirtree object (once) and its files.
    private DirTree Enter(TarWriter w, string path, Checksum tree, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (_metaSeen.Add(tree))
        {
            WriteMetadataObject(w, tree, ObjectType.DirTree);
        }

        var dt = repo.LoadDirTree(tree);
        foreach (var f in _structureOnly ? [] : dt.Files)
        {
            var link = EmitContent(w, f.Checksum);
            _prefetch?.Advance();
            EmitLink(w, ObjectPath(f.Checksum, "file"), link, MapEtc(Join(path, f.Name)));
        }

        return dt;
    }

    private static string Join(string dir, string name) => dir.Length == 0 ? name : dir + "/" + name;

    /// <summary>The owner and mode a link to a content object carries, and whether it is an empty regular file (written as a file, not a link).</summary>
    private readonly record struct LinkInfo(uint Uid, uint Gid, uint Mode, bool EmptyRegular);

    private LinkInfo EmitContent(TarWriter w, Checksum c)
    {
        if (_contentSeen.TryGetValue(c, out var seen))
        {
            return seen;
        }

        var (obj, data) = repo.OpenContent(c);
        using var dataToDispose = data;
        var h = obj.Header;
        var x = h.Xattrs.Count == 0 ? [] : h.Xattrs.ToGVariant().ToBytes();
        var xs = Checksum.Compute(x);
        var xattrsPath = ObjectPath(xs, "file-xattrs");
        if (_xattrsSeen.Add(xs))
        {
            w.WriteFile(new TarEntry { Name = xattrsPath, Mode = 0x1A4 }, x);
        }

        w.WriteEntry(new TarEntry { Name = ObjectPath(c, "file-xattrs-link"), Type = TarType.HardLink, LinkName = xattrsPath, Mode = 0x1A4 });
        var path = ObjectPath(c, "file");
        var entry = new TarEntry
        {
            Name = path,
            Type = h.IsSymlink ? TarType.Symlink : TarType.Regular,
            LinkName = h.IsSymlink ? h.SymlinkTarget : string.Empty,
            Uid = h.Uid,
            Gid = h.Gid,
            Mode = h.Mode & UnixMode.PermissionMask,
            Size = h.IsSymlink ? 0 : obj.Size,
        };
        w.WriteEntry(entry, data);
        var link = new LinkInfo(entry.Uid, entry.Gid, entry.Mode, entry.Type == TarType.Regular && entry.Size == 0);
        _contentSeen[c] = link;
        return link;
    }

    private static void EmitLink(TarWriter w, string objPath, LinkInfo link, string dest)
    {
        if (link.EmptyRegular)
        {
            w.WriteEntry(new TarEntry { Name = dest, Uid = link.Uid, Gid = link.Gid, Mode = link.Mode });
            return;
        }

        w.WriteEntry(new TarEntry { Name = dest, Type = TarType.HardLink, LinkName = objPath, Uid = link.Uid, Gid = link.Gid, Mode = link.Mode });
    }
}

/// <summary>What <see cref="OstreeTarExporter.ExportPlain(Checksum, Stream, PlainExportOptions, CancellationToken)"/> writes.</summary>
public sealed record PlainExportOptions
{
    /// <summary>Export only this folder of the tree (<c>--subpath</c>).</summary>
    public string? Subpath { get; init; }

    /// <summary>Put in front of every name (<c>--prefix</c>, e.g. <c>dir/</c>).</summary>
    public string Prefix { get; init; } = string.Empty;

    /// <summary>Write extended attributes (PAX); false for <c>--no-xattrs</c>.</summary>
    public bool Xattrs { get; init; } = true;

    /// <summary>Write <c>usr/etc</c> as <c>etc</c>, as ostree-ext's raw export does.</summary>
    public bool EtcAsEtc { get; init; }

    /// <summary>Start with an entry for the root folder (<c>./</c>, or the prefix), as <c>ostree export</c> does.</summary>
    public bool RootEntry { get; init; }

    /// <summary>Every entry's mtime is the commit's timestamp (<c>ostree export</c>); otherwise 0.</summary>
    public bool CommitTime { get; init; }
}
