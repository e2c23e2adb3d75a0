using OstreeSharp.Containers.Oci;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Transports;

/// <summary>Read access to the files of an image layout, whether a directory or a tar archive.</summary>
internal interface ILayoutFiles
{
    bool Exists(string relativePath);

    long Length(string relativePath);

    Stream Open(string relativePath, long offset);
}

/// <summary>Layout files in a directory.</summary>
internal sealed class DirectoryLayoutFiles(string root) : ILayoutFiles
{
    public bool Exists(string relativePath) => File.Exists(Path.Combine(root, relativePath));

    public long Length(string relativePath) => new FileInfo(Path.Combine(root, relativePath)).Length;

    public Stream Open(string relativePath, long offset)
    {
        var fs = new FileStream(Path.Combine(root, relativePath), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        fs.Position = offset;
        return fs;
    }
}

/// <summary>
/// Layout files inside a tar archive: one pass indexes where each member's data lies, then members are
/// read in place (no extraction).
/// </summary>
internal sealed class ArchiveLayoutFiles : ILayoutFiles
{
    private readonly string _archive;
    private readonly Dictionary<string, (long Offset, long Length)> _members = new(StringComparer.Ordinal);

    public ArchiveLayoutFiles(string archive)
    {
        _archive = archive;
        if (!File.Exists(archive))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"Archive {archive} does not exist");
        }

        using var fs = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var reader = new TarReader(fs, leaveOpen: true);
        var links = new List<(string Name, string Target)>();
        try
        {
            while (reader.GetNextEntry() is { } e)
            {
                var name = Normalize(e.Name);
                if (e.IsRegular)
                {
                    _members[name] = (reader.DataOffset, e.Size);
                }
                else if (e.Type == TarType.HardLink)
                {
                    links.Add((name, Normalize(e.LinkName)));
                }
            }
        }
        catch (TarFormatException ex)
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Malformed archive {archive}: {ex.Message}", ex);
        }

        foreach (var (name, target) in links)
        {
            if (_members.TryGetValue(target, out var m))
            {
                _members[name] = m;
            }
        }
    }

    private static string Normalize(string name)
    {
        while (name.StartsWith("./", StringComparison.Ordinal))
        {
            name = name[2..];
        }

        return name.TrimStart('/');
    }

    public bool Exists(string relativePath) => _members.ContainsKey(relativePath);

    public long Length(string relativePath) => _members[relativePath].Length;

    public Stream Open(string relativePath, long offset)
    {
        if (!_members.TryGetValue(relativePath, out var m))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{relativePath} not found in archive {_archive}");
        }

        return new FileWindowStream(_archive, m.Offset + offset, m.Length - offset);
    }

    public IEnumerable<string> Names => _members.Keys;
}

/// <summary>Helpers over <see cref="ILayoutFiles"/>.</summary>
internal static class LayoutFilesExtensions
{
    public static byte[] ReadSmall(this ILayoutFiles files, string path, string what, long limit = ManifestBlob.MaxSize)
    {
        if (!files.Exists(path))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"{path} not found in {what}");
        }

        var len = files.Length(path);
        if (len > limit)
        {
            throw new ManifestException($"{path} of {what} is {len} bytes, over the limit of {limit}");
        }

        using var s = files.Open(path, 0);
        var buf = new byte[len];
        s.ReadExactly(buf);
        return buf;
    }

    public static Stream OpenBlob(this ILayoutFiles files, string path, Descriptor blob, long offset, string what)
    {
        if (!files.Exists(path))
        {
            throw new ContainerException(OstreeErrorCode.BlobNotFound, $"Blob {blob.Digest} not found in {what}");
        }

        var s = files.Open(path, offset);
        return offset == 0 ? new VerifyingStream(s, blob.GetDigest(), blob.Size, what) : s;
    }
}
