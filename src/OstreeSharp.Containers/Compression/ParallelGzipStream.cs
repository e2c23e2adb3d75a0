// gzip on every core, still ONE gzip member (so readers that stop after the first member, like
// flate2's GzDecoder, see everything): the input is cut into blocks, each block is deflated on its
// own with a sync flush (byte-aligned, not final), the pieces are written in order, then an empty
// final block, the CRC-32 and the size. A block may refer back into the previous one as if the stream
// were deflated whole: its deflater is first given the previous block's last 32 KiB (deflate's whole
// reach) and sync-flushed, and what that prefix deflated to is dropped. (zlib's deflateSetDictionary
// does the same without deflating the prefix, but .NET does not expose it.)
// A block that does not compress (a compressed initramfs, .gz files, ...) is not searched for matches, which
// costs deflate most of its time for nothing: sixteen 8 KiB samples of it, one every 64 KiB, are tried at level 1
// first, and if none shrinks by 2% the block gets Huffman codes only (zlib stores the parts where even those do not
// pay). Four samples missed text between compressed files often enough to cost 0.3% on the VM guest tree.
// The blocks and their outputs are the stream's own, reused from first to last: at most one per worker and three
// more are allocated, and they go with the stream (a shared pool keeps what crossed between threads).
using System.Collections.Concurrent;
using System.IO.Compression;
using System.IO.Hashing;

namespace OstreeSharp.Containers.Compression;

/// <summary>A write-only gzip stream that compresses blocks in parallel.</summary>
internal sealed class ParallelGzipStream : CountingWriteStream
{
    private const int BlockSize = 1 << 20;
    private const int Window = 32 << 10; // how far back deflate can refer
    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private readonly int _zlibLevel;
    private readonly int _maxPending;
    private readonly Queue<Task<Slot>> _pending = new();
    private readonly ConcurrentQueue<Slot> _free = new();
    private readonly Crc32 _crc = new();
    private readonly byte[] _tail = new byte[Window]; // the last block's end, the next one's history
    private int _tailLength;
    private Slot _current;
    private bool _finished;

    /// <summary>Creates the stream; <paramref name="output"/> receives the gzip bytes.</summary>
    public ParallelGzipStream(Stream output, CompressionLevel level, bool leaveOpen = false, int? parallelism = null)
    {
        _output = output;
        _leaveOpen = leaveOpen;
        _zlibLevel = ZlibLevel(level);
        // One block deflating per worker and two more deflated, waiting for those before them to be written (on the
        // Debian tree and two cores, one more was 5% slower; one less was no faster and 3 MB more).
        _maxPending = (parallelism ?? Environment.ProcessorCount) + 2;
        _current = new Slot();
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
            var slot = _current;
            int n = Math.Min(buffer.Length, BlockSize - slot.Fill);
            buffer[..n].CopyTo(slot.Input.AsSpan(slot.Fill));
            slot.Fill += n;
            buffer = buffer[n..];
            if (slot.Fill == BlockSize)
            {
                Submit();
            }
        }
    }

    private void Submit()
    {
        var slot = _current;
        _tail.AsSpan(0, _tailLength).CopyTo(slot.Prefix);
        slot.PrefixLength = _tailLength;
        _tailLength = Math.Min(Window, slot.Fill);
        slot.Input.AsSpan(slot.Fill - _tailLength, _tailLength).CopyTo(_tail);
        int level = _zlibLevel;
        _pending.Enqueue(Task.Run(() =>
        {
            slot.Compress(level);
            return slot;
        }));
        _current = _free.TryDequeue(out var free) ? free : new Slot();
        while (_pending.Count >= _maxPending)
        {
            WriteNext();
        }
    }

    private void WriteNext()
    {
        var slot = _pending.Dequeue().GetAwaiter().GetResult();
        _output.Write(slot.Output, 0, slot.PieceLength);
        slot.Fill = 0;
        _free.Enqueue(slot);
    }

    /// <summary>A block, the history before it, and what they deflate to.</summary>
    private sealed class Slot
    {
        private const int SampleSize = 8192;
        private const int Samples = 16;

        public byte[] Input { get; } = new byte[BlockSize];

        public byte[] Prefix { get; } = new byte[Window];

        public int Fill { get; set; }

        public int PrefixLength { get; set; }

        /// <summary>
        /// The block's deflated bytes: room for a block that does not compress (deflate adds a few bytes per 16 KiB
        /// then); grows if a block deflates to more, and keeps its size.
        /// </summary>
        public byte[] Output { get; private set; } = new byte[BlockSize + (8 << 10)];

        public int PieceLength { get; private set; }

        public void Compress(int level)
        {
            var block = Input.AsSpan(0, Fill);
            var strategy = Fill == BlockSize && Incompressible(block) ? ZLibCompressionStrategy.HuffmanOnly : ZLibCompressionStrategy.Default;
            var output = new SlotWriteStream(this) { Dropping = PrefixLength > 0 };
            using (var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = level, CompressionStrategy = strategy }, leaveOpen: true))
            {
                if (PrefixLength > 0)
                {
                    deflate.Write(Prefix, 0, PrefixLength);
                    deflate.Flush(); // sync flush: the block's own bytes start on a byte of their own
                    output.Dropping = false;
                }

                deflate.Write(block);
                deflate.Flush();
                PieceLength = output.Written;
                output.Dropping = true; // deflate's final block, written as it is disposed, is not the stream's
            }
        }

        /// <summary>True when samples spread evenly over the block each shrink by less than 2% at level 1.</summary>
        private static bool Incompressible(ReadOnlySpan<byte> block)
        {
            using var ms = new MemoryStream(SampleSize + 1024);
            for (int i = 0; i < Samples; i++)
            {
                ms.SetLength(0);
                using (var z = new DeflateStream(ms, new ZLibCompressionOptions { CompressionLevel = 1 }, leaveOpen: true))
                {
                    z.Write(block.Slice(i * (block.Length / Samples), SampleSize));
                }

                if (ms.Length < SampleSize * 49 / 50)
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Makes room for <paramref name="length"/> bytes at <paramref name="used"/>, keeping the first <paramref name="used"/>.</summary>
        public void Reserve(int used, int length)
        {
            if (used + length > Output.Length)
            {
                var larger = new byte[Math.Max(Output.Length + (Output.Length / 2), used + length)];
                Output.AsSpan(0, used).CopyTo(larger);
                Output = larger;
            }
        }
    }

    /// <summary>Appends to a slot's output, except while dropping (the prefix's bytes, deflate's final block).</summary>
    private sealed class SlotWriteStream(Slot slot) : CountingWriteStream
    {
        public int Written => (int)Count;

        public bool Dropping { get; set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (Dropping)
            {
                return;
            }

            slot.Reserve((int)Count, buffer.Length);
            buffer.CopyTo(slot.Output.AsSpan((int)Count));
            Count += buffer.Length;
        }

        public override void Flush()
        {
        }
    }

    /// <summary>
    /// zlib level for a CompressionLevel. "Optimal" is level 4, not zlib's default 6 (ostree-ext's): with zlib-ng,
    /// on the Debian tree of bench/make-os-tree.sh, 4 deflates about 30% faster than 6 for a layer 2% larger, a
    /// little under what umoci's parallel gzip writes: 221.21 MB against umoci's 221.43 MB (level 5: 217.47 MB, 8%
    /// slower). On the VM guest tree, 111.61 MB against umoci's 111.81 MB (level 5: 110.99 MB).
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

        if (_current.Fill > 0)
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
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Finish();
            if (!_leaveOpen)
            {
                _output.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
