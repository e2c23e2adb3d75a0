namespace OstreeSharp.Internal;

/// <summary>Wraps a read stream and fails if it ends before or after the expected length.</summary>
internal sealed class LengthCheckingStream(Stream inner, long expected, string name) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => expected;

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n;
        try
        {
            n = inner.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw new ObjectCorruptedException(name, "invalid compressed data", e);
        }

        _read += n;
        if (n == 0 && buffer.Length > 0 && _read != expected)
        {
            throw new ObjectCorruptedException(name, $"data is {_read} bytes, header says {expected}");
        }

        if (_read > expected)
        {
            throw new ObjectCorruptedException(name, $"data is longer than the {expected} bytes the header says");
        }

        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
