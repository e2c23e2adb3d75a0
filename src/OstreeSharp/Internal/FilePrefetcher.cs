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
    private readonly object _gate = new(); // Monitor.Wait needs a monitor, not a Lock
    private readonly int _window;
    private readonly int _resumeAt;
    private readonly Thread _thread;
    private long _issued; // written by the prefetch thread only
    private long _consumed;
    private int _sleeping;
    private volatile bool _stopped;

    /// <param name="paths">The files, in the consumer's order; enumerated on another thread, so it must be safe there.</param>
    /// <param name="window">How many files the hints may run ahead of the consumer.</param>
    /// <remarks>
    /// A full window puts the hints to sleep until the consumer has used half of it: a wake-up per half window, not
    /// one per file. (A semaphore, released per file, woke this thread for each one, and spun and yielded each time
    /// before it slept again: a seventh of the CPU time of a zstd export of the 200 MB synthetic tree, on two cores.)
    /// </remarks>
    public FilePrefetcher(IEnumerable<string> paths, int window = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 2);
        _window = window;
        _resumeAt = window / 2;
        _thread = new Thread(() => Run(paths)) { IsBackground = true, Name = "file prefetch" };
        _thread.Start();
    }

    private void Run(IEnumerable<string> paths)
    {
        try
        {
            foreach (var path in paths)
            {
                if (_issued - Volatile.Read(ref _consumed) >= _window && !WaitForRoom())
                {
                    return;
                }

                Native.AdviseWillNeed(path, HintBytes);
                _issued++;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The walk behind the hints met bad input (a missing or corrupt tree, ...): the hints stop there, and the
            // consumer's own walk meets the same input and reports it. Thrown on this thread, it would end the process.
        }
    }

    /// <summary>Sleeps until the consumer is half a window behind the hints; false once disposed.</summary>
    private bool WaitForRoom()
    {
        lock (_gate)
        {
            // Announced before the count is read again, as Advance counts before it reads this: one of the two sees
            // the other (both are full fences).
            Interlocked.Exchange(ref _sleeping, 1);
            while (!_stopped && _issued - Volatile.Read(ref _consumed) > _resumeAt)
            {
                Monitor.Wait(_gate);
            }

            Interlocked.Exchange(ref _sleeping, 0);
            return !_stopped;
        }
    }

    /// <summary>The consumer is done with one more file: the hints may go one further.</summary>
    public void Advance()
    {
        long consumed = Interlocked.Increment(ref _consumed);
        if (Volatile.Read(ref _sleeping) != 0 && Volatile.Read(ref _issued) - consumed <= _resumeAt)
        {
            lock (_gate)
            {
                Monitor.Pulse(_gate);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _stopped = true;
        lock (_gate)
        {
            Monitor.Pulse(_gate);
        }

        _thread.Join();
    }
}
