namespace OstreeSharp.Composefs;

/// <summary>Raised when a composefs tree is not valid or cannot be written as an image.</summary>
public class ComposefsException : OstreeException
{
    /// <summary>Creates the exception.</summary>
    public ComposefsException(string message)
        : this(OstreeErrorCode.ComposefsFailed, message, null)
    {
    }

    /// <summary>Creates the exception; <paramref name="path"/> is the offending file in the tree, if known.</summary>
    public ComposefsException(string message, string? path)
        : this(OstreeErrorCode.ComposefsFailed, message, path)
    {
    }

    /// <summary>Creates the exception for a more specific kind of failure.</summary>
    protected ComposefsException(OstreeErrorCode code, string message, string? path)
        : base(code, path is null ? message : $"{path}: {message}")
    {
        Path = path;
        Reason = message;
    }

    /// <summary>The message without the path.</summary>
    public string Reason { get; }

    /// <summary>The absolute path, inside the composefs tree, of the file at fault (null if not known).</summary>
    public string? Path { get; }
}

/// <summary>
/// Raised when a name, symlink target, payload, inline content, xattr or file size goes beyond what
/// composefs (libcomposefs 1.0.8) accepts.
/// </summary>
public sealed class ComposefsLimitException : ComposefsException
{
    /// <summary>Creates the exception.</summary>
    public ComposefsLimitException(string message, string? path)
        : base(OstreeErrorCode.ComposefsLimit, message, path)
    {
    }
}

/// <summary>Raised when a composefs dumpfile line cannot be parsed or does not fit the tree built so far.</summary>
public sealed class ComposefsDumpfileException : ComposefsException
{
    /// <summary>Creates the exception for line <paramref name="lineNumber"/> (1-based; 0 when the whole file is at fault).</summary>
    public ComposefsDumpfileException(long lineNumber, string message, string? path = null)
        : base(OstreeErrorCode.ComposefsInvalidDumpfile, lineNumber > 0 ? $"dumpfile line {lineNumber}: {message}" : $"dumpfile: {message}", path)
    {
        LineNumber = lineNumber;
    }

    /// <summary>The 1-based line number of the offending line, or 0.</summary>
    public long LineNumber { get; }
}
