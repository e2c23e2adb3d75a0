namespace OstreeSharp.GVariant;

/// <summary>Raised when bytes are not a GVariant of the expected type in normal form.</summary>
public sealed class GVariantFormatException : OstreeFormatException
{
    /// <summary>Creates the exception.</summary>
    public GVariantFormatException(string message, int offset)
        : base(OstreeErrorCode.InvalidGVariant, offset >= 0 ? $"{message} (at offset {offset})" : message)
    {
        Offset = offset;
    }

    /// <summary>Byte offset in the serialized data where the problem was found, or -1.</summary>
    public int Offset { get; }
}
