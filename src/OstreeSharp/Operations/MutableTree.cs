using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Operations;

/// <summary>An in-memory directory being assembled for a commit; unchanged subtrees keep their ids.</summary>
public sealed class MutableTree
{
    private Dictionary<string, Checksum>? _files;
    private Dictionary<string, MutableTree>? _dirs;
    private readonly OstreeRepo? _lazyRepo;

    /// <summary>An empty directory.</summary>
    public MutableTree()
    {
        _files = new(StringComparer.Ordinal);
        _dirs = new(StringComparer.Ordinal);
    }

    private MutableTree(OstreeRepo repo, Checksum tree, Checksum meta)
    {
        _lazyRepo = repo;
        TreeChecksum = tree;
        MetaChecksum = meta;
    }

    /// <summary>A directory backed by an existing dirtree, loaded only when changed.</summary>
    public static MutableTree FromRepo(OstreeRepo repo, Checksum tree, Checksum meta) => new(repo, tree, meta);

    /// <summary>The dirmeta of this directory.</summary>
    public Checksum? MetaChecksum { get; set; }

    /// <summary>The dirtree id when unchanged since it was loaded or written.</summary>
    public Checksum? TreeChecksum { get; private set; }

    /// <summary>Files by name.</summary>
    public Dictionary<string, Checksum> Files
    {
        get
        {
            Load();
            return _files!;
        }
    }

    /// <summary>Subdirectories by name.</summary>
    public Dictionary<string, MutableTree> Dirs
    {
        get
        {
            Load();
            return _dirs!;
        }
    }

    private void Load()
    {
        if (_files is not null)
        {
            return;
        }

        var t = _lazyRepo!.LoadDirTree(TreeChecksum!.Value);
        _files = t.Files.ToDictionary(f => f.Name, f => f.Checksum, StringComparer.Ordinal);
        _dirs = t.Dirs.ToDictionary(d => d.Name, d => FromRepo(_lazyRepo, d.TreeChecksum, d.MetaChecksum), StringComparer.Ordinal);
    }

    /// <summary>Marks the tree modified so that its dirtree is rewritten.</summary>
    public void Invalidate()
    {
        Load();
        TreeChecksum = null;
    }

    /// <summary>Sets a file, replacing a file or directory of the same name.</summary>
    public void SetFile(string name, Checksum checksum)
    {
        Invalidate();
        _dirs!.Remove(name);
        _files![name] = checksum;
    }

    /// <summary>Gets or creates a subdirectory, replacing a file of the same name.</summary>
    public MutableTree EnsureDir(string name, Checksum meta)
    {
        Invalidate();
        _files!.Remove(name);
        if (!_dirs!.TryGetValue(name, out var d))
        {
            d = new MutableTree { MetaChecksum = meta };
            _dirs[name] = d;
        }
        else
        {
            d.MetaChecksum = meta;
        }

        return d;
    }

    /// <summary>Writes dirtrees bottom-up; returns (tree, meta).</summary>
    public (Checksum Tree, Checksum Meta) Write(RepoTransaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);

        // Post-order with an explicit stack (a tree's depth is the input's to choose): a folder is written once all
        // its modified subfolders are, which the second visit finds done.
        var pending = new Stack<(MutableTree Tree, bool ChildrenDone)>();
        pending.Push((this, false));
        while (pending.TryPop(out var at))
        {
            var t = at.Tree;
            if (t.TreeChecksum is not null)
            {
                continue;
            }

            if (!at.ChildrenDone)
            {
                pending.Push((t, true));
                foreach (var sub in t._dirs!.Values)
                {
                    if (sub.TreeChecksum is null)
                    {
                        pending.Push((sub, false));
                    }
                }

                continue;
            }

            var dirs = new List<DirTreeDir>(t._dirs!.Count);
            foreach (var (name, sub) in t._dirs)
            {
                dirs.Add(new DirTreeDir(name, sub.TreeChecksum!.Value, sub.MetaChecksum ?? throw new InvalidOperationException("directory without metadata")));
            }

            var tree = new DirTree(t._files!.Select(f => new DirTreeFile(f.Key, f.Value)), dirs);
            t.TreeChecksum = tx.WriteMetadata(ObjectType.DirTree, tree.ToBytes());
        }

        return (TreeChecksum!.Value, MetaChecksum ?? throw new InvalidOperationException("directory without metadata"));
    }
}
