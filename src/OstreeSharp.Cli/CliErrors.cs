using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

/// <summary>
/// How the CLI reports a failure. By default as ostree does, so that scripts written for ostree run unchanged: one line
/// <c>error: MESSAGE</c> on stderr and exit status 1. With <c>OSTREE_SHARP_ERROR_CODES=1</c> the line carries the
/// failure's stable code, <c>error OSTREE1010: MESSAGE</c> (as dotnet's <c>error CONTAINER1013: ...</c>), and the exit
/// status tells the kind of failure apart (<see cref="ExitCode"/>; docs/errors.md lists both).
/// </summary>
internal static class CliErrors
{
    /// <summary>The environment variable that turns codes on.</summary>
    public const string Variable = "OSTREE_SHARP_ERROR_CODES";

    /// <summary>Whether this run prints codes and maps exit statuses.</summary>
    public static bool WithCodes { get; } = Environment.GetEnvironmentVariable(Variable) == "1";

    /// <summary>The exit status of a failure of kind <paramref name="code"/> when codes are on.</summary>
    public static int ExitCode(OstreeErrorCode code) => code switch
    {
        OstreeErrorCode.InvalidArgument or OstreeErrorCode.RefInvalid or OstreeErrorCode.ImageReferenceInvalid => 2,
        OstreeErrorCode.RepositoryNotFound or OstreeErrorCode.RefNotFound or OstreeErrorCode.ObjectNotFound or OstreeErrorCode.RemoteNotFound
            or OstreeErrorCode.DeltaNotFound or OstreeErrorCode.SysrootNotFound or OstreeErrorCode.DeploymentNotFound or OstreeErrorCode.KernelNotFound
            or OstreeErrorCode.ImageNotFound or OstreeErrorCode.BlobNotFound => 3,
        OstreeErrorCode.ObjectCorrupted or OstreeErrorCode.CommitBindingMismatch or OstreeErrorCode.DigestMismatch or OstreeErrorCode.VerityFailed
            or OstreeErrorCode.SignatureInvalid or OstreeErrorCode.SignatureMissing or OstreeErrorCode.SignatureUntrusted
            or OstreeErrorCode.SignatureMismatch or OstreeErrorCode.SignatureKeyExpired or OstreeErrorCode.PolicyRejected => 4,
        OstreeErrorCode.FetchFailed or OstreeErrorCode.RegistryFailed or OstreeErrorCode.RegistryUnauthorized or OstreeErrorCode.RegistryRateLimited => 5,
        OstreeErrorCode.RepositoryLocked => 6,
        OstreeErrorCode.NotSupported => 7,
        OstreeErrorCode.Internal => 70, // EX_SOFTWARE
        _ => 1,
    };

    /// <summary>Prints the error line of a failure and returns the exit status.</summary>
    public static int Report(OstreeErrorCode code, string message)
    {
        Console.Out.Flush();
        Console.Error.WriteLine(Line(code, message));
        return Status(code);
    }

    /// <summary>The exit status of a failure whose report is elsewhere (a JSON document): 1, or by kind when codes are on.</summary>
    public static int Status(OstreeErrorCode code) => WithCodes ? ExitCode(code) : 1;

    /// <summary>The error line: <c>error: MESSAGE</c>, or <c>error OSTREEnnnn: MESSAGE</c> when codes are on.</summary>
    public static string Line(OstreeErrorCode code, string message) =>
        (WithCodes ? "error " + OstreeErrorCodes.Format(code) + ": " : "error: ") + MessageText.OneLine(message);
}
