using System.Diagnostics;
using OstreeSharp.Internal;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Tests;

/// <summary>
/// The watchdog of the /boot freeze/thaw cycle, run here without any freeze (its thaw of a filesystem that is not
/// frozen is a no-op): it waits for our word, and ends on its own when we are gone.
/// </summary>
public sealed class FreezeWatchdogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ostree-sharp-ut-").FullName;

    public void Dispose() => FileUtil.DeleteAny(_dir);

    [Fact]
    public void It_waits_for_the_word_and_ends_when_told()
    {
        using var watchdog = FreezeWatchdog.Start(_dir, test: false);
        Thread.Sleep(300);
        Assert.False(watchdog.HasExited, "the watchdog must wait for our word, not end at once");
        var clock = Stopwatch.StartNew();
        watchdog.Done();
        Assert.True(watchdog.HasExited);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void It_ends_at_once_when_its_pipe_closes_as_when_we_die()
    {
        var watchdog = FreezeWatchdog.Start(_dir, test: false);
        var clock = Stopwatch.StartNew();
        watchdog.Dispose(); // what our death looks like to it: end of file
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }
}
