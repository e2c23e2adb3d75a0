namespace OstreeSharp.Internal;

/// <summary>
/// The one test hook for crashes: with <c>OSTREE_SHARP_FAULT=NAME</c> the process kills itself (SIGKILL, as a power
/// cut looks to it: no finally block, no flush of what it had not written) when it reaches the step of that name.
/// Transactions name <c>before-publish</c>, <c>before-last-object</c> and <c>before-refs</c>; deploys the steps of the
/// boot swap (<c>sub-before-farm</c>, <c>full-before-entries</c>, ...).
/// </summary>
internal static class FaultPoint
{
    /// <summary>The environment variable that names the step.</summary>
    public const string Variable = "OSTREE_SHARP_FAULT";

    private static readonly string? Target = Environment.GetEnvironmentVariable(Variable);

    /// <summary>Kills the process when <paramref name="name"/> is the configured step.</summary>
    public static void Hit(string name)
    {
        if (Target == name)
        {
            Console.Out.Flush();
            System.Diagnostics.Process.GetCurrentProcess().Kill();
        }
    }
}
