// A stream read ahead on another thread: the producer fills blocks from the inner stream (for a layer: the socket,
// the blob's digest and the decompression) while the reader consumes earlier ones (tar parsing, object hashing and
// writing), so that one layer uses two cores.
using System.Threading.Channels;

namespace OstreeSharp.Internal;

/// <summary>
/// Reads <c>inner</c> ahead on a thread of its own, a few blocks at most; owns <c>inner</c>. The blocks are the
/// stream's own, reused from first to last: at most <c>blocks</c> + 2 of them are ever allocated, and they go with
/// the stream (a shared pool would keep every block that ever crossed between the two threads).
/// </summary>
internal sealed class ReadAheadStream : ReadOnlyStream
{
    private const int BlockSize = 256 << 10;
    private readonly Stream _inner;
    private readonly System.Collections.Concurrent.ConcurrentQueue<byte[]> _free = new();
    private readonly Channel<(byte[] Buffer, int Length)> _blocks;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _producer;
    private byte[]? _current;
    private int _offset, _length;
    private bool _eof, _disposed;

    /// <param name="inner">The stream to read ahead.</param>
    /// <param name="blocks">How many blocks of 256 KiB may wait to be read.</param>
    public ReadAheadStream(Stream inner, int blocks = 8)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _blocks = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(blocks) { SingleReader = true, SingleWriter = true });
        _producer = Task.Factory.StartNew(Produce, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Produce()
    {
        var writer = _blocks.Writer;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var buf = _free.TryDequeue(out var reused) ? reused : new byte[BlockSize];
                int n = 0, got;
                while (n < BlockSize && (got = _inner.Read(buf, n, BlockSize - n)) > 0)
                {
                    n += got;
                }

                if (n == 0)
                {
                    _free.Enqueue(buf);
                    break;
                }

                // Blocks when the reader is behind; a synchronous wait is right on this thread of our own.
                bool queued;
                try
                {
                    queued = writer.WaitToWriteAsync(_stop.Token).AsTask().GetAwaiter().GetResult() && writer.TryWrite((buf, n));
                }
                catch (OperationCanceledException)
                {
                    queued = false;
                }

                if (!queued)
                {
                    _free.Enqueue(buf);
                    break;
                }

                if (n < BlockSize)
                {
                    break;
                }
            }

            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.Length == 0)
        {
            return 0;
        }

        while (_current is null || _offset == _length)
        {
            if (_current is not null)
            {
                _free.Enqueue(_current);
                _current = null;
            }

            if (_eof || !Next())
            {
                _eof = true;
                return 0;
            }
        }

        int n = Math.Min(buffer.Length, _length - _offset);
        _current.AsSpan(_offset, n).CopyTo(buffer);
        _offset += n;
        return n;
    }

    private bool Next()
    {
        var reader = _blocks.Reader;
        while (true)
        {
            if (reader.TryRead(out var block))
            {
                (_current, _length, _offset) = (block.Buffer, block.Length, 0);
                return true;
            }

            if (!reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                // Completed: rethrows the producer's failure, as the inner stream would have thrown it.
                if (reader.Completion.IsFaulted)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(reader.Completion.Exception!.InnerException!);
                }

                return false;
            }
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            _stop.Cancel();
            try
            {
                _producer.Wait();
            }
            catch (AggregateException)
            {
                // The producer's failure was the reader's to see.
            }

            while (_blocks.Reader.TryRead(out var block))
            {
                _free.Enqueue(block.Buffer);
            }

            if (_current is not null)
            {
                _free.Enqueue(_current);
                _current = null;
            }

            _inner.Dispose();
            _stop.Dispose();
        }

        base.Dispose(disposing);
    }
}
