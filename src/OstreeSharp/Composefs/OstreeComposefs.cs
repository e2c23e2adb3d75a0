// The composefs image of an ostree commit, as libostree 2026.4 builds it
// (ostree-repo-composefs.c): the commit's tree under a node named "root", files backed by
// their bare-mode object paths, no mtimes, symlinks with size 0, and usr, etc, boot, var
// and sysroot added when missing so the image can serve as a root filesystem.
using System.Collections.Concurrent;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Composefs;

/// <summary>Which fs-verity digests a commit's composefs image records for its files.</summary>
public enum ComposefsVerity
{
    /// <summary>None.</summary>
    None,

    /// <summary>Those the kernel already keeps for the object files (FS_IOC_MEASURE_VERITY); what a deployment gets by default.</summary>
    IfPresent,

    /// <summary>All of them, computed from the content where the kernel keeps none; what the commit metadata records.</summary>
    Required,
}

/// <summary>Builds and writes the composefs image of a commit.</summary>
public static class OstreeComposefs
{
    /// <summary>The commit metadata key holding the fs-verity digest of the commit's composefs image (<c>ay</c>).</summary>
    public const string DigestMetadataKey = "ostree.composefs.digest.v0";

    /// <summary>The name of a deployment's composefs image.</summary>
    public const string DeploymentImageName = ".ostree.cfs";

    private static readonly string[] RootDirectories = ["usr", "etc", "boot", "var", "sysroot"];

