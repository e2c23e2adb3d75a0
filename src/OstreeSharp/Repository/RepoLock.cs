// Repository locking on `.lock` as libostree does it: an OFD lock, shared for writers, exclusive for prune.
using Microsoft.Win32.SafeHandles;
using OstreeSharp.Internal;

namespace OstreeSharp.Repository;

/// <summary>A held repository lock; dispose to release.</summary>
public sealed class RepoLock : IDisposable
{
    private readonly SafeFileHandle? _handle;

    private RepoLock(SafeFileHandle? handle) => _handle = handle;

    /// <summary>A lock that holds nothing: the repository's <c>core.locking</c> is off.</summary>
    internal static RepoLock None => new(null);

    /// <summary>Waits up to <paramref name="timeout"/> for the lock (<see cref="Timeout.InfiniteTimeSpan"/>: as long as it takes).</summary>
    /// <exception cref="RepoLockedException">The lock could not be taken in time.</exception>
    public static RepoLock Acquire(string lockPath, bool exclusive, TimeSpan timeout)
    {
        bool existed = File.Exists(lockPath);
        var h = File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (!existed)
        {
            Native.Chmod(lockPath, 0x1A0); // 0640, as libostree creates it
        }

        long started = Environment.TickCount64;
        while (!Native.LockFile(h, exclusive, wait: false))
        {
            if (timeout != Timeout.InfiniteTimeSpan && Environment.TickCount64 - started >= timeout.TotalMilliseconds)
            {
                h.Dispose();
                // libostree's words (the errno of a lock that would block), then which repository and how long.
                throw new RepoLockedException(string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"Locking repo {(exclusive ? "exclusive" : "shared")} failed: Resource temporarily unavailable ({Path.GetDirectoryName(lockPath)}, waited {timeout.TotalSeconds:0} s)"));
            }

            Thread.Sleep(50);
        }

        return new RepoLock(h);
    }

    /// <inheritdoc />
    public void Dispose() => _handle?.Dispose();
}

/// <summary>Raised when another process holds the repository lock too long.</summary>
public sealed class RepoLockedException(string message) : OstreeException(OstreeErrorCode.RepositoryLocked, message);
