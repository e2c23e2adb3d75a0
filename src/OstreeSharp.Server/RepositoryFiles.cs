// What a request path of the served repository maps to on disk, checked to stay inside it.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Server;

/// <summary>Maps repository-relative request paths to files (converting bare content objects to archive ones).</summary>
internal sealed class RepositoryFiles(OstreeRepo repo, string cacheDirectory) : IDisposable
{
    private readonly string _root = Native.RealPath(repo.Path) ?? repo.Path;
    private readonly bool _isArchive = repo.Mode == RepoMode.Archive;
    private readonly object _convertLock = new();

    /// <summary>The file for <paramref name="rel"/> and its content type, or null (404).</summary>
    public (string Path, string ContentType)? Resolve(string rel)
    {
        if (rel.Length == 0 || rel.Contains('\0') || rel.StartsWith('/'))
        {
            return null;
        }

        var parts = rel.Split('/');
        if (parts.Any(p => p is "" or "." or ".."))
        {
            return null;
        }

        if (!_isArchive)
        {
            if (rel == "config")
            {
                return (ArchiveConfig(), "text/plain; charset=utf-8");
            }

            if (parts.Length == 3 && parts[0] == "objects" && parts[2].EndsWith(".filez", StringComparison.Ordinal))
            {
                return ConvertedObject(parts[1] + parts[2][..^".filez".Length]) is { } converted ? (converted, "application/octet-stream") : null;
            }

            if (parts[0] == "objects" && parts[^1].EndsWith(".file", StringComparison.Ordinal))
            {
                return null; // bare objects are not part of an archive repository
            }
        }

        var full = Path.Combine(_root, rel);
        var real = Native.RealPath(full);
        if (real is null || !real.StartsWith(_root + "/", StringComparison.Ordinal) || !File.Exists(real))
        {
            return null; // missing, a folder, or a symlink that leads out of the repository
        }

        return (real, rel == "config" ? "text/plain; charset=utf-8" : "application/octet-stream");
    }

    private string ArchiveConfig()
    {
        var path = Path.Combine(cacheDirectory, "config");
        lock (_convertLock)
        {
            if (!File.Exists(path))
            {
                var text = $"[core]\nrepo_version=1\nmode=archive-z2\n";
                if (repo.CollectionId is { } id)
                {
                    text += $"collection-id={id}\n";
                }

                FileUtil.WriteAtomic(path, Encoding.UTF8.GetBytes(text), fsync: false);
            }
        }

        return path;
    }

    /// <summary>The <c>.filez</c> form of a bare content object, written once into the cache.</summary>
    private string? ConvertedObject(string hex)
    {
        if (!Checksum.TryParse(hex, out var checksum) || checksum.ToHex() != hex || !repo.HasObject(checksum, ObjectType.File))
        {
            return null;
        }

        var dest = Path.Combine(cacheDirectory, "objects", hex[..2], hex[2..] + ".filez");
        if (File.Exists(dest))
        {
            return dest;
        }

        var obj = repo.LoadContent(checksum);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        var tmp = dest + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            var header = obj.Header.ToArchiveHeaderBytes((ulong)obj.Size);
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(prefix, (uint)header.Length);
            prefix[4..].Clear();
            fs.Write(prefix);
            fs.Write(header);
            if (!obj.Header.IsSymlink)
            {
                if (obj.Size == 0)
                {
                    fs.Write([0x03, 0x00]);
                }
                else
                {
                    using var z = new DeflateStream(fs, CompressionLevel.Fastest, leaveOpen: true);
                    using var data = obj.OpenData();
                    data.CopyTo(z);
                }
            }
        }

        File.Move(tmp, dest, overwrite: true);
        return dest;
    }

    /// <summary>The page at <c>/</c>: every ref with its latest commit's subject, version and date.</summary>
    public string Page()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ostree repository</title>")
          .Append("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:left}code{font-size:.9em}</style>")
          .Append("</head><body>\n<h1>ostree repository</h1>\n<p>Mode <code>").Append(WebUtility.HtmlEncode(repo.Mode.ToConfigName()))
          .Append("</code>, served as an archive repository at <a href=\"/repo/\"><code>/repo/</code></a>: <code>ostree remote add NAME http://HOST/repo/</code></p>\n");
        var refs = repo.ListRefs(includeRemotes: false);
        sb.Append("<table id=\"refs\"><thead><tr><th>Ref</th><th>Subject</th><th>Version</th><th>Date</th><th>Commit</th></tr></thead><tbody>\n");
        foreach (var (name, checksum) in refs)
        {
            string subject = string.Empty, version = string.Empty, date = string.Empty;
            try
            {
                var c = repo.LoadCommit(checksum);
                subject = c.Subject;
                version = c.Version ?? string.Empty;
                date = c.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (OstreeException)
            {
                subject = "(commit not in the repository)";
            }

            sb.Append("<tr><td>").Append(WebUtility.HtmlEncode(name)).Append("</td><td>").Append(WebUtility.HtmlEncode(subject))
              .Append("</td><td>").Append(WebUtility.HtmlEncode(version)).Append("</td><td>").Append(date)
              .Append("</td><td><code>").Append(checksum.ToHex()).Append("</code></td></tr>\n");
        }

        sb.Append("</tbody></table>\n");
        if (refs.Count == 0)
        {
            sb.Append("<p>No refs.</p>\n");
        }

        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    public void Dispose() => FileUtil.DeleteAny(cacheDirectory);
}
