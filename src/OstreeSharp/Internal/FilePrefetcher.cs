// Reading a tree's objects one after the other from a cold page cache leaves the cores idle while each open and
// each first read waits for the disk. A thread of its own goes through the same files in the same order, a bounded
// number ahead, and asks the kernel to read each one (posix_fadvise WILLNEED), so that many reads are in flight and the
// consumer finds its files cached. Hints only: nothing read here is used, and a file that cannot be opened is left to
// the consumer to report.

namespace OstreeSharp.Internal;

/// <summary>
/// Hints the kernel to read files ahead of a consumer that goes through them in the order <c>paths</c> yields them
/// (enumerated on the prefetcher's own thread) and calls <see cref="Advance"/> once per file it is done with.
/// </summary>
internal sealed class FilePrefetcher : IDisposable
{
    /// <summary>Bytes of each file asked for: the consumer's own sequential reads bring the rest.</summary>
    private const long HintBytes = 4 << 20;
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    /// <param name="paths">The files, in the consumer's order; enumerated on another thread, so it must be safe there.</param>
    /// <param name="window">How many files the hints may run ahead of the consumer.</param>
    public FilePrefetcher(IEnumerable<string> paths, int window = 256)
    {
        _window = new SemaphoreSlim(window);
        _thread = new Thread(() => Run(paths)) { IsBackground = true, Name = "file prefetch" };
        _thread.Start();
    }

    private void Run(IEnumerable<string> paths)
    {
        try
        {
            foreach (var path in paths)
            {
                _window.Wait(_stop.Token);
                Native.AdviseWillNeed(path, HintBytes);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The walk behind the hints met bad input (a missing or corrupt tree, ...): the hints stop there, and the
            // consumer's own walk meets the same input and reports it. Thrown on this thread, it would end the process.
        }
    }

    /// <summary>The consumer is done with one more file: the hints may go one further.</summary>
    public void Advance() => _window.Release();

    /// <inheritdoc/>
    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _window.Dispose();
    }
}
