namespace OstreeSharp;

/// <summary>
/// Base class of every error OstreeSharp raises for bad input or a failed operation. <see cref="ErrorCode"/> says
/// which kind of failure it is; the message says where (the object, path, digest or URL) in one line.
/// </summary>
public class OstreeException : Exception
{
    /// <summary>Creates the exception with the code <see cref="OstreeErrorCode.Failed"/>.</summary>
    public OstreeException(string message)
        : this(OstreeErrorCode.Failed, message)
    {
    }

    /// <summary>Creates the exception with an inner cause and the code <see cref="OstreeErrorCode.Failed"/>.</summary>
    public OstreeException(string message, Exception inner)
        : this(OstreeErrorCode.Failed, message, inner)
    {
    }

    /// <summary>Creates the exception for a kind of failure.</summary>
    public OstreeException(OstreeErrorCode code, string message)
        : base(message)
    {
        ErrorCode = code;
    }

    /// <summary>Creates the exception for a kind of failure, with an inner cause.</summary>
    public OstreeException(OstreeErrorCode code, string message, Exception? inner)
        : base(message, inner)
    {
        ErrorCode = code;
    }

    /// <summary>The kind of failure; stable across releases.</summary>
    public OstreeErrorCode ErrorCode { get; }
}
