using OstreeSharp.Internal;

namespace OstreeSharp.Tar;

/// <summary>An archive read one entry at a time (tar or cpio), in the <see cref="TarEntry"/> model.</summary>
internal interface IArchiveReader : IDisposable
{
    /// <summary>The current entry's data; reading past its end returns 0.</summary>
    Stream DataStream { get; }

    /// <summary>Reads the next entry header, skipping any unread data of the previous one; null at the end.</summary>
    /// <exception cref="TarFormatException">The archive is malformed or truncated.</exception>
    TarEntry? GetNextEntry();
}

/// <summary>Picks the reader of an archive from its first bytes, as libarchive does for <c>commit --tree=tar=</c>.</summary>
internal static class ArchiveReaders
{
    /// <summary>A <see cref="CpioReader"/> when <paramref name="stream"/> starts with a cpio header, else a <see cref="TarReader"/>; <paramref name="stream"/> is left open.</summary>
    public static IArchiveReader Open(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var head = new byte[CpioReader.SniffLength];
        int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var whole = new PrefixedStream(head.AsMemory(0, n), stream);
        return CpioReader.IsCpio(head.AsSpan(0, n)) ? new CpioReader(whole, name) : new TarReader(whole, leaveOpen: true);
    }
}
