namespace OstreeSharp.Internal;

/// <summary>Small file helpers: atomic replacement, safe removal, lock files.</summary>
internal static class FileUtil
{
    /// <summary>
    /// Opens (with <paramref name="mode"/>) and locks a lock file exclusively, as libostree's lock files are locked (an
    /// OFD lock, <see cref="Native.LockFile"/>), and checks that the lock is on the file the path still names: a holder
    /// or cleaner removes the file as it lets go, and a lock on a file no longer at the path excludes nobody, so it is
    /// taken again on the new one. Null when not waiting and another holds it; when waiting, <paramref name="waiting"/>
    /// is called once first if another holds it.
    /// </summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle? TakeLockFile(string path, FileMode mode, bool wait, Action? waiting = null)
    {
        while (true)
        {
            var h = File.OpenHandle(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            bool locked = Native.LockFile(h, exclusive: true, wait: false);
            if (!locked && wait)
            {
                waiting?.Invoke();
                waiting = null;
                locked = Native.LockFile(h, exclusive: true, wait: true);
            }

            if (locked && Native.TryLStat(path, out var st) && st.Inode == Native.Inode(h))
            {
                return h;
            }

            h.Dispose();
            if (!wait)
            {
                return null;
            }
        }
    }

    /// <summary>Writes <paramref name="data"/> to a temporary file beside <paramref name="path"/> and renames it into place.</summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> data, bool fsync)
    {
        var dir = Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N")[..12] + ".tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                fs.Write(data);
                if (fsync)
                {
                    fs.Flush(flushToDisk: true);
                }
            }

            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Deletes a file, a symlink or a directory tree if it exists.</summary>
    public static void DeleteAny(string path)
    {
        if (!Native.TryLStat(path, out var st))
        {
            return;
        }

        if ((st.Mode & 0xF000) == 0x4000)
        {
            MakeWritable(path);
            Directory.Delete(path, recursive: true);
        }
        else
        {
            File.Delete(path);
        }
    }

    private static void MakeWritable(string dir)
    {
        // Read-only directories (0555) cannot be emptied; grant write first.
        foreach (var d in Directory.EnumerateDirectories(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true }).Prepend(dir))
        {
            if (Native.TryLStat(d, out var st) && (st.Mode & 0x80) == 0)
            {
                Native.Chmod(d, st.Mode | 0x1C0);
            }
        }
    }
}
