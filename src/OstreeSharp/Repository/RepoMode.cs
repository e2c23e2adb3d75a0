// Repository modes (spec: ostree-repo-format.md, sections 3.2 and 3.4).
namespace OstreeSharp.Repository;

/// <summary>How content objects are stored.</summary>
public enum RepoMode
{
    /// <summary>Files with real owner, mode and xattrs (needs root).</summary>
    Bare,

    /// <summary>Compressed <c>.filez</c> objects, servable over HTTP.</summary>
    Archive,

    /// <summary>Files owned by the user; metadata in the <c>user.ostreemeta</c> xattr.</summary>
    BareUser,

    /// <summary>Files owned by the user; no ownership or xattrs recorded.</summary>
    BareUserOnly,
}

/// <summary>Names of repository modes as the config and CLI spell them.</summary>
public static class RepoModeNames
{
    /// <summary>The <c>core.mode</c> value written to config.</summary>
    public static string ToConfigName(this RepoMode mode) => mode switch
    {
        RepoMode.Bare => "bare",
        RepoMode.Archive => "archive-z2",
        RepoMode.BareUser => "bare-user",
        RepoMode.BareUserOnly => "bare-user-only",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    /// <summary>Parses a mode name (<c>archive</c> and <c>archive-z2</c> both mean archive).</summary>
    public static RepoMode Parse(string name) => name switch
    {
        "bare" => RepoMode.Bare,
        "archive" or "archive-z2" => RepoMode.Archive,
        "bare-user" => RepoMode.BareUser,
        "bare-user-only" => RepoMode.BareUserOnly,
        _ => throw new OstreeFormatException(OstreeErrorCode.RepositoryConfigInvalid, $"Invalid mode '{name}' in repository configuration"),
    };
}
