// The low-speed limit of libostree's curl fetcher (CURLOPT_LOW_SPEED_LIMIT / _TIME): a request that receives fewer
// than N bytes a second, averaged over M seconds (waiting for the answer included), is aborted, then retried like any
// network error. Without it a server that accepts a connection and never answers holds a pull forever.
namespace OstreeSharp.Transfer;

/// <summary>Watches one request's progress; its token is cancelled when the transfer is too slow.</summary>
internal sealed class LowSpeedGuard : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly Timer? _timer;
    private readonly long _limit;
    private readonly int _seconds;
    private long _bytes, _windowStart;
    private volatile bool _tripped;

    /// <param name="limitBytesPerSecond">The slowest acceptable average speed (0: no limit).</param>
    /// <param name="seconds">The window the speed is averaged over (0: no limit).</param>
    /// <param name="outer">The caller's cancellation, passed through.</param>
    public LowSpeedGuard(long limitBytesPerSecond, int seconds, CancellationToken outer)
    {
        _limit = Math.Max(0, limitBytesPerSecond);
        _seconds = Math.Max(0, seconds);
        _cts = CancellationTokenSource.CreateLinkedTokenSource(outer);
        if (_limit > 0 && _seconds > 0)
        {
            var period = TimeSpan.FromSeconds(_seconds);
            _timer = new Timer(_ => Check(), null, period, period);
        }
    }

    /// <summary>Cancelled by the caller, or when the transfer is too slow.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>True once the guard aborted the request.</summary>
    public bool Tripped => _tripped;

    /// <summary>Why the request was aborted, for the error message.</summary>
    public string Reason => $"less than {_limit} bytes/s for {_seconds} s (--low-speed-limit-bytes, --low-speed-time-seconds)";

    /// <summary>Counts bytes received.</summary>
    public void Received(int n) => Interlocked.Add(ref _bytes, n);

    private void Check()
    {
        long now = Interlocked.Read(ref _bytes);
        if (now - _windowStart < _limit * _seconds)
        {
            _tripped = true;
            try
            {
                _cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The request ended meanwhile.
            }

            return;
        }

        _windowStart = now;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _timer?.Dispose();
        _cts.Dispose();
    }
}
