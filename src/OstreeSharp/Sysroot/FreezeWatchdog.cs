// The watchdog of a freeze/thaw cycle, as libostree keeps one: a separate process that thaws the filesystem if this
// process dies (or hangs) between FIFREEZE and FITHAW, which would otherwise leave /boot, or the whole root, frozen.
using System.Diagnostics;

namespace OstreeSharp.Sysroot;

/// <summary>
/// A shell that waits on a pipe from this process: on <c>done</c> it exits; on end of file (this process died) or
/// after 30 seconds it runs <c>fsfreeze --unfreeze</c> on the path. In test mode it only says it ran.
/// </summary>
internal sealed class FreezeWatchdog : IDisposable
{
    // POSIX sh (Debian's dash has no read -t): coreutils' timeout bounds the wait for our line.
    private const string Script =
        "if [ \"$1\" = test ]; then echo 'fifreeze watchdog was run' >&2; exit 0; fi\n" +
        "echo ready\n" +
        "word=$(timeout 30 head -n 1)\n" +
        "if [ \"$word\" = done ]; then exit 0; fi\n" +
        "exec fsfreeze --unfreeze \"$2\" 2>/dev/null\n";

    private readonly Process _process;

    private FreezeWatchdog(Process process) => _process = process;

    /// <summary>Starts the watchdog for the filesystem holding <paramref name="path"/> and waits until it is ready.</summary>
    public static FreezeWatchdog Start(string path, bool test)
    {
        var psi = new ProcessStartInfo("sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-c", Script, "ostree-freeze-watchdog", test ? "test" : "run", path })
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi) ?? throw new OstreeException(OstreeErrorCode.FreezeFailed, "During fsfreeze-thaw: cannot start the watchdog (sh)");
        var watchdog = new FreezeWatchdog(p);
        if (!test && p.StandardOutput.ReadLine() != "ready")
        {
            watchdog.Dispose();
            throw new OstreeException(OstreeErrorCode.FreezeFailed, "During fsfreeze-thaw: read(watchdog init): the watchdog did not start");
        }

        return watchdog;
    }

    /// <summary>Waits for the watchdog to end.</summary>
    public void WaitForExit() => _process.WaitForExit();

    /// <summary>Whether the watchdog has ended (it thaws and ends on its own after 30 seconds).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Tells the watchdog the filesystem is thawed, and waits for it to end.</summary>
    public void Done()
    {
        try
        {
            _process.StandardInput.WriteLine("done");
            _process.StandardInput.Flush();
        }
        catch (IOException)
        {
            // It ended already (its 30 seconds passed, and it thawed): nothing is left to tell it.
        }

        _process.WaitForExit();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Closing its input makes a watchdog still waiting thaw at once (a no-op when nothing is frozen).
        try
        {
            _process.StandardInput.Dispose();
        }
        catch (IOException)
        {
        }

        _process.WaitForExit();
        _process.Dispose();
    }
}
