using OstreeSharp.Internal;
using Xunit;

namespace OstreeSharp.Tests;

public class FilePrefetcherTests
{
    // The paths the prefetcher has taken so far, counted as it enumerates them.
    private sealed class CountingPaths(IReadOnlyList<string> paths)
    {
        private int _taken;

        public int Taken => Volatile.Read(ref _taken);

        public IEnumerable<string> Enumerate()
        {
            foreach (var p in paths)
            {
                Interlocked.Increment(ref _taken);
                yield return p;
            }
        }
    }

    private static void WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the prefetcher did not move on");
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void StaysAWindowAheadOfTheConsumer()
    {
        var dir = Directory.CreateTempSubdirectory("prefetch-");
        try
        {
            var files = Enumerable.Range(0, 20).Select(i => Path.Combine(dir.FullName, $"f{i}")).ToList();
            foreach (var f in files)
            {
                File.WriteAllBytes(f, new byte[100]);
            }

            files.Insert(5, Path.Combine(dir.FullName, "missing")); // a file it cannot open costs its place, nothing more
            var paths = new CountingPaths(files);
            using var prefetch = new FilePrefetcher(paths.Enumerate(), window: 4);
            WaitFor(() => paths.Taken >= 5);
            Thread.Sleep(200);
            Assert.Equal(5, paths.Taken); // four hinted, the fifth waiting for room
            prefetch.Advance();
            Thread.Sleep(200);
            Assert.Equal(5, paths.Taken); // it sleeps until the consumer is half a window behind
            prefetch.Advance();
            WaitFor(() => paths.Taken >= 7);
            Thread.Sleep(200);
            Assert.Equal(7, paths.Taken); // then fills the window again: six hinted, two used
            for (int i = 0; i < 10; i++)
            {
                prefetch.Advance();
            }

            WaitFor(() => paths.Taken >= 17);
            Thread.Sleep(200);
            Assert.Equal(17, paths.Taken); // never more than a window ahead: sixteen hinted, twelve used
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void DisposingStopsAWalkThatWaits()
    {
        var paths = new CountingPaths(Enumerable.Range(0, 1000).Select(i => $"/nonexistent/{i}").ToList());
        var prefetch = new FilePrefetcher(paths.Enumerate(), window: 4);
        WaitFor(() => paths.Taken >= 5);
        prefetch.Advance(); // not yet half a window: it goes on sleeping
        prefetch.Dispose(); // returns: the thread waiting for room was told to stop
        Assert.Equal(5, paths.Taken);
    }

    [Fact]
    public void A_walk_that_throws_ends_the_hints_not_the_process()
    {
        static IEnumerable<string> Failing()
        {
            yield return "/nonexistent/a";
            throw new ArgumentException("a tree the walk cannot read");
        }

        var prefetch = new FilePrefetcher(Failing(), window: 4);
        prefetch.Advance();
        prefetch.Dispose(); // joins the thread, which has ended quietly
    }
}
