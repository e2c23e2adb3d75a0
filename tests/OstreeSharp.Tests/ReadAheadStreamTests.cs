using OstreeSharp.Internal;
using Xunit;

namespace OstreeSharp.Tests;

public class ReadAheadStreamTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData((1 << 20) - 1)]
    [InlineData(1 << 20)]
    [InlineData((5 << 20) + 12345)]
    public void GivesTheInnerBytesInOrder(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        using var s = new ReadAheadStream(new TrickleStream(new MemoryStream(data), 7919), blocks: 2);
        var got = new MemoryStream();
        var buf = new byte[3001];
        int n;
        while ((n = s.Read(buf, 0, buf.Length)) > 0)
        {
            got.Write(buf, 0, n);
        }

        Assert.Equal(data, got.ToArray());
        Assert.Equal(0, s.Read(buf, 0, buf.Length)); // still at the end
    }

    [Fact]
    public void RethrowsTheInnerStreamsFailureToTheReaderAfterTheGoodBytes()
    {
        var data = new byte[(2 << 20) + 10];
        using var s = new ReadAheadStream(new FailingStream(new MemoryStream(data), failAfter: data.Length));
        var buf = new byte[64 * 1024];
        long total = 0;
        var e = Assert.Throws<InvalidDataException>(() =>
        {
            int n;
            while ((n = s.Read(buf, 0, buf.Length)) > 0)
            {
                total += n;
            }
        });
        Assert.Equal("bad block", e.Message);
        Assert.Equal(2L << 20, total); // the whole blocks read before the failure
    }

    [Fact]
    public void DisposingBeforeTheEndStopsTheProducerAndDisposesTheInnerStream()
    {
        var inner = new EndlessStream();
        var s = new ReadAheadStream(inner, blocks: 1);
        var buf = new byte[100];
        Assert.Equal(100, s.Read(buf, 0, buf.Length));
        s.Dispose();
        Assert.True(inner.Disposed);
        long readsAfter = inner.Reads;
        Thread.Sleep(50);
        Assert.Equal(readsAfter, inner.Reads); // nothing reads it any more
        Assert.Throws<ObjectDisposedException>(() => s.Read(buf, 0, 1));
    }

    private sealed class TrickleStream(Stream inner, int most) : ReadOnlyStream
    {
        public override int Read(Span<byte> buffer) => inner.Read(buffer[..Math.Min(most, buffer.Length)]);
    }

    private sealed class FailingStream(Stream inner, long failAfter) : ReadOnlyStream
    {
        private long _read;

        public override int Read(Span<byte> buffer)
        {
            int n = inner.Read(buffer);
            _read += n;
            return _read >= failAfter ? throw new InvalidDataException("bad block") : n;
        }
    }

    private sealed class EndlessStream : ReadOnlyStream
    {
        public bool Disposed { get; private set; }

        public long Reads => Interlocked.Read(ref _reads);

        private long _reads;

        public override int Read(Span<byte> buffer)
        {
            ObjectDisposedException.ThrowIf(Disposed, this);
            Interlocked.Increment(ref _reads);
            buffer.Fill(1);
            return buffer.Length;
        }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
