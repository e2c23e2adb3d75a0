namespace OstreeSharp.Objects;

/// <summary>POSIX mode bits used in ostree objects.</summary>
public static class UnixMode
{
    /// <summary>File type mask.</summary>
    public const uint TypeMask = 0xF000; // S_IFMT

    /// <summary>Regular file.</summary>
    public const uint Regular = 0x8000;

    /// <summary>Directory.</summary>
    public const uint Directory = 0x4000;

    /// <summary>Symbolic link.</summary>
    public const uint Symlink = 0xA000;

    /// <summary>Character device.</summary>
    public const uint CharDevice = 0x2000;

    /// <summary>Block device.</summary>
    public const uint BlockDevice = 0x6000;

    /// <summary>FIFO.</summary>
    public const uint Fifo = 0x1000;

    /// <summary>Socket.</summary>
    public const uint Socket = 0xC000;

    /// <summary>Permission, setuid, setgid and sticky bits.</summary>
    public const uint PermissionMask = 0xFFF; // 07777

    /// <summary>True if the mode is a regular file.</summary>
    public static bool IsRegular(uint mode) => (mode & TypeMask) == Regular;

    /// <summary>True if the mode is a directory.</summary>
    public static bool IsDirectory(uint mode) => (mode & TypeMask) == Directory;

    /// <summary>True if the mode is a symlink.</summary>
    public static bool IsSymlink(uint mode) => (mode & TypeMask) == Symlink;
}
