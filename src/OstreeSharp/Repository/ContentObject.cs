using OstreeSharp.Objects;

namespace OstreeSharp.Repository;

/// <summary>A content object read from a repository: its header, size and a way to read its data.</summary>
public sealed class ContentObject
{
    private readonly Func<Stream> _open;

    internal ContentObject(Checksum checksum, FileHeader header, long size, Func<Stream> open, string path)
    {
        Checksum = checksum;
        Header = header;
        Size = size;
        _open = open;
        Path = path;
    }

    /// <summary>The object id.</summary>
    public Checksum Checksum { get; }

    /// <summary>Owner, mode, symlink target and xattrs.</summary>
    public FileHeader Header { get; }

    /// <summary>Uncompressed data size (0 for symlinks).</summary>
    public long Size { get; }

    /// <summary>The object's file in the repository.</summary>
    public string Path { get; }

    /// <summary>The mode of the repository whose file <see cref="Path"/> is (a parent repository's may differ).</summary>
    public RepoMode StoredIn { get; internal set; }

    /// <summary>Opens the (uncompressed) data; empty for symlinks.</summary>
    public Stream OpenData() => Header.IsSymlink ? Stream.Null : _open();

    /// <summary>Reads all of the data into memory (delta generation and patching work on whole files).</summary>
    /// <exception cref="OstreeException">The object is 2 GB or larger.</exception>
    public byte[] ReadAllData()
    {
        if (Size > Array.MaxLength)
        {
            throw new OstreeException(OstreeErrorCode.InvalidData, $"Content object {Checksum} ({Size} bytes) is too large to read into memory");
        }

        var buffer = new byte[Size];
        using var s = OpenData();
        s.ReadExactly(buffer);
        return buffer;
    }
}
