namespace OstreeSharp.Internal;

/// <summary>Small file helpers: atomic replacement and safe removal.</summary>
internal static class FileUtil
{
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
