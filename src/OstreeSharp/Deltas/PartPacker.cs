// Fills static delta parts with objects and their operations, and compresses full parts in the background (at most
// one part per core in flight, so memory stays bounded by a few parts whatever the size of the delta).
using System.Buffers;
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Deltas;

/// <summary>Builds the parts of one delta as files <c>0</c>, <c>1</c>, ... in a folder.</summary>
internal sealed class PartPacker : IDisposable
{
    private static readonly GVariantType ModeType = GVariantType.Parse("(uuu)");
    private static readonly GVariantType XattrSetType = GVariantType.Parse("a(ayay)");

    private readonly string _dir;
    private readonly StaticDeltaOptions _options;
    private readonly List<Task<DeltaPartHeader>> _parts = [];
    private readonly SemaphoreSlim _inFlight = new(Environment.ProcessorCount);
    private Builder _current = new();

    public PartPacker(string dir, StaticDeltaOptions options)
    {
        _dir = dir;
        _options = options;
    }

    /// <summary>A metadata object, spliced whole.</summary>
    public void AddMetadata(DeltaObject m, byte[] bytes)
    {
        var b = Room(bytes.Length);
        b.Objects.Add(m);
        b.Uncompressed += bytes.Length;
        int offset = b.Payload.WrittenCount;
        b.Payload.Write(bytes);
        b.Op('S', (ulong)bytes.Length, (ulong)offset);
    }

    /// <summary>A content object, spliced whole (a symlink's data is its target).</summary>
    public void AddWhole(ContentObject content)
    {
        var target = content.Header.IsSymlink ? Encoding.UTF8.GetBytes(content.Header.SymlinkTarget) : null;
        long size = target?.Length ?? content.Size;
        var b = Room(size);
        var (mode, xattrs) = b.Intern(content.Header);
        b.Objects.Add(new DeltaObject(ObjectType.File, content.Checksum));
        b.Uncompressed += size;
        int offset = b.Payload.WrittenCount;
        if (target is not null)
        {
            b.Payload.Write(target);
        }
        else
        {
            var span = b.Payload.GetSpan((int)Math.Max(1, size))[..(int)size];
            using (var s = content.OpenData())
            {
                s.ReadExactly(span);
            }

            b.Payload.Advance((int)size);
        }

        b.Op('S', (ulong)mode, (ulong)xattrs, (ulong)size, (ulong)offset);
    }

    /// <summary>A content object rebuilt from <paramref name="source"/> (kept by the client) and a bsdiff patch.</summary>
    public void AddPatched(ContentObject content, Checksum source, byte[] patch)
    {
        var b = Room(patch.Length + 32);
        var (mode, xattrs) = b.Intern(content.Header);
        b.Objects.Add(new DeltaObject(ObjectType.File, content.Checksum));
        b.Uncompressed += content.Size;
        b.Op('r', (ulong)b.Payload.WrittenCount);
        source.WriteTo(b.Payload.GetSpan(32));
        b.Payload.Advance(32);
        b.Op('o', (ulong)mode, (ulong)xattrs, (ulong)content.Size);
        b.Op('B', (ulong)b.Payload.WrittenCount, (ulong)patch.Length);
        b.Payload.Write(patch);
        b.Op('c');
        b.Op('R');
    }

    /// <summary>Closes the last part and waits for every part to be written; returns their headers in order.</summary>
    public List<DeltaPartHeader> Finish()
    {
        // As libostree, a delta has at least one part, empty when the target brings no new object.
        if (_current.Objects.Count > 0 || _parts.Count == 0)
        {
            Seal();
        }

        return _parts.Select(t => t.GetAwaiter().GetResult()).ToList();
    }

    public void Dispose()
    {
        try
        {
            Task.WaitAll(_parts.ToArray());
        }
        catch (AggregateException)
        {
            // The failure was (or will be) reported by Finish.
        }

        _inFlight.Dispose();
    }

    // The part to add an object of this size to: a new one when it would pass the chunk size.
    private Builder Room(long size)
    {
        if (_current.Objects.Count > 0 && _current.Payload.WrittenCount + size > _options.MaxChunkSize)
        {
            Seal();
        }

        return _current;
    }

    private void Seal()
    {
        var full = _current;
        _current = new Builder();
        int index = _parts.Count;
        _inFlight.Wait();
        _parts.Add(Task.Run(() =>
        {
            try
            {
                return Write(full, index);
            }
            finally
            {
                _inFlight.Release();
            }
        }));
    }

    private DeltaPartHeader Write(Builder b, int index)
    {
        var payload = GVariantValue.FromTuple(
            GVariantValue.FromArray(ModeType, b.Modes),
            GVariantValue.FromArray(XattrSetType, b.XattrSets),
            GVariantValue.FromBytes(b.Payload.WrittenSpan.ToArray()),
            GVariantValue.FromBytes(b.Ops.WrittenSpan.ToArray())).ToBytes();
        byte[] body = _options.Compress ? Xz.Compress(payload) : payload;
        var file = new byte[body.Length + 1];
        file[0] = _options.Compress ? (byte)'x' : (byte)0;
        body.CopyTo(file, 1);
        File.WriteAllBytes(Path.Combine(_dir, index.ToString(System.Globalization.CultureInfo.InvariantCulture)), file);
        return new DeltaPartHeader(0, Checksum.Compute(file).ToBytes(), (ulong)file.Length, (ulong)b.Uncompressed, b.Objects);
    }

    private sealed class Builder
    {
        private readonly Dictionary<(uint, uint, uint), int> _modeIndex = [];
        private readonly Dictionary<string, int> _xattrIndex = new(StringComparer.Ordinal);

        public List<DeltaObject> Objects { get; } = [];

        public ArrayBufferWriter<byte> Payload { get; } = new(1 << 16);

        public ArrayBufferWriter<byte> Ops { get; } = new(1 << 12);

        public List<GVariantValue> Modes { get; } = [];

        public List<GVariantValue> XattrSets { get; } = [];

        public long Uncompressed { get; set; }

        public void Op(char code, params ReadOnlySpan<ulong> operands)
        {
            Ops.GetSpan(1)[0] = (byte)code;
            Ops.Advance(1);
            foreach (var o in operands)
            {
                Varint.Write(Ops, o);
            }
        }

        // Indexes of the header's (uid, gid, mode) and xattr set in the part's tables, added when new.
        public (int Mode, int Xattrs) Intern(FileHeader h)
        {
            var key = (h.Uid, h.Gid, h.Mode);
            if (!_modeIndex.TryGetValue(key, out int mode))
            {
                mode = Modes.Count;
                _modeIndex[key] = mode;
                Modes.Add(GVariantValue.FromTuple(
                    GVariantValue.FromUInt32(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(h.Uid)),
                    GVariantValue.FromUInt32(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(h.Gid)),
                    GVariantValue.FromUInt32(System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(h.Mode))));
            }

            var xv = h.Xattrs.ToGVariant();
            var xkey = Convert.ToBase64String(xv.ToBytes());
            if (!_xattrIndex.TryGetValue(xkey, out int xattrs))
            {
                xattrs = XattrSets.Count;
                _xattrIndex[xkey] = xattrs;
                XattrSets.Add(xv);
            }

            return (mode, xattrs);
        }
    }
}
