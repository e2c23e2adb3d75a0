namespace OstreeSharp.Internal;

/// <summary>
/// A bounded queue between one producer (a tree walk) and a few consumers (the writers), that waits without spinning.
/// </summary>
/// <remarks>
/// BlockingCollection waits on a SemaphoreSlim, which spins and yields before it sleeps. A walk is faster than the
/// writers, so its queue is full nearly all the time, and each add spun: on two cores, an archive commit of the 200 MB
/// synthetic tree made 244,000 sched_yield calls, CPU time the writers needed. Here a full queue puts the producer to
/// sleep until the consumers have taken half of it, and an empty one puts a consumer to sleep until there is work: a
/// few hundred wake-ups per tree, none of them spinning.
/// </remarks>
internal sealed class WorkQueue<T>
{
    private readonly Queue<T> _items = new();
    private readonly int _capacity;
    private readonly int _resumeAt;
    private readonly object _lock = new(); // Monitor.Wait needs a monitor, not a Lock
    private bool _complete;
    private int _waitingConsumers;
    private bool _producerWaiting;

    /// <summary>Creates a queue that holds at most <paramref name="capacity"/> items.</summary>
    public WorkQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _capacity = capacity;
        _resumeAt = capacity / 2;
    }

    /// <summary>Adds an item, waiting while the queue is full.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException"><see cref="CompleteAdding"/> was called.</exception>
    public void Add(T item, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_complete)
            {
                throw new InvalidOperationException("The queue is complete.");
            }

            if (_items.Count >= _capacity)
            {
                _producerWaiting = true;
                var wake = WakeOnCancel(cancellationToken);
                try
                {
                    while (_items.Count > _resumeAt && !cancellationToken.IsCancellationRequested)
                    {
                        Monitor.Wait(_lock);
                    }
                }
                finally
                {
                    wake.Unregister();
                }

                _producerWaiting = false;
            }

            cancellationToken.ThrowIfCancellationRequested();
            _items.Enqueue(item);
            if (_waitingConsumers > 0)
            {
                Monitor.Pulse(_lock);
            }
        }
    }

    /// <summary>Marks the end of the items: consumers finish once the queue is empty.</summary>
    public void CompleteAdding()
    {
        lock (_lock)
        {
            _complete = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The items, each to one consumer, until the queue is complete and empty.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IEnumerable<T> GetConsumingEnumerable(CancellationToken cancellationToken)
    {
        while (TryTake(cancellationToken, out var item))
        {
            yield return item;
        }
    }

    private bool TryTake(CancellationToken cancellationToken, out T item)
    {
        lock (_lock)
        {
            if (_items.Count == 0 && !_complete)
            {
                var wake = WakeOnCancel(cancellationToken);
                try
                {
                    while (_items.Count == 0 && !_complete && !cancellationToken.IsCancellationRequested)
                    {
                        _waitingConsumers++;
                        Monitor.Wait(_lock);
                        _waitingConsumers--;
                    }
                }
                finally
                {
                    wake.Unregister();
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (!_items.TryDequeue(out item!))
            {
                return false;
            }

            if (_producerWaiting && _items.Count <= _resumeAt)
            {
                Monitor.PulseAll(_lock);
            }

            return true;
        }
    }

    // Called with the lock held: a token already cancelled runs the callback at once, on this thread, which holds the
    // monitor already. Unregister, unlike Dispose, does not wait for a callback running on the cancelling thread, which
    // would be waiting for this lock.
    private CancellationTokenRegistration WakeOnCancel(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static s => ((WorkQueue<T>)s!).WakeAll(), this) : default;

    private void WakeAll()
    {
        lock (_lock)
        {
            Monitor.PulseAll(_lock);
        }
    }
}
