// Object types and their file extensions (spec: ostree-repo-format.md, section 2.1).
namespace OstreeSharp.Objects;

/// <summary>The kinds of object in a repository; values match libostree's enum.</summary>
public enum ObjectType
{
    /// <summary>Content: a regular file or symlink.</summary>
    File = 1,

    /// <summary>A directory listing.</summary>
    DirTree = 2,

    /// <summary>A directory's owner, mode and xattrs.</summary>
    DirMeta = 3,

    /// <summary>A commit.</summary>
    Commit = 4,

    /// <summary>Marks a deleted commit.</summary>
    TombstoneCommit = 5,

    /// <summary>Detached metadata of a commit.</summary>
    CommitMeta = 6,

    /// <summary>Payload link (bare modes).</summary>
    PayloadLink = 7,

    /// <summary>File xattrs (bare-split-xattrs).</summary>
    FileXattrs = 8,

    /// <summary>Link to file xattrs.</summary>
    FileXattrsLink = 9,
}

/// <summary>Helpers for <see cref="ObjectType"/>.</summary>
internal static class ObjectTypeExtensions
{
    /// <summary>The name ostree uses in paths and messages (<c>file</c>, <c>dirtree</c>, ...).</summary>
    public static string ToName(this ObjectType t) => t switch
    {
        ObjectType.File => "file",
        ObjectType.DirTree => "dirtree",
        ObjectType.DirMeta => "dirmeta",
        ObjectType.Commit => "commit",
        ObjectType.TombstoneCommit => "tombstone-commit",
        ObjectType.CommitMeta => "commitmeta",
        ObjectType.PayloadLink => "payload-link",
        ObjectType.FileXattrs => "file-xattrs",
        ObjectType.FileXattrsLink => "file-xattrs-link",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>Parses an object type name.</summary>
    public static bool TryParseName(string name, out ObjectType type)
    {
        foreach (var t in Enum.GetValues<ObjectType>())
        {
            if (t.ToName() == name)
            {
                type = t;
                return true;
            }
        }

        type = default;
        return false;
    }

    /// <summary>The type of a loose object's file extension (<c>filez</c> is an archive repository's content).</summary>
    /// <exception cref="OstreeFormatException">Not an object extension.</exception>
    public static ObjectType FromExtension(string extension) =>
        extension == "filez" ? ObjectType.File
        : TryParseName(extension, out var t) ? t
        : throw new OstreeFormatException($"Invalid object extension '{extension}'");

    /// <summary>True for dirtree, dirmeta, commit, tombstone and commitmeta.</summary>
    public static bool IsMetadata(this ObjectType t) => t is ObjectType.DirTree or ObjectType.DirMeta or ObjectType.Commit or ObjectType.TombstoneCommit or ObjectType.CommitMeta;
}
