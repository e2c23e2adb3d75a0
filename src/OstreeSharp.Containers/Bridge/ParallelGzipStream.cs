// gzip on every core, still ONE gzip member (so readers that stop after the first member, like
// flate2's GzDecoder, see everything): the input is cut into blocks, each block is deflated on its
// own with a sync flush (byte-aligned, not final), the pieces are written in order, then an empty
// final block, the CRC-32 and the size. Blocks do not share a dictionary, which costs well under 1%.
// A block that does not compress (a compressed initramfs, .gz files, ...) is stored as it is, without
// spending deflate's search on it: four samples of it are tried at level 1 first.
using System.Buffers;
using System.IO.Compression;
using System.IO.Hashing;

namespace OstreeSharp.Containers.Bridge;

/// <summary>A write-only gzip stream that compresses blocks in parallel.</summary>
public sealed class ParallelGzipStream : CountingWriteStream
{
    private const int BlockSize = 1 << 20;
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly CompressionLevel _level;
    private readonly int _maxPending;
    // Each block's deflated bytes, in a pooled array (a megabyte per block would otherwise be two fresh large-object
    // allocations, which the GC hands back and the kernel faults in again).
    private readonly Queue<Task<Piece>> _pending = new();
    private readonly Crc32 _crc = new();
    private byte[] _block;
    private int _fill;
    private bool _finished;

    /// <summary>Creates the stream; <paramref name="output"/> receives the gzip bytes.</summary>
    public ParallelGzipStream(Stream output, CompressionLevel level, bool leaveOpen = false, int? parallelism = null)
    {
        _output = output;
        _leaveOpen = leaveOpen;
        _level = level;
        _maxPending = Math.Max(2, (parallelism ?? Environment.ProcessorCount) * 2);
        _block = ArrayPool<byte>.Shared.Rent(BlockSize);
        // Header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
        _output.Write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _crc.Append(buffer);
        Count += buffer.Length;
        while (buffer.Length > 0)
        {
            int n = Math.Min(buffer.Length, BlockSize - _fill);
            buffer[..n].CopyTo(_block.AsSpan(_fill));
            _fill += n;
            buffer = buffer[n..];
            if (_fill == BlockSize)
            {
                Submit();
            }
        }
    }

    private void Submit()
    {
        var block = _block;
        int fill = _fill;
        var level = _level;
        _pending.Enqueue(Task.Run(() =>
        {
            try
            {
                if (fill == BlockSize && Incompressible(block.AsSpan(0, fill)))
                {
                    return Stored(block.AsSpan(0, fill));
                }

                var output = new PooledWriteStream(fill / 2 + 1024);
                var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = ZlibLevel(level) }, leaveOpen: true);
                deflate.Write(block, 0, fill);
                deflate.Flush(); // sync flush: byte-aligned, no final block
                var piece = output.Take();
                deflate.Dispose(); // its final block goes to the stream after we took the bytes
                output.Dispose();
                return piece;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(block);
            }
        }));
        _block = ArrayPool<byte>.Shared.Rent(BlockSize);
        _fill = 0;
        while (_pending.Count >= _maxPending)
        {
            WriteNext();
        }
    }

    private void WriteNext()
    {
        var piece = _pending.Dequeue().GetAwaiter().GetResult();
        try
        {
            _output.Write(piece.Buffer, 0, piece.Length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(piece.Buffer);
        }
    }

    private const int SampleSize = 8192;

    /// <summary>True when four samples spread over the block each shrink by less than 2% at level 1.</summary>
    private static bool Incompressible(ReadOnlySpan<byte> block)
    {
        using var ms = new MemoryStream(SampleSize + 1024);
        for (int i = 0; i < 4; i++)
        {
            ms.SetLength(0);
            using (var z = new DeflateStream(ms, new ZLibCompressionOptions { CompressionLevel = 1 }, leaveOpen: true))
            {
                z.Write(block.Slice(i * (block.Length / 4), SampleSize));
            }

            if (ms.Length < SampleSize * 49 / 50)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The block as non-final stored deflate blocks (each up to 65,535 bytes, byte-aligned as a sync flush leaves them).</summary>
    private static Piece Stored(ReadOnlySpan<byte> block)
    {
        const int MaxStored = 65535;
        int count = (block.Length + MaxStored - 1) / MaxStored;
        var output = ArrayPool<byte>.Shared.Rent(block.Length + (count * 5));
        int o = 0;
        for (int off = 0; off < block.Length; off += MaxStored)
        {
            int n = Math.Min(MaxStored, block.Length - off);
            output[o] = 0; // BFINAL 0, BTYPE 00 (stored), padding to the byte boundary
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(o + 1), (ushort)n);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(o + 3), (ushort)~n);
            block.Slice(off, n).CopyTo(output.AsSpan(o + 5));
            o += 5 + n;
        }

        return new Piece(output, o);
    }

    /// <summary>
    /// zlib level for a CompressionLevel. "Optimal" is level 4, not zlib's default 6 (ostree-ext's): with zlib-ng,
    /// on the Debian tree of bench/make-os-tree.sh, 4 deflates about 30% faster than 6 for a layer 2% larger, about
    /// the size umoci's parallel gzip writes (210.6 MB against umoci's 210.2 MB; level 5 gave 206.8 MB).
    /// </summary>
    private static int ZlibLevel(CompressionLevel level) => level switch
    {
        CompressionLevel.Fastest => 1,
        CompressionLevel.SmallestSize => 9,
        CompressionLevel.NoCompression => 0,
        _ => 4,
    };

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    private void Finish()
    {
        if (_finished)
        {
            return;
        }

        if (_fill > 0)
        {
            Submit();
        }

        while (_pending.Count > 0)
        {
            WriteNext();
        }

        _output.Write([0x03, 0x00]); // an empty final fixed-Huffman block
        Span<byte> trailer = stackalloc byte[8];
        _crc.GetCurrentHash(trailer[..4]); // little-endian, as gzip wants
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], unchecked((uint)Count));
        _output.Write(trailer);
        _output.Flush();
        _finished = true;
        ArrayPool<byte>.Shared.Return(_block);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                Finish();
            }
            finally
            {
                // After a failure, the blocks still queued give their arrays back once they are done.
                while (_pending.TryDequeue(out var task))
                {
                    task.ContinueWith(t => ArrayPool<byte>.Shared.Return(t.Result.Buffer), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
                }
            }

            if (!_leaveOpen)
            {
                _output.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    /// <summary>Bytes in a pooled array (given back once written).</summary>
    private readonly record struct Piece(byte[] Buffer, int Length);

    /// <summary>A write-only stream into a pooled array that grows by renting a larger one.</summary>
    private sealed class PooledWriteStream(int capacity) : CountingWriteStream
    {
        private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(capacity);

        /// <summary>The bytes written so far; the stream owns an array no more (later writes go to a new one).</summary>
        public Piece Take()
        {
            var piece = new Piece(_buffer ?? ArrayPool<byte>.Shared.Rent(1), (int)Count);
            _buffer = null;
            Count = 0;
            return piece;
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int length = (int)Count;
            _buffer ??= ArrayPool<byte>.Shared.Rent(Math.Max(64, buffer.Length));
            if (length + buffer.Length > _buffer.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, length + buffer.Length));
                _buffer.AsSpan(0, length).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }

            buffer.CopyTo(_buffer.AsSpan(length));
            Count = length + buffer.Length;
        }

        public override void Flush()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }

            base.Dispose(disposing);
        }
    }
}
