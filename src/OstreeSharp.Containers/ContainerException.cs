namespace OstreeSharp.Containers;

/// <summary>An image, reference or registry operation failed; the message names the reference, digest or URL.</summary>
public class ContainerException : OstreeException
{
    /// <summary>Creates the exception with the code <see cref="OstreeErrorCode.ContainerFailed"/>.</summary>
    public ContainerException(string message)
        : base(OstreeErrorCode.ContainerFailed, message)
    {
    }

    /// <summary>Creates the exception with an inner cause and the code <see cref="OstreeErrorCode.ContainerFailed"/>.</summary>
    public ContainerException(string message, Exception inner)
        : base(OstreeErrorCode.ContainerFailed, message, inner)
    {
    }

    /// <summary>Creates the exception for a kind of failure.</summary>
    public ContainerException(OstreeErrorCode code, string message)
        : base(code, message)
    {
    }

    /// <summary>Creates the exception for a kind of failure, with an inner cause.</summary>
    public ContainerException(OstreeErrorCode code, string message, Exception? inner)
        : base(code, message, inner)
    {
    }
}

/// <summary>An image reference could not be parsed, or names a transport that cannot be used.</summary>
public sealed class ImageReferenceException(string message) : ContainerException(OstreeErrorCode.ImageReferenceInvalid, message);

/// <summary>Content did not match the digest or size that described it.</summary>
public sealed class DigestMismatchException(string message) : ContainerException(OstreeErrorCode.DigestMismatch, message);

/// <summary>A manifest, index or config could not be understood.</summary>
public sealed class ManifestException(string message) : ContainerException(OstreeErrorCode.ManifestInvalid, message);

/// <summary>One entry of the <c>errors</c> list a registry answers a failed request with (OCI distribution spec).</summary>
/// <param name="Code">The registry's code, such as <c>MANIFEST_UNKNOWN</c> or <c>DENIED</c>.</param>
/// <param name="Message">The registry's message, or empty.</param>
/// <param name="Detail">The <c>detail</c> member as compact JSON, or null when there is none.</param>
public sealed record RegistryError(string Code, string Message, string? Detail);

/// <summary>A registry answered with an error, or could not be reached.</summary>
public class RegistryException : ContainerException
{
    /// <summary>Creates the exception; the code follows from the status (404: <see cref="OstreeErrorCode.ImageNotFound"/>, 429: <see cref="OstreeErrorCode.RegistryRateLimited"/>).</summary>
    public RegistryException(string message, int statusCode, bool transient)
        : this(CodeOf(statusCode, []), message, statusCode, [], transient, null)
    {
    }

    /// <summary>Creates the exception for a failure that is not an answer (no status), not worth a retry.</summary>
    public RegistryException(string message)
        : this(message, 0, transient: false)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public RegistryException(string message, Exception inner, bool transient)
        : this(OstreeErrorCode.RegistryFailed, message, 0, [], transient, inner)
    {
    }

    /// <summary>Creates the exception for a failed answer with the registry's own error list.</summary>
    public RegistryException(string message, int statusCode, IReadOnlyList<RegistryError> errors, bool transient)
        : this(CodeOf(statusCode, errors), message, statusCode, errors, transient, null)
    {
    }

    /// <summary>Creates the exception for a kind of failure.</summary>
    public RegistryException(OstreeErrorCode code, string message, int statusCode, bool transient)
        : this(code, message, statusCode, [], transient, null)
    {
    }

    private protected RegistryException(OstreeErrorCode code, string message, int statusCode, IReadOnlyList<RegistryError> errors, bool transient, Exception? inner)
        : base(code, message, inner)
    {
        StatusCode = statusCode;
        Errors = errors;
        IsTransient = transient;
    }

    /// <summary>The HTTP status, or 0 when there was no answer.</summary>
    public int StatusCode { get; }

    /// <summary>The registry's own errors from the body of its answer, in its order; empty when it sent none.</summary>
    public IReadOnlyList<RegistryError> Errors { get; }

    /// <summary>Whether trying again later may succeed (429, 5xx, a dropped connection).</summary>
    public bool IsTransient { get; }

    /// <summary>The code of a failed answer: the registry's first error code that we know, else the status.</summary>
    private static OstreeErrorCode CodeOf(int status, IReadOnlyList<RegistryError> errors)
    {
        foreach (var e in errors)
        {
            switch (e.Code)
            {
                case "MANIFEST_UNKNOWN" or "NAME_UNKNOWN":
                    return OstreeErrorCode.ImageNotFound;
                case "BLOB_UNKNOWN":
                    return OstreeErrorCode.BlobNotFound;
                case "UNAUTHORIZED" or "DENIED":
                    return OstreeErrorCode.RegistryUnauthorized;
                case "TOOMANYREQUESTS":
                    return OstreeErrorCode.RegistryRateLimited;
                case "NAME_INVALID" or "TAG_INVALID":
                    return OstreeErrorCode.ImageReferenceInvalid;
                case "MANIFEST_INVALID" or "MANIFEST_BLOB_UNKNOWN":
                    return OstreeErrorCode.ManifestInvalid;
                case "DIGEST_INVALID" or "SIZE_INVALID":
                    return OstreeErrorCode.DigestMismatch;
                case "UNSUPPORTED":
                    return OstreeErrorCode.NotSupported;
            }
        }

        return status switch
        {
            401 or 403 => OstreeErrorCode.RegistryUnauthorized,
            404 => OstreeErrorCode.ImageNotFound,
            429 => OstreeErrorCode.RegistryRateLimited,
            _ => OstreeErrorCode.RegistryFailed,
        };
    }
}

/// <summary>The registry wants credentials we do not have, refused the ones we sent, or spoke an auth scheme we cannot parse.</summary>
public sealed class RegistryAuthException : RegistryException
{
    /// <summary>Creates the exception for a 401 answer.</summary>
    public RegistryAuthException(string message)
        : this(message, 401, [])
    {
    }

    /// <summary>Creates the exception for an answer with this status.</summary>
    public RegistryAuthException(string message, int statusCode)
        : this(message, statusCode, [])
    {
    }

    /// <summary>Creates the exception with the registry's own error list.</summary>
    public RegistryAuthException(string message, int statusCode, IReadOnlyList<RegistryError> errors)
        : base(OstreeErrorCode.RegistryUnauthorized, message, statusCode, errors, false, null)
    {
    }
}
