namespace OstreeSharp;

/// <summary>Raised when data read from a repository or from input is not in the expected format.</summary>
public class OstreeFormatException : OstreeException
{
    /// <summary>Creates the exception with the code <see cref="OstreeErrorCode.InvalidData"/>.</summary>
    public OstreeFormatException(string message)
        : base(OstreeErrorCode.InvalidData, message)
    {
    }

    /// <summary>Creates the exception with an inner cause and the code <see cref="OstreeErrorCode.InvalidData"/>.</summary>
    public OstreeFormatException(string message, Exception inner)
        : base(OstreeErrorCode.InvalidData, message, inner)
    {
    }

    /// <summary>Creates the exception for a more specific kind of malformed data (a ref name, an archive).</summary>
    public OstreeFormatException(OstreeErrorCode code, string message)
        : base(code, message)
    {
    }
}

/// <summary>Raised when an object's bytes do not match its checksum or cannot be parsed.</summary>
public sealed class ObjectCorruptedException : OstreeException
{
    /// <summary>Creates the exception.</summary>
    public ObjectCorruptedException(string objectName, string message, Exception? inner = null)
        : base(OstreeErrorCode.ObjectCorrupted, $"Corrupted object {objectName}: {message}", inner ?? new InvalidDataException(message))
    {
        ObjectName = objectName;
        Detail = message;
    }

    private ObjectCorruptedException(string objectName, string fullMessage, bool _)
        : base(OstreeErrorCode.ObjectCorrupted, fullMessage, new InvalidDataException(fullMessage))
    {
        ObjectName = objectName;
        Detail = fullMessage;
    }

    /// <summary>The object, as <c>CHECKSUM.TYPE</c>.</summary>
    public string ObjectName { get; }

    /// <summary>What is wrong with the object, without the object's name in front.</summary>
    public string Detail { get; }

    /// <summary>
    /// An object whose bytes hash to <paramref name="actual"/>, in ostree's words (scripts grep them):
    /// <c>Corrupted TYPE object; checksum expected='...' actual='...'</c>, then where it came from, if given.
    /// </summary>
    public static ObjectCorruptedException ChecksumMismatch(string expected, string type, string actual, string? where = null) =>
        new($"{expected}.{type}", $"Corrupted {type} object; checksum expected='{expected}' actual='{actual}'{(where is null ? string.Empty : $" ({where})")}", true);
}

/// <summary>Raised when an object, ref, remote, delta or piece of metadata is missing; <see cref="OstreeException.ErrorCode"/> says which.</summary>
public sealed class ObjectNotFoundException : OstreeException
{
    /// <summary>Creates the exception with the code <see cref="OstreeErrorCode.ObjectNotFound"/>.</summary>
    public ObjectNotFoundException(string message)
        : base(OstreeErrorCode.ObjectNotFound, message)
    {
    }

    /// <summary>Creates the exception for what is missing: a ref, a remote, a delta, a deployment.</summary>
    public ObjectNotFoundException(OstreeErrorCode code, string message)
        : base(code, message)
    {
    }
}
