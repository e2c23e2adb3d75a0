using System.Security.Cryptography;
using OstreeSharp.Internal;

namespace OstreeSharp.Containers.Oci;

/// <summary>
/// Reads a blob through, hashing as it goes, and fails at the end (or as soon as it runs long) when
/// the bytes do not match the descriptor's size and digest. Nothing read from it is trustworthy
/// until it has returned 0.
/// </summary>
internal sealed class VerifyingStream : ReadOnlyStream
{
    private readonly Stream _inner;
    private readonly Digest _digest;
    private readonly long _size;
    private readonly string _what;
    private readonly IncrementalHash _hash;
    private long _read;
    private bool _verified;

    /// <summary>Wraps <paramref name="inner"/>, which must yield exactly <paramref name="size"/> bytes hashing to <paramref name="digest"/>.</summary>
    public VerifyingStream(Stream inner, Digest digest, long size, string what)
    {
        _inner = inner;
        _digest = digest;
        _size = size;
        _what = what;
        _hash = digest.CreateHasher();
    }

    /// <summary>Bytes read so far.</summary>
    public long BytesRead => _read;

    /// <inheritdoc/>
    public override long Length => _size;

    /// <inheritdoc/>
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer) => Account(buffer, _inner.Read(buffer));

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span, n);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Account(Span<byte> buffer, int n)
    {
        if (n > 0)
        {
            _read += n;
            if (_read > _size)
            {
                throw new DigestMismatchException($"Blob {_digest} of {_what} is longer than its descriptor's {_size} bytes");
            }

            _hash.AppendData(buffer[..n]);
        }
        else if (buffer.Length > 0 && !_verified)
        {
            if (_read != _size)
            {
                throw new DigestMismatchException($"Blob {_digest} of {_what} ended after {_read} bytes, its descriptor says {_size}");
            }

            var actual = Digest.FromHash(_digest.Algorithm, _hash.GetHashAndReset());
            if (actual != _digest)
            {
                throw new DigestMismatchException($"Blob {_digest} of {_what} has digest {actual}");
            }

            _verified = true;
        }

        return n;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A read-only window onto part of a seekable file.</summary>
internal sealed class FileWindowStream : ReadOnlyStream
{
    private readonly FileStream _file;
    private readonly long _end;

    public FileWindowStream(string path, long offset, long length)
    {
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        _file.Position = offset;
        _end = offset + length;
    }

    public override int Read(Span<byte> buffer) => _file.Read(buffer[..Clamp(buffer.Length)]);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _file.ReadAsync(buffer[..Clamp(buffer.Length)], cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Clamp(int want) => (int)Math.Min(want, Math.Max(0, _end - _file.Position));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _file.Dispose();
        }

        base.Dispose(disposing);
    }
}
