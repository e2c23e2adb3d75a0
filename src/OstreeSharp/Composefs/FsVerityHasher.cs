// fs-verity file digest (kernel Documentation/filesystems/fsverity.rst): SHA-256, 4096-byte
// blocks, no salt. This is the digest composefs stores in trusted.overlay.metacopy and the one
// ostree records for a whole .ostree.cfs image.
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace OstreeSharp.Composefs;

/// <summary>
/// Computes an fs-verity digest (SHA-256, 4096-byte Merkle tree blocks, no salt) of data fed to it
/// in pieces, holding only one partial block per tree level.
/// </summary>
internal sealed class FsVerityHasher : IDisposable
{
    /// <summary>The size of the digest, in bytes.</summary>
    public const int DigestSize = 32;

    private const int BlockSize = 4096;
    private const int HashesPerBlock = BlockSize / DigestSize;

    private readonly IncrementalHash sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    // levels[0] collects file data; levels[i > 0] collects the digests of level i-1 blocks.
    private readonly List<byte[]> levels = [];
    private readonly List<int> fill = [];
    private readonly List<long> hashesIn = [];
    private long length;
    private bool finished;

    /// <summary>Creates a hasher.</summary>
    public FsVerityHasher()
    {
        AddLevel();
    }

    /// <summary>Number of bytes appended so far.</summary>
    public long Length => length;

    /// <summary>The fs-verity digest of <paramref name="data"/>.</summary>
    public static byte[] Compute(ReadOnlySpan<byte> data)
    {
        using var h = new FsVerityHasher();
        h.Append(data);
        return h.GetDigest();
    }

    /// <summary>The fs-verity digest of what is left to read in <paramref name="stream"/>.</summary>
    public static byte[] Compute(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var h = new FsVerityHasher();
        var buf = new byte[65536];
        int n;
        while ((n = stream.Read(buf, 0, buf.Length)) > 0)
        {
            h.Append(buf.AsSpan(0, n));
        }

        return h.GetDigest();
    }

    /// <summary>Appends file data.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(finished, this);
        length += data.Length;
        var leaf = levels[0];
        while (!data.IsEmpty)
        {
            int f = fill[0];
            int n = Math.Min(BlockSize - f, data.Length);
            data[..n].CopyTo(leaf.AsSpan(f));
            f += n;
            data = data[n..];
            if (f == BlockSize)
            {
                fill[0] = 0;
                HashBlockInto(0, BlockSize);
            }
            else
            {
                fill[0] = f;
            }
        }
    }

    /// <summary>Finishes the tree and returns the 32-byte digest; the hasher cannot be used afterwards.</summary>
    public byte[] GetDigest()
    {
        ObjectDisposedException.ThrowIf(finished, this);
        finished = true;
        Span<byte> root = stackalloc byte[DigestSize];
        root.Clear();
        if (length > 0)
        {
            if (fill[0] > 0)
            {
                HashBlockInto(0, fill[0]);
                fill[0] = 0;
            }

            // Walk up: the first level that received exactly one digest holds the root.
            for (int level = 1; ; level++)
            {
                if (hashesIn[level] == 1)
                {
                    levels[level].AsSpan(0, DigestSize).CopyTo(root);
                    break;
                }

                if (fill[level] > 0)
                {
                    HashBlockInto(level, fill[level]);
                    fill[level] = 0;
                }
            }
        }

        // struct fsverity_descriptor: version, hash algorithm, log2(block size), salt size,
        // 4 reserved bytes, le64 data size, 64-byte root hash, 32-byte salt, 144 reserved bytes.
        Span<byte> desc = stackalloc byte[256];
        desc.Clear();
        desc[0] = 1;
        desc[1] = 1; // FS_VERITY_HASH_ALG_SHA256
        desc[2] = 12;
        BinaryPrimitives.WriteUInt64LittleEndian(desc[8..], (ulong)length);
        root.CopyTo(desc[16..]);
        var digest = SHA256.HashData(desc);
        sha.Dispose();
        return digest;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        finished = true;
        sha.Dispose();
    }

    private void AddLevel()
    {
        levels.Add(new byte[BlockSize]);
        fill.Add(0);
        hashesIn.Add(0);
    }

    // Hashes the (zero-padded) block held at `level` and appends its digest to level + 1,
    // cascading upwards whenever a level's block fills up.
    private void HashBlockInto(int level, int used)
    {
        Span<byte> digest = stackalloc byte[DigestSize];
        while (true)
        {
            var block = levels[level];
            block.AsSpan(used).Clear();
            sha.AppendData(block);
            sha.GetHashAndReset(digest);
            if (level + 1 == levels.Count)
            {
                AddLevel();
            }

            int up = level + 1;
            digest.CopyTo(levels[up].AsSpan(fill[up]));
            fill[up] += DigestSize;
            hashesIn[up]++;
            if (fill[up] < BlockSize)
            {
                return;
            }

            fill[up] = 0;
            level = up;
            used = BlockSize;
        }
    }
}