    /// <summary>The composefs tree of a commit in <paramref name="repo"/>.</summary>
    public static ComposefsNode BuildTree(OstreeRepo repo, Checksum commit, ComposefsVerity verity)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var c = repo.LoadCommit(commit);
        return BuildTree(repo, c.RootTree, c.RootMeta, verity, repo.ReadMetadataBytes, repo.LoadContent);
    }

    /// <summary>The composefs tree of a root dirtree/dirmeta pair, reading objects through a transaction (staged ones included).</summary>
    public static ComposefsNode BuildTree(RepoTransaction tx, Checksum rootTree, Checksum rootMeta, ComposefsVerity verity)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return BuildTree(tx.Repo, rootTree, rootMeta, verity, tx.ReadMetadataBytes, tx.LoadContent);
    }

    /// <summary>Writes the composefs image of a commit to <paramref name="output"/> (may be null) and returns the image's fs-verity digest.</summary>
    public static byte[] Write(OstreeRepo repo, Checksum commit, ComposefsVerity verity, Stream? output)
    {
        var root = BuildTree(repo, commit, verity);
        return ComposefsWriter.Write(root, output, ComposefsWriteOptions.Ostree).FsVerityDigest!;
    }

    /// <summary>
    /// The digest <c>ostree commit --generate-composefs-metadata</c> records: that of the image
    /// with every file's fs-verity digest.
    /// </summary>
    public static byte[] ComputeCommitDigest(RepoTransaction tx, Checksum rootTree, Checksum rootMeta) =>
        ComposefsWriter.Write(BuildTree(tx, rootTree, rootMeta, ComposefsVerity.Required), null, ComposefsWriteOptions.Ostree).FsVerityDigest!;

    /// <summary>The composefs digest a commit's metadata records, or null.</summary>
    public static byte[]? GetCommitDigest(Commit commit)
    {
        ArgumentNullException.ThrowIfNull(commit);
        if (commit.Metadata.Lookup(DigestMetadataKey) is not { Type.Text: "ay" } v)
        {
            return null;
        }

        var digest = v.GetBytes();
        return digest.Length == FsVerityHasher.DigestSize ? digest
            : throw new OstreeException(OstreeErrorCode.InvalidData, $"Expected composefs fs-verity in metadata has the wrong size ({digest.Length} bytes)");
    }

    /// <summary>
    /// Writes the composefs image of a commit to the file <paramref name="path"/> as libostree's
    /// ostree_repo_checkout_composefs does (for <c>checkout --composefs</c> and a deployment's
    /// <c>.ostree.cfs</c>): mode 0644, fs-verity enabled on it when the repository asks for it, and
    /// with <see cref="ComposefsVerity.Required"/> its digest checked against the commit's
    /// <see cref="DigestMetadataKey"/>. Returns the image's fs-verity digest.
    /// </summary>
    /// <exception cref="OstreeException">The digests differ, or fs-verity is required and unavailable.</exception>
    public static byte[] WriteImageFile(OstreeRepo repo, Checksum commit, ComposefsVerity verity, string path)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var c = repo.LoadCommit(commit);
        var root = BuildTree(repo, c.RootTree, c.RootMeta, verity, repo.ReadMetadataBytes, repo.LoadContent);
        var final = Path.GetFullPath(path);
        var tmp = Path.Combine(Path.GetDirectoryName(final)!, "." + Path.GetFileName(final) + ".tmp");
        byte[] digest;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                digest = ComposefsWriter.Write(root, fs, ComposefsWriteOptions.Ostree).FsVerityDigest!;
                fs.Flush(flushToDisk: repo.Fsync);
            }

            if (verity == ComposefsVerity.Required && GetCommitDigest(c) is { } expected && !expected.AsSpan().SequenceEqual(digest))
            {
                throw new OstreeException(OstreeErrorCode.VerityFailed, $"Commit {commit}: Generated composefs image digest ({Convert.ToHexStringLower(digest)}) doesn't match expected digest ({Convert.ToHexStringLower(expected)})");
            }

            Native.Chmod(tmp, 0x1A4);
            OstreeRepo.EnsureFsVerity(tmp, repo.FsVerityWanted, allowExisting: false, shownPath: final);

            File.Move(tmp, final, overwrite: true);
        }
        finally
        {
            FileUtil.DeleteAny(tmp);
        }

        return digest;
    }

    private static ComposefsNode BuildTree(OstreeRepo repo, Checksum rootTree, Checksum rootMeta, ComposefsVerity verity,
        Func<ObjectType, Checksum, byte[]> readMetadata, Func<Checksum, ContentObject> loadContent)
    {
        var root = DirectoryNode(DirMeta.Parse(readMetadata(ObjectType.DirMeta, rootMeta)));
        var needDigest = new ConcurrentBag<(ComposefsNode Node, ContentObject Object)>();

        // Depth-first with an explicit stack: a tree's depth is the input's to choose.
        var pending = new Stack<(ComposefsNode Dir, Checksum Tree, string Path)>();
        pending.Push((root, rootTree, "/"));
        var metaCache = new Dictionary<Checksum, DirMeta>();
        var files = new List<(ComposefsNode Dir, DirTreeFile File, string Path)>();
        while (pending.Count > 0)
        {
            var (dir, treeId, path) = pending.Pop();
            var tree = DirTree.Parse(readMetadata(ObjectType.DirTree, treeId));
            foreach (var f in tree.Files)
            {
                files.Add((dir, f, path + f.Name));
            }

            foreach (var d in tree.Dirs)
            {
                if (!metaCache.TryGetValue(d.MetaChecksum, out var meta))
                {
                    meta = DirMeta.Parse(readMetadata(ObjectType.DirMeta, d.MetaChecksum));
                    metaCache[d.MetaChecksum] = meta;
                }

                var child = DirectoryNode(meta);
                AddChild(dir, d.Name, child, path + d.Name);
                pending.Push((child, d.TreeChecksum, path + d.Name + "/"));
            }
        }

        // Reading each object's header (lstat and xattrs in bare repositories) is the slow part: both cores.
        var nodes = new ComposefsNode[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            var (_, f, path) = files[i];
            var obj = loadContent(f.Checksum);
            nodes[i] = FileNode(obj, verity, path, needDigest);
        });

        for (int i = 0; i < files.Count; i++)
        {
            AddChild(files[i].Dir, files[i].File.Name, nodes[i], files[i].Path);
        }

        if (verity == ComposefsVerity.Required)
        {
            Parallel.ForEach(needDigest, item =>
            {
                using var data = item.Object.OpenData();
                item.Node.FsVerityDigest = FsVerityHasher.Compute(data);
            });
        }

        foreach (var name in RootDirectories)
        {
            if (root.GetChild(name) is null)
            {
                root.AddChild(name, ComposefsNode.CreateDirectory());
            }
        }

        return root;
    }

    private static void AddChild(ComposefsNode dir, string name, ComposefsNode child, string path)
    {
        try
        {
            dir.AddChild(name, child);
        }
        catch (ComposefsException e)
        {
            throw new OstreeException(OstreeErrorCodes.Of(e, OstreeErrorCode.ComposefsFailed), $"composefs: {path}: {e.Message}", e);
        }
    }

    private static ComposefsNode DirectoryNode(DirMeta meta)
    {
        var node = new ComposefsNode(meta.Mode) { Uid = meta.Uid, Gid = meta.Gid };
        SetXattrs(node, meta.Xattrs);
        return node;
    }

    private static ComposefsNode FileNode(ContentObject obj, ComposefsVerity verity, string path, ConcurrentBag<(ComposefsNode, ContentObject)> needDigest)
    {
        var h = obj.Header;
        var node = new ComposefsNode(h.Mode) { Uid = h.Uid, Gid = h.Gid };
        try
        {
            if (h.IsSymlink)
            {
                // libostree's file info gives a symlink the size 0 (_ostree_stbuf_to_gfileinfo).
                node.PayloadString = h.SymlinkTarget;
            }
            else if (obj.Size != 0)
            {
                node.Size = (ulong)obj.Size;
                var hex = obj.Checksum.ToHex();
                node.PayloadString = string.Concat(hex.AsSpan(0, 2), "/", hex.AsSpan(2), ".file");
                if (verity != ComposefsVerity.None)
                {
                    var measured = Native.MeasureVerity(obj.Path);
                    if (measured is not null)
                    {
                        node.FsVerityDigest = measured;
                    }
                    else if (verity == ComposefsVerity.Required)
                    {
                        needDigest.Add((node, obj));
                    }
                }
            }

            SetXattrs(node, h.Xattrs);
        }
        catch (ComposefsException e)
        {
            throw new OstreeException(OstreeErrorCodes.Of(e, OstreeErrorCode.ComposefsFailed), $"composefs: {path} ({obj.Checksum}.file): {e.Message}", e);
        }

        return node;
    }

    private static void SetXattrs(ComposefsNode node, Xattrs xattrs)
    {
        foreach (var x in xattrs.Items)
        {
            node.SetXattr(x.Name, x.Value);
        }
    }
}
