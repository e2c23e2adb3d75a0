// Repository locking with flock on `.lock`, as libostree does (shared for writers, exclusive for prune).
using Microsoft.Win32.SafeHandles;
using OstreeSharp.Internal;

namespace OstreeSharp.Repository;

/// <summary>A held repository lock; dispose to release.</summary>
public sealed class RepoLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private RepoLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>Waits up to <paramref name="timeout"/> for the lock.</summary>
    /// <exception cref="RepoLockedException">The lock could not be taken in time.</exception>
    public static RepoLock Acquire(string lockPath, bool exclusive, TimeSpan timeout)
    {
        bool existed = File.Exists(lockPath);
        var h = File.OpenHandle(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (!existed)
        {
            Native.Chmod(lockPath, 0x1A0); // 0640, as libostree creates it
        }

        var deadline = DateTime.UtcNow + timeout;
        while (!Native.Flock(h, exclusive, wait: false))
        {
            if (DateTime.UtcNow >= deadline)
            {
                h.Dispose();
                throw new RepoLockedException($"Locking repo {Path.GetDirectoryName(lockPath)} timed out after {timeout.TotalSeconds:0} s ({(exclusive ? "exclusive" : "shared")})");
            }

            Thread.Sleep(50);
        }

        return new RepoLock(h);
    }

    /// <inheritdoc />
    public void Dispose() => _handle.Dispose();
}

/// <summary>Raised when another process holds the repository lock too long.</summary>
public sealed class RepoLockedException(string message) : OstreeException(OstreeErrorCode.RepositoryLocked, message);
