using System.Globalization;

namespace OstreeSharp;

/// <summary>Turns exceptions into <see cref="OstreeErrorCode"/>s and codes into their printed form.</summary>
public static class OstreeErrorCodes
{
    /// <summary>The printed form of a code: <c>OSTREE</c> and its four digits, as in <c>OSTREE1010</c>.</summary>
    public static string Format(OstreeErrorCode code) => string.Create(CultureInfo.InvariantCulture, $"OSTREE{(int)code:D4}");

    /// <summary>
    /// The code of any exception an OstreeSharp call can raise: an <see cref="OstreeException"/>'s own code; for the
    /// .NET exceptions the library lets through, the kind they stand for (a bad argument, an I/O error, a refusal by
    /// the operating system, a cancellation); <see cref="OstreeErrorCode.Internal"/> for anything else.
    /// </summary>
    public static OstreeErrorCode Of(Exception exception) => Of(exception, OstreeErrorCode.Internal);

    /// <summary>
    /// The code of <paramref name="exception"/> as <see cref="Of(Exception)"/> gives it, or <paramref name="otherwise"/>
    /// where that would be <see cref="OstreeErrorCode.Internal"/>: for a wrapper that knows what kind of step failed.
    /// </summary>
    public static OstreeErrorCode Of(Exception exception, OstreeErrorCode otherwise)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is AggregateException aggregate && aggregate.Flatten().InnerExceptions is [var first, ..])
        {
            exception = first;
        }

        return exception switch
        {
            OstreeException o => o.ErrorCode,
            OperationCanceledException => OstreeErrorCode.Cancelled,
            ArgumentException or FormatException => OstreeErrorCode.InvalidArgument,
            UnauthorizedAccessException => OstreeErrorCode.PermissionDenied,
            IOException => OstreeErrorCode.IOFailed,
            NotSupportedException or PlatformNotSupportedException => OstreeErrorCode.NotSupported,
            _ => otherwise,
        };
    }
}
