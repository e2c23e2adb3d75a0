// The SELinux policy of a root filesystem, found as libostree's OstreeSePolicy finds it.
using OstreeSharp.Objects;
using OstreeSharp.Operations;

namespace OstreeSharp.SELinux;

/// <summary>
/// A root's policy: <c>etc/selinux/config</c> (else <c>usr/etc/selinux/config</c>) names <c>SELINUXTYPE</c>, whose
/// <c>contexts/files/file_contexts</c> labels paths. A root without that config has no policy and labels nothing.
/// </summary>
public sealed class SePolicy
{
    private readonly FileContexts? _contexts;

    private SePolicy(string? name, FileContexts? contexts)
    {
        Name = name;
        _contexts = contexts;
    }

    /// <summary>No policy: labels nothing.</summary>
    public static SePolicy None { get; } = new(null, null);

    /// <summary>The policy type (<c>SELINUXTYPE</c>), or null when the root has none.</summary>
    public string? Name { get; }

    /// <summary>The file contexts, or null when the root has no policy.</summary>
    public FileContexts? Contexts => _contexts;

    /// <summary>Loads the policy of the root filesystem at <paramref name="root"/>.</summary>
    public static SePolicy Load(string root)
    {
        var selinuxDir = Path.Combine(root, "etc/selinux");
        if (!Directory.Exists(selinuxDir))
        {
            selinuxDir = Path.Combine(root, "usr/etc/selinux");
        }

        var config = Path.Combine(selinuxDir, "config");
        if (!File.Exists(config))
        {
            return None;
        }

        string? type = null;
        foreach (var line in File.ReadAllLines(config))
        {
            var t = line.Trim();
            if (t.StartsWith("SELINUXTYPE=", StringComparison.Ordinal))
            {
                type = t["SELINUXTYPE=".Length..].Trim();
            }
        }

        if (string.IsNullOrEmpty(type))
        {
            throw new OstreeException(OstreeErrorCode.InvalidData, $"{config}: no SELINUXTYPE");
        }

        var fc = Path.Combine(selinuxDir, type, "contexts/files/file_contexts");
        return new SePolicy(type, FileContexts.Load(fc));
    }

    /// <summary>The policy inside a commit: its <c>usr/etc/selinux</c> (else <c>etc/selinux</c>), read from the stored objects.</summary>
    public static SePolicy LoadFromCommit(Repository.OstreeRepo repo, Checksum commit)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var c = repo.LoadCommit(commit);
        return TreeLabeler.LoadPolicy(repo, MutableTree.FromRepo(repo, c.RootTree, c.RootMeta));
    }

    /// <summary>
    /// Labelling epoch: 0 labels every path as itself, as libostree 2022.7 does (<c>/usr/etc/shadow</c> gets the
    /// policy's <c>/usr/etc(/.*)?</c> label); 1 labels <c>/usr/etc</c> paths as the <c>/etc</c> paths they become,
    /// as later libostree does with <c>--selinux-labeling-epoch=1</c>.
    /// </summary>
    public int LabelingEpoch { get; init; }

    /// <summary>
    /// The label libostree gives a path of a commit (<c>/proc</c> is looked up as <c>/mnt</c>, as libostree does), or
    /// null when there is no policy or it says <c>&lt;&lt;none&gt;&gt;</c>.
    /// </summary>
    public string? Label(string path, uint mode)
    {
        if (_contexts is null)
        {
            return null;
        }

        if (path == "/proc")
        {
            path = "/mnt";
        }
        else if (LabelingEpoch >= 1 && path.StartsWith("/usr/etc", StringComparison.Ordinal) && (path.Length == 8 || path[8] == '/'))
        {
            path = "/etc" + path[8..];
        }

        return _contexts.Lookup(path, mode);
    }

    /// <summary>The same policy with another labelling epoch.</summary>
    public SePolicy WithEpoch(int epoch) => epoch is 0 or 1 ? new SePolicy(Name, _contexts) { LabelingEpoch = epoch } : throw new ArgumentException($"unknown SELinux labeling epoch {epoch} (0 or 1)");

    /// <summary>
    /// <paramref name="xattrs"/> with <c>security.selinux</c> set to the label of the path (NUL-terminated, as
    /// libostree writes it), replacing any label the input had; unchanged when the path gets no label.
    /// </summary>
    public Xattrs Apply(string path, uint mode, Xattrs xattrs)
    {
        var label = Label(path, mode);
        if (label is null)
        {
            return xattrs;
        }

        var value = new byte[System.Text.Encoding.UTF8.GetByteCount(label) + 1];
        System.Text.Encoding.UTF8.GetBytes(label, value);
        // libostree drops any label the input had and adds the new one. 2022.7 appended it last, which leaves
        // xattrs such as user.* before it: a file header 2024.10 and later (which sort) call corrupt on fsck.
        // We sort, as 2026.4 does.
        return Xattrs.Create(xattrs.Items.Where(x => x.NameString != "security.selinux").Append(Xattr.Create("security.selinux", value)));
    }
}
