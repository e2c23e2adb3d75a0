using System.Runtime.InteropServices;

namespace OstreeSharp.Cli;

/// <summary>
/// SIGINT and SIGTERM turned into a cancellation: the first cancels <see cref="Token"/> and the process goes on to
/// unwind; the second is left to its default action, which ends the process. See <see cref="CliSupport.Stopping"/>.
/// </summary>
internal sealed class StopSignals
{
    private readonly CancellationTokenSource _cts = new();
    private int _exitCode;

    public StopSignals()
    {
        // Kept for the life of the process: the registrations end when collected.
        Registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, On), PosixSignalRegistration.Create(PosixSignal.SIGTERM, On)];
    }

    public CancellationToken Token => _cts.Token;

    /// <summary>128 + the number of the first signal (130 for SIGINT, 143 for SIGTERM), or null before one.</summary>
    public int? ExitCode => Volatile.Read(ref _exitCode) is > 0 and var code ? code : null;

    private PosixSignalRegistration[] Registrations { get; }

    private void On(PosixSignalContext context)
    {
        int code = 128 + (context.Signal == PosixSignal.SIGINT ? 2 : 15);
        if (Interlocked.CompareExchange(ref _exitCode, code, 0) == 0)
        {
            context.Cancel = true; // not the default action: the verb unwinds
            _cts.Cancel();
        }
    }
}
