namespace OstreeSharp.Containers;

/// <summary>An image, reference or registry operation failed; the message names the reference, digest or URL.</summary>
public class ContainerException : OstreeException
{
    /// <summary>Creates the exception.</summary>
    public ContainerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public ContainerException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>An image reference could not be parsed, or names a transport that cannot be used.</summary>
public sealed class ImageReferenceException(string message) : ContainerException(message);

/// <summary>Content did not match the digest or size that described it.</summary>
public sealed class DigestMismatchException(string message) : ContainerException(message);

/// <summary>A manifest, index or config could not be understood.</summary>
public sealed class ManifestException(string message) : ContainerException(message);

/// <summary>A registry answered with an error, or could not be reached.</summary>
public class RegistryException : ContainerException
{
    /// <summary>Creates the exception.</summary>
    public RegistryException(string message, int statusCode = 0, bool transient = false)
        : base(message)
    {
        StatusCode = statusCode;
        IsTransient = transient;
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public RegistryException(string message, Exception inner, bool transient)
        : base(message, inner)
    {
        IsTransient = transient;
    }

    /// <summary>The HTTP status, or 0 when there was no answer.</summary>
    public int StatusCode { get; }

    /// <summary>Whether trying again later may succeed (429, 5xx, a dropped connection).</summary>
    public bool IsTransient { get; }
}

/// <summary>The registry wants credentials we do not have, refused the ones we sent, or spoke an auth scheme we cannot parse.</summary>
public sealed class RegistryAuthException(string message, int statusCode = 401) : RegistryException(message, statusCode);
