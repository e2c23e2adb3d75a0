// The few POSIX calls .NET does not expose: statx, xattrs, lchown, link, flock, syncfs, utimensat.
using System.Runtime.InteropServices;
using System.Text;

namespace OstreeSharp.Internal;

/// <summary>
/// A filesystem's sizes as statvfs reports them: the block size, the fragment size (the unit of the counts), the blocks
/// in all, free, and free to an unprivileged user, and the mount flags.
/// </summary>
internal readonly record struct FileSystemStatus(ulong BlockSize, ulong FragmentSize, ulong Blocks, ulong FreeBlocks, ulong AvailableBlocks, ulong Flags);

/// <summary>File status as statx reports it (without following symlinks).</summary>
internal readonly record struct FileStatus(uint Mode, uint Uid, uint Gid, ulong Size, ulong Inode, ulong Device, uint NLink, long MtimeSeconds, uint RdevMajor, uint RdevMinor)
{
    /// <summary>Access time, seconds.</summary>
    public long AtimeSeconds { get; init; }

    /// <summary>Access time, nanoseconds part.</summary>
    public uint AtimeNanos { get; init; }

    /// <summary>Modification time, nanoseconds part.</summary>
    public uint MtimeNanos { get; init; }

    /// <summary>File type bits.</summary>
    public uint Type => Mode & 0xF000;
}

