using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Transports;

/// <summary>Blob file helpers shared by the layout, archive and <c>dir:</c> transports.</summary>
internal static class LocalBlobs
{
    /// <summary>Copies a blob into <paramref name="finalPath"/> through a temp file, hashing while writing; renames only when it matches.</summary>
    public static async Task WriteAsync(string finalPath, Descriptor blob, BlobOpener open, IProgress<long>? progress, string what, CancellationToken ct)
    {
        var digest = blob.GetDigest();
        var dir = Path.GetDirectoryName(finalPath)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, ".tmp-" + Path.GetFileName(finalPath) + "-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            using var hash = digest.CreateHasher();
            long total = 0;
            bool selfHash = true;
            await using (var src = await open(0, ct).ConfigureAwait(false))
            await using (var dst = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                // A verifying source checks the digest itself when it reaches its end; hash only once.
                selfHash = src is not VerifyingStream;
                var buf = new byte[1 << 20];
                int n;
                while ((n = await src.ReadAsync(buf, ct).ConfigureAwait(false)) > 0)
                {
                    total += n;
                    if (total > blob.Size)
                    {
                        throw new DigestMismatchException($"Blob {digest} for {what} is longer than its descriptor's {blob.Size} bytes");
                    }

                    if (selfHash)
                    {
                        hash.AppendData(buf, 0, n);
                    }

                    await dst.WriteAsync(buf.AsMemory(0, n), ct).ConfigureAwait(false);
                    progress?.Report(total);
                }
            }

            if (total != blob.Size)
            {
                throw new DigestMismatchException($"Blob {digest} for {what} has {total} bytes, its descriptor says {blob.Size}");
            }

            var actual = selfHash ? Digest.FromHash(digest.Algorithm, hash.GetHashAndReset()) : digest;
            if (actual != digest)
            {
                throw new DigestMismatchException($"Blob {digest} for {what} has digest {actual}");
            }

            File.Move(tmp, finalPath, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    /// <summary>Opens a stored blob: verified from offset 0, raw from later offsets.</summary>
    public static Stream Open(string path, Descriptor blob, long offset, string what)
    {
        if (!File.Exists(path))
        {
            throw new ContainerException(OstreeErrorCode.BlobNotFound, $"Blob {blob.Digest} not found in {what}");
        }

        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        if (offset == 0)
        {
            return new VerifyingStream(fs, blob.GetDigest(), blob.Size, what);
        }

        fs.Position = offset;
        return fs;
    }

    /// <summary>Reads a manifest file, bounded by <see cref="ManifestBlob.MaxSize"/>.</summary>
    public static byte[] ReadManifestFile(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new ContainerException(OstreeErrorCode.ImageNotFound, $"Manifest {Path.GetFileName(path)} not found in {what}");
        }

        var len = new FileInfo(path).Length;
        if (len > ManifestBlob.MaxSize)
        {
            throw new ManifestException($"Manifest of {what} is {len} bytes, over the limit of {ManifestBlob.MaxSize}");
        }

        return File.ReadAllBytes(path);
    }
}
