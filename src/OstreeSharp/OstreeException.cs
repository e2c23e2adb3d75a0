namespace OstreeSharp;

/// <summary>Base class of every error OstreeSharp raises for bad input or a failed operation.</summary>
public class OstreeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OstreeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with an inner cause.</summary>
    public OstreeException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