/// <summary>P/Invoke wrappers; every failure raises <see cref="IOException"/> naming the path.</summary>
internal static unsafe partial class Native
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int EINTR = 4;
    private const int ENODATA = 61;
    private const int EOPNOTSUPP = 95;
    private const int ERANGE = 34;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, byte* buf);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint llistxattr(string path, byte* list, nint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint lgetxattr(string path, byte* name, byte* value, nint size);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint fgetxattr(int fd, byte* name, byte* value, nint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lsetxattr(string path, byte* name, byte* value, nint size, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint owner, uint group);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldpath, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int symlink(string target, string linkpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int utimensat(int dirfd, string path, long* times, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, FileLockRecord* record);

    /// <summary>struct flock (LP64 Linux: x86_64, aarch64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct FileLockRecord
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int syncfs(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchown(int fd, uint uid, uint gid);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsetxattr(int fd, byte* name, byte* value, nint size, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int futimens(int fd, long* times);


    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, int* arg);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint realpath(string path, nint resolved);

    [LibraryImport("libc")]
    private static partial void free(nint ptr);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string? source, string target, string? fstype, nuint flags, nint data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statvfs(string path, byte* buf);

    [LibraryImport("libc")]
    private static partial uint getegid();

    /// <summary>The effective uid.</summary>
    public static uint EffectiveUid => geteuid();

    /// <summary>The effective gid.</summary>
    public static uint EffectiveGid => getegid();

    /// <summary>lstat through statx.</summary>
    public static FileStatus LStat(string path)
    {
        if (!TryLStat(path, out var st))
        {
            throw Error("statx", path);
        }

        return st;
    }

    /// <summary>The device and inode of the file a path leads to (symlinks followed); null when it does not exist.</summary>
    public static (ulong Device, ulong Inode)? FileIdentity(string path) =>
        RealPath(path) is { } real && TryLStat(real, out var st) ? (st.Device, st.Inode) : null;

    /// <summary>lstat through statx; false when the path does not exist.</summary>
    public static bool TryLStat(string path, out FileStatus status)
    {
        byte* buf = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, 0x7ff, buf) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is 2 or 20)
            {
                status = default;
                return false;
            }

            throw Error("statx", path, errno);
        }

        status = new FileStatus(
            Mode: *(ushort*)(buf + 28),
            Uid: *(uint*)(buf + 20),
            Gid: *(uint*)(buf + 24),
            Size: *(ulong*)(buf + 40),
            Inode: *(ulong*)(buf + 32),
            Device: ((ulong)*(uint*)(buf + 136) << 32) | *(uint*)(buf + 140),
            NLink: *(uint*)(buf + 16),
            MtimeSeconds: *(long*)(buf + 112),
            RdevMajor: *(uint*)(buf + 128),
            RdevMinor: *(uint*)(buf + 132))
        {
            AtimeSeconds = *(long*)(buf + 64),
            AtimeNanos = *(uint*)(buf + 72),
            MtimeNanos = *(uint*)(buf + 120),
        };
        return true;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint copy_file_range(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    /// <summary>
    /// Copies the first <paramref name="length"/> bytes of <paramref name="input"/> to the start of
    /// <paramref name="output"/> inside the kernel (copy_file_range: a reflink where the filesystem shares extents),
    /// as libostree copies file objects; no buffer passes through this process. Returns false, having written
    /// nothing, where the kernel cannot (another filesystem on an older kernel, a filesystem without support).
    /// </summary>
    /// <exception cref="IOException">The copy failed part way, or the input is shorter than <paramref name="length"/>.</exception>
    public static bool TryCopyFileRange(SafeHandle input, SafeHandle output, long length)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        bool inAdded = false, outAdded = false;
        input.DangerousAddRef(ref inAdded);
        output.DangerousAddRef(ref outAdded);
        try
        {
            long inOff = 0, outOff = 0;
            int fdIn = (int)input.DangerousGetHandle(), fdOut = (int)output.DangerousGetHandle();
            while (inOff < length)
            {
                var n = copy_file_range(fdIn, &inOff, fdOut, &outOff, (nuint)Math.Min(length - inOff, 1L << 30), 0);
                if (n > 0)
                {
                    continue;
                }

                if (n == 0)
                {
                    throw new IOException($"copy_file_range: the input ended after {inOff} of {length} bytes");
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }

                // EXDEV (18), EINVAL (22), ENOSYS (38), EOPNOTSUPP (95), EPERM (1; some FUSE and overlay mounts).
                if (inOff == 0 && errno is 18 or 22 or 38 or EOPNOTSUPP or 1)
                {
                    return false;
                }

                throw new IOException($"copy_file_range: errno {errno} after {inOff} of {length} bytes");
            }

            return true;
        }
        finally
        {
            if (outAdded)
            {
                output.DangerousRelease();
            }

            if (inAdded)
            {
                input.DangerousRelease();
            }
        }
    }

    /// <summary>The inode number of an open file (fstat through statx).</summary>
    public static ulong Inode(SafeHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        const int AtEmptyPath = 0x1000;
        byte* buf = stackalloc byte[256];
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (statx((int)handle.DangerousGetHandle(), string.Empty, AtEmptyPath, 0x100, buf) != 0)
            {
                throw Error("fstat", "(open file)");
            }

            return *(ulong*)(buf + 32);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>All xattrs of a path (not following symlinks), with empty values skipped as ostree does.</summary>
    public static List<(string Name, byte[] Value)> ListXattrs(string path)
    {
        var result = new List<(string, byte[])>();
        nint size = llistxattr(path, null, 0);
        if (size < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EOPNOTSUPP)
            {
                return result;
            }

            throw Error("llistxattr", path, errno);
        }

        if (size == 0)
        {
            return result;
        }

        var names = new byte[size + 256];
        fixed (byte* p = names)
        {
            size = llistxattr(path, p, names.Length);
            if (size < 0)
            {
                throw Error("llistxattr", path);
            }
        }

        int start = 0;
        for (int k = 0; k < size; k++)
        {
            if (names[k] != 0)
            {
                continue;
            }

            if (k > start)
            {
                var name = Encoding.UTF8.GetString(names, start, k - start);
                var value = GetXattr(path, name);
                if (value is { Length: > 0 })
                {
                    result.Add((name, value));
                }
            }

            start = k + 1;
        }

        return result;
    }

    /// <summary>One xattr's value, or null when it is absent.</summary>
    public static byte[]? GetXattr(string path, string name) => GetXattr(name, path, "lgetxattr", (n, v, size) => lgetxattr(path, n, v, size));

    /// <summary>One xattr's value of the open file <paramref name="file"/> (<paramref name="path"/> names it in errors), or null when it is absent.</summary>
    public static byte[]? GetXattr(Microsoft.Win32.SafeHandles.SafeFileHandle file, string path, string name)
    {
        bool added = false;
        file.DangerousAddRef(ref added);
        try
        {
            int fd = (int)file.DangerousGetHandle();
            return GetXattr(name, path, "fgetxattr", (n, v, size) => fgetxattr(fd, n, v, size));
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    private delegate nint XattrGetter(byte* name, byte* value, nint size);

    private static byte[]? GetXattr(string name, string path, string op, XattrGetter get)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* n = nameBytes)
        {
            byte* small = stackalloc byte[512];
            nint got0 = get(n, small, 512);
            if (got0 >= 0)
            {
                return new ReadOnlySpan<byte>(small, (int)got0).ToArray();
            }

            int errno0 = Marshal.GetLastPInvokeError();
            if (errno0 is ENODATA or EOPNOTSUPP)
            {
                return null;
            }

            if (errno0 != ERANGE)
            {
                throw Error(op + " " + name, path, errno0);
            }

            while (true)
            {
                nint size = get(n, null, 0);
                if (size < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno is ENODATA or EOPNOTSUPP)
                    {
                        return null;
                    }

                    throw Error(op + " " + name, path, errno);
                }

                var value = new byte[size];
                fixed (byte* v = value)
                {
                    nint got = get(n, v, value.Length);
                    if (got < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == ERANGE)
                        {
                            continue;
                        }

                        throw Error(op + " " + name, path);
                    }

                    return got == value.Length ? value : value[..(int)got];
                }
            }
        }
    }

    /// <summary>Sets an xattr without following symlinks.</summary>
    public static void SetXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* n = nameBytes)
        fixed (byte* v = value)
        {
            if (lsetxattr(path, n, v, value.Length, 0) != 0)
            {
                throw Error("lsetxattr " + name, path);
            }
        }
    }

    /// <summary>Changes owner without following symlinks.</summary>
    public static void LChown(string path, uint uid, uint gid)
    {
        if (lchown(path, uid, gid) != 0)
        {
            throw Error("lchown", path);
        }
    }

    /// <summary>chmod with the exact mode bits (setuid, setgid and sticky included).</summary>
    public static void Chmod(string path, uint mode)
    {
        if (chmod(path, mode & 0xFFF) != 0)
        {
            throw Error("chmod", path);
        }
    }

    /// <summary>
    /// The metadata of a file just written, set through its open descriptor (no path walks): owner (when
    /// <paramref name="uid"/> is not null), mode, xattrs and atime = mtime = <paramref name="seconds"/>.
    /// <paramref name="path"/> only names the file in errors.
    /// </summary>
    public static void SetFileMeta(SafeHandle handle, string path, uint? uid, uint gid, uint mode, IEnumerable<(string Name, byte[] Value)> xattrs, long seconds)
    {
        bool added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            int fd = (int)handle.DangerousGetHandle();
            if (uid is { } u && fchown(fd, u, gid) != 0)
            {
                throw Error("fchown", path);
            }

            if (fchmod(fd, mode & 0xFFF) != 0)
            {
                throw Error("fchmod", path);
            }

            foreach (var (name, value) in xattrs)
            {
                var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
                fixed (byte* n = nameBytes)
                fixed (byte* v = value)
                {
                    if (fsetxattr(fd, n, v, value.Length, 0) != 0)
                    {
                        throw Error("fsetxattr " + name, path);
                    }
                }
            }

            long* ts = stackalloc long[4];
            ts[0] = ts[2] = seconds;
            ts[1] = ts[3] = 0;
            if (futimens(fd, ts) != 0)
            {
                throw Error("futimens", path);
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Creates a hard link; false if <paramref name="newPath"/> exists already.</summary>
    public static bool TryLink(string oldPath, string newPath)
    {
        if (link(oldPath, newPath) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 17)
            {
                return false;
            }

            throw Error("link to " + oldPath, newPath, errno);
        }

        return true;
    }

    /// <summary>Returns errno of a failed link, or 0.</summary>
    public static int LinkErrno(string oldPath, string newPath) =>
        link(oldPath, newPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>rename(2), returning errno of a failure, or 0.</summary>
    public static int RenameErrno(string oldPath, string newPath) =>
        rename(oldPath, newPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>rename(2): atomically replaces <paramref name="newPath"/>.</summary>
    public static void Rename(string oldPath, string newPath)
    {
        if (rename(oldPath, newPath) != 0)
        {
            throw Error("rename to " + newPath, oldPath);
        }
    }

    /// <summary>
    /// rename(2) that never replaces: false when <paramref name="newPath"/> exists already (the source stays). On a
    /// filesystem without <c>RENAME_NOREPLACE</c> it falls back to link and unlink, which are just as exclusive.
    /// </summary>
    public static bool RenameNoReplace(string oldPath, string newPath)
    {
        const uint RenameNoReplaceFlag = 1;
        if (renameat2(AtFdCwd, oldPath, AtFdCwd, newPath, RenameNoReplaceFlag) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == 17)
        {
            return false;
        }

        if (errno is not (22 or 38 or EOPNOTSUPP))
        {
            throw Error("rename to " + newPath, oldPath, errno);
        }

        if (!TryLink(oldPath, newPath))
        {
            return false;
        }

        File.Delete(oldPath);
        return true;
    }

    /// <summary>Creates a new file for writing (mode 0644 before umask); an error when the path exists already.</summary>
    public static Microsoft.Win32.SafeHandles.SafeFileHandle CreateExclusive(string path)
    {
        const int OWrOnly = 1, OCreat = 0x40, OExcl = 0x80, OCloexec = 0x80000;
        int fd = open(path, OWrOnly | OCreat | OExcl | OCloexec, 0x1A4);
        return fd < 0 ? throw Error("open", path) : new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>mkdir(2); returns 0 or the errno (17 when it exists).</summary>
    public static int Mkdir(string path, uint mode) => mkdir(path, mode) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>symlink(2); returns 0 or the errno.</summary>
    public static int SymlinkErrno(string target, string linkPath) => symlink(target, linkPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Creates a symlink with an arbitrary target.</summary>
    public static void Symlink(string target, string linkPath)
    {
        if (symlink(target, linkPath) != 0)
        {
            throw Error("symlink", linkPath);
        }
    }

    /// <summary>Sets atime and mtime (seconds) without following symlinks.</summary>
    public static void SetTimes(string path, long seconds) => SetTimes(path, seconds, 0, seconds, 0);

    /// <summary>Sets atime and mtime with nanoseconds, without following symlinks.</summary>
    public static void SetTimes(string path, long atimeSeconds, uint atimeNanos, long mtimeSeconds, uint mtimeNanos)
    {
        long* ts = stackalloc long[4];
        ts[0] = atimeSeconds;
        ts[1] = atimeNanos;
        ts[2] = mtimeSeconds;
        ts[3] = mtimeNanos;
        if (utimensat(AtFdCwd, path, ts, AtSymlinkNoFollow) != 0)
        {
            throw Error("utimensat", path);
        }
    }

    /// <summary>Sets the mtime (seconds) and leaves the atime as it is, without following symlinks.</summary>
    public static void SetMtime(string path, long seconds)
    {
        const long UtimeOmit = (1L << 30) - 2;
        long* ts = stackalloc long[4];
        ts[0] = 0;
        ts[1] = UtimeOmit;
        ts[2] = seconds;
        ts[3] = 0;
        if (utimensat(AtFdCwd, path, ts, AtSymlinkNoFollow) != 0)
        {
            throw Error("utimensat", path);
        }
    }

    /// <summary>Sets atime and mtime to now (<c>utimensat(NULL)</c>), following symlinks.</summary>
    public static void Touch(string path)
    {
        if (utimensat(AtFdCwd, path, null, 0) != 0)
        {
            throw Error("utimensat", path);
        }
    }

    /// <summary>realpath(3): every symlink and <c>..</c> resolved; null when the path does not exist.</summary>
    public static string? RealPath(string path)
    {
        var p = realpath(path, 0);
        if (p == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(p);
        }
        finally
        {
            free(p);
        }
    }

    /// <summary>Creates a character device node.</summary>
    public static void MakeCharDevice(string path, uint permissions, uint major, uint minor)
    {
        ulong dev = ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) | ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
        if (mknod(path, 0x2000 | (permissions & 0xFFF), dev) != 0)
        {
            throw Error("mknod", path);
        }
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int param, int value);

    /// <summary>
    /// Has malloc give each block of 128 KiB or more a mapping of its own, handed back to the kernel when freed
    /// (M_MMAP_THRESHOLD, which glibc otherwise raises as such blocks are freed, up to 32 MiB). Native code that
    /// allocates and frees large state per piece of work (zlib's deflate state, 300 KiB or so, per gzip block) then
    /// costs its live blocks, not what each worker thread's arena kept. A no-op where the C library has no mallopt, and
    /// where the environment sets the threshold (<c>MALLOC_MMAP_THRESHOLD_</c>, or <c>GLIBC_TUNABLES</c> with
    /// <c>glibc.malloc.mmap_threshold</c>).
    /// </summary>
    public static void ReturnLargeAllocations()
    {
        const int M_MMAP_THRESHOLD = -3;
        if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is not null
            || Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is { } t && t.Contains("mmap_threshold", StringComparison.Ordinal))
        {
            return;
        }

        try
        {
            mallopt(M_MMAP_THRESHOLD, 128 << 10);
        }
        catch (EntryPointNotFoundException)
        {
        }
    }

    [LibraryImport("libc")]
    private static partial int posix_fadvise(int fd, long offset, long length, int advice);

    /// <summary>
    /// Asks the kernel to start reading the first <paramref name="length"/> bytes of a file into the page cache
    /// (posix_fadvise POSIX_FADV_WILLNEED) without waiting for them; opening the file also brings its inode in.
    /// Only a hint: returns false, having done nothing, when the file cannot be opened (missing, a symlink, no access).
    /// </summary>
    public static bool AdviseWillNeed(string path, long length)
    {
        const int O_RDONLY = 0, O_CLOEXEC = 0x80000, O_NOFOLLOW = 0x20000, POSIX_FADV_WILLNEED = 3;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
        if (fd < 0)
        {
            return false;
        }

        posix_fadvise(fd, 0, length, POSIX_FADV_WILLNEED);
        close(fd);
        return true;
    }

    /// <summary>fsync(2) of a file or directory by path.</summary>
    public static void FsyncPath(string path)
    {
        const int O_RDONLY = 0, O_CLOEXEC = 0x80000;
        int fd = open(path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw Error("fsync", path);
            }
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// Enables fs-verity (SHA-256, 4096-byte blocks, no salt, no signature) on a regular file, which
    /// must have no writer open. Returns false when the filesystem does not support it (ENOTTY,
    /// EOPNOTSUPP); a file that has it already counts as done when <paramref name="allowExisting"/>.
    /// </summary>
    public static bool EnableVerity(string path, bool allowExisting)
    {
        const int O_RDONLY = 0, O_CLOEXEC = 0x80000, O_NOFOLLOW = 0x20000;
        const nuint FS_IOC_ENABLE_VERITY = 0x40806685;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            // struct fsverity_enable_arg: version, hash_algorithm, block_size, salt_size, salt_ptr,
            // sig_size, reserved, sig_ptr, 11 reserved u64: 128 bytes.
            var arg = stackalloc byte[128];
            new Span<byte>(arg, 128).Clear();
            ((uint*)arg)[0] = 1;
            ((uint*)arg)[1] = 1;
            ((uint*)arg)[2] = 4096;
            if (ioctl(fd, FS_IOC_ENABLE_VERITY, (int*)arg) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                25 or 95 => false, // ENOTTY, EOPNOTSUPP
                17 when allowExisting => true, // EEXIST
                _ => throw Error("ioctl(FS_IOC_ENABLE_VERITY)", path, errno),
            };
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// The fs-verity digest the kernel keeps for a file (FS_IOC_MEASURE_VERITY), or null when the
    /// file has no fs-verity or the filesystem has none, or it uses another hash than SHA-256.
    /// </summary>
    public static byte[]? MeasureVerity(string path)
    {
        const int O_RDONLY = 0, O_CLOEXEC = 0x80000, O_NOFOLLOW = 0x20000;
        const nuint FS_IOC_MEASURE_VERITY = 0xC0046686;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            // struct fsverity_digest: u16 algorithm, u16 size (in: room), then the digest.
            var buf = stackalloc byte[4 + 64];
            ((ushort*)buf)[0] = 0;
            ((ushort*)buf)[1] = 64;
            if (ioctl(fd, FS_IOC_MEASURE_VERITY, (int*)buf) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno is 61 or 25 or 95 ? null : throw Error("ioctl(FS_IOC_MEASURE_VERITY)", path, errno); // ENODATA, ENOTTY, EOPNOTSUPP
            }

            return ((ushort*)buf)[0] == 1 && ((ushort*)buf)[1] == 32 ? new Span<byte>(buf + 4, 32).ToArray() : null;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>
    /// Sets or clears the ext2 immutable flag (<c>chattr +i</c>) of a directory; false when the filesystem or
    /// the caller's privileges do not allow it (EPERM, EOPNOTSUPP, ENOTTY, EINVAL), as libostree tolerates.
    /// </summary>
    public static bool SetImmutable(string path, bool immutable)
    {
        const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000, O_NOFOLLOW = 0x20000;
        const nuint FS_IOC_GETFLAGS = 0x80086601, FS_IOC_SETFLAGS = 0x40086602;
        const int FS_IMMUTABLE_FL = 0x10;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            int flags = 0;
            if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0)
            {
                return Tolerated(Marshal.GetLastPInvokeError(), path);
            }

            int wanted = immutable ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
            if (wanted != flags && ioctl(fd, FS_IOC_SETFLAGS, &wanted) != 0)
            {
                return Tolerated(Marshal.GetLastPInvokeError(), path);
            }

            return true;
        }
        finally
        {
            close(fd);
        }

        static bool Tolerated(int errno, string path) =>
            errno is 1 or 95 or 25 or 22 ? false : throw Error("ioctl(FS_IOC_SETFLAGS)", path, errno);
    }

    /// <summary>
    /// Locks a whole file as libostree (libglnx) locks its repository, staging and sysroot lock files: an open file
    /// description lock (fcntl F_OFD_SETLK, or F_OFD_SETLKW to wait), which conflicts with other processes' OFD and
    /// POSIX record locks on the file but not with flock; flock where the kernel has no OFD locks (EINVAL), as libostree
    /// falls back. False when not waiting and another holds a conflicting lock.
    /// </summary>
    public static bool LockFile(SafeHandle fd, bool exclusive, bool wait)
    {
        const int F_OFD_SETLK = 37, F_OFD_SETLKW = 38, F_RDLCK = 0, F_WRLCK = 1, EINTR = 4, EAGAIN = 11, EACCES = 13, EINVAL = 22;
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            var record = new FileLockRecord { Type = exclusive ? (short)F_WRLCK : (short)F_RDLCK };
            while (true)
            {
                if (fcntl((int)fd.DangerousGetHandle(), wait ? F_OFD_SETLKW : F_OFD_SETLK, &record) == 0)
                {
                    return true;
                }

                int errno = Marshal.GetLastPInvokeError();
                switch (errno)
                {
                    case EINTR:
                        continue;
                    case EAGAIN or EACCES when !wait:
                        return false;
                    case EINVAL:
                        return Flock(fd, exclusive, wait);
                    default:
                        throw new IOException($"fcntl(F_OFD_SETLK) failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>flock on a file descriptor; false when non-blocking and it would block.</summary>
    public static bool Flock(SafeHandle fd, bool exclusive, bool wait)
    {
        const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
        int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
        bool added = false;
        fd.DangerousAddRef(ref added);
        try
        {
            if (flock((int)fd.DangerousGetHandle(), op) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 11 && !wait)
                {
                    return false;
                }

                throw new IOException($"flock failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }

            return true;
        }
        finally
        {
            if (added)
            {
                fd.DangerousRelease();
            }
        }
    }

    /// <summary>Flushes the filesystem holding <paramref name="path"/>.</summary>
    public static void SyncFs(string path)
    {
        if (Directory.Exists(path))
        {
            const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
            int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
            if (fd < 0)
            {
                throw Error("open", path);
            }

            int rc = syncfs(fd);
            var failure = rc != 0 ? Error("syncfs", path) : null;
            close(fd);
            if (failure is not null)
            {
                throw failure;
            }

            return;
        }

        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        bool added = false;
        h.DangerousAddRef(ref added);
        try
        {
            if (syncfs((int)h.DangerousGetHandle()) != 0)
            {
                throw Error("syncfs", path);
            }
        }
        finally
        {
            if (added)
            {
                h.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Freezes and at once thaws the filesystem holding the directory <paramref name="path"/> (FIFREEZE, FITHAW), as
    /// libostree does at the end of a boot swap: the freeze writes the journal back into place, so a boot loader
    /// that reads the filesystem without replaying its journal sees what was written. False when the filesystem
    /// cannot be frozen (EOPNOTSUPP, EINVAL: not a freezable filesystem; EPERM).
    /// </summary>
    public static bool FreezeThaw(string path)
    {
        const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;
        const nuint FIFREEZE = 0xC0045877, FITHAW = 0xC0045878;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Error("open", path);
        }

        try
        {
            int zero = 0;
            if (ioctl(fd, FIFREEZE, &zero) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                return errno is EOPNOTSUPP or 22 or 1 or 25 ? false : throw Error("ioctl(FIFREEZE)", path, errno);
            }

            if (ioctl(fd, FITHAW, &zero) != 0)
            {
                throw Error("ioctl(FITHAW)", path);
            }

            return true;
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>True when the mount holding <paramref name="path"/> is read-only (statvfs ST_RDONLY).</summary>
    public static bool IsReadOnlyMount(string path) => (StatVfs(path).Flags & 1) != 0;

    /// <summary>The sizes statvfs(3) gives for the filesystem holding <paramref name="path"/>.</summary>
    public static FileSystemStatus StatVfs(string path)
    {
        // struct statvfs on x86_64 and aarch64 glibc: f_bsize, f_frsize, f_blocks, f_bfree, f_bavail at offsets 0 to
        // 32, f_flag at 72, each 8 bytes.
        byte* buf = stackalloc byte[128];
        if (statvfs(path, buf) != 0)
        {
            throw Error("statvfs", path);
        }

        var f = (ulong*)buf;
        return new FileSystemStatus(f[0], f[1], f[2], f[3], f[4], f[9]);
    }

    /// <summary>
    /// Makes the mount at <paramref name="path"/> writable in this mount namespace: with <paramref name="bind"/> only
    /// the mount's own flag (its filesystem is writable elsewhere), else the filesystem too (remount without MS_RDONLY).
    /// </summary>
    public static void RemountWritable(string path, bool bind)
    {
        const nuint MS_REMOUNT = 32, MS_BIND = 4096, MS_SILENT = 32768;
        if (mount(path, path, null, MS_REMOUNT | (bind ? MS_BIND : 0) | MS_SILENT, 0) != 0)
        {
            throw Error("mount -o remount,rw", path);
        }
    }

    /// <summary>Mounts an overlay filesystem with <paramref name="options"/> (lowerdir, upperdir, workdir) on <paramref name="target"/>.</summary>
    public static void MountOverlay(string target, string options, bool readOnly)
    {
        const nuint MS_RDONLY = 1;
        var data = Marshal.StringToCoTaskMemUTF8(options);
        try
        {
            if (mount("overlay", target, "overlay", readOnly ? MS_RDONLY : 0, data) != 0)
            {
                throw Error("mount -t overlay -o " + options, target);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(data);
        }
    }

    private static IOException Error(string op, string path, int? errno = null)
    {
        int e = errno ?? Marshal.GetLastPInvokeError();
        return new IOException($"{op} {path}: {Marshal.GetPInvokeErrorMessage(e)}", e);
    }
}
