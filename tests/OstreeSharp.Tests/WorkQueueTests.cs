using OstreeSharp.Internal;
using Xunit;

namespace OstreeSharp.Tests;

public class WorkQueueTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task EveryItemReachesExactlyOneConsumer()
    {
        var queue = new WorkQueue<int>(capacity: 16);
        var taken = new int[3][];
        var consumers = Enumerable.Range(0, 3).Select(k => Task.Factory.StartNew(
            () => taken[k] = queue.GetConsumingEnumerable(CancellationToken.None).ToArray(),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default)).ToArray();
        for (int i = 0; i < 10_000; i++)
        {
            queue.Add(i, CancellationToken.None);
        }

        queue.CompleteAdding();
        await Task.WhenAll(consumers).WaitAsync(Patience);
        Assert.Equal(Enumerable.Range(0, 10_000), taken.SelectMany(t => t).Order());
        foreach (var t in taken)
        {
            Assert.Equal(t.Order(), t); // one producer: each consumer sees its items in the order they were added
        }
    }

    [Fact]
    public async Task AFullQueueHoldsTheProducerUntilHalfOfItIsTaken()
    {
        var queue = new WorkQueue<int>(capacity: 4);
        for (int i = 0; i < 4; i++)
        {
            queue.Add(i, CancellationToken.None);
        }

        var fifth = Task.Factory.StartNew(() => queue.Add(4, CancellationToken.None), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        using var items = queue.GetConsumingEnumerable(CancellationToken.None).GetEnumerator();
        Assert.True(items.MoveNext());
        await Task.Delay(200);
        Assert.False(fifth.IsCompleted); // 3 of 4 left: still above half
        Assert.True(items.MoveNext());
        await fifth.WaitAsync(Patience); // 2 left: the producer goes on
        queue.CompleteAdding();
        var rest = new List<int>();
        while (items.MoveNext())
        {
            rest.Add(items.Current);
        }

        Assert.Equal([2, 3, 4], rest);
    }

    [Fact]
    public async Task CancellationWakesAWaitingProducer()
    {
        var queue = new WorkQueue<string>(capacity: 2);
        queue.Add("a", CancellationToken.None);
        queue.Add("b", CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var blocked = Task.Factory.StartNew(() => queue.Add("c", cts.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Delay(100);
        Assert.False(blocked.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocked.WaitAsync(Patience));
    }

    [Fact]
    public async Task CancellationWakesAWaitingConsumer()
    {
        var queue = new WorkQueue<string>(capacity: 2);
        using var cts = new CancellationTokenSource();
        var waiting = Task.Factory.StartNew(() => queue.GetConsumingEnumerable(cts.Token).ToList(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.Delay(100);
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
    }

    [Fact]
    public void NothingIsAddedAfterCompletion()
    {
        var queue = new WorkQueue<int>(capacity: 2);
        queue.CompleteAdding();
        Assert.Throws<InvalidOperationException>(() => queue.Add(1, CancellationToken.None));
        Assert.Empty(queue.GetConsumingEnumerable(CancellationToken.None));
    }
}
