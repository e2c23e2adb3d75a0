// Runs the operations of a static delta part (libostree's ostree-repo-static-delta-processing.c, format only):
//   'S' open-splice-and-close  metadata: length, offset; content: mode index, xattr index, size, offset
//   'o' open                   mode index, xattr index, size (the data follows from 'w' and 'B')
//   'w' write                  length, offset: from the read source when one is set, else from the part's data
//   'r' set read source        offset of a 32-byte content id in the part's data
//   'R' unset read source
//   'B' bspatch                offset, length of a bsdiff patch in the part's data, applied to the read source
//   'c' close                  the object is complete: checked against its id and written
// Operands are unsigned LEB128 varints. Objects are taken in the order of the part's header; every object written is
// hashed and must have its id, so a corrupt or hostile part cannot place anything else in the repository.
using System.Buffers.Binary;
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Deltas;

/// <summary>Decompresses and executes static delta parts into a transaction.</summary>
internal static class DeltaPartExecutor
{
    private const long MaxPayload = 2L << 30;

    /// <summary>
    /// Checks <paramref name="part"/> against its header's checksum, decompresses it and rebuilds its objects into
    /// <paramref name="tx"/>. Objects kept already are skipped. Returns the number of objects written.
    /// </summary>
    /// <exception cref="ObjectCorruptedException">The part does not match its checksum, or an object its id.</exception>
    /// <exception cref="OstreeFormatException">The part is malformed.</exception>
    public static int Execute(RepoTransaction tx, DeltaPartHeader header, ReadOnlySpan<byte> part, string what)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(header);
        var actual = Checksum.Compute(part);
        if (!actual.ToBytes().AsSpan().SequenceEqual(header.Checksum))
        {
            throw new ObjectCorruptedException(what, $"checksum mismatch: expected {Convert.ToHexStringLower(header.Checksum)}, actual {actual}");
        }

        // The payload holds the objects (or patches about their size) plus small tables: a part that expands far beyond
        // what its header announces is refused before it fills memory.
        long limit = (long)Math.Min((ulong)MaxPayload, (Math.Min(header.UncompressedSize, 1UL << 40) * 2) + (64UL << 20));
        return ExecutePayload(tx, header.Objects, Decompress(part, what, limit), what);
    }

    /// <summary>The payload of a part file: its first byte says how the rest is compressed (<c>0</c> none, <c>x</c> xz).</summary>
    public static byte[] Decompress(ReadOnlySpan<byte> part, string what, long maxPayload = MaxPayload)
    {
        if (part.IsEmpty)
        {
            throw new OstreeFormatException($"{what}: empty delta part");
        }

        return part[0] switch
        {
            0 => part[1..].ToArray(),
            (byte)'x' => Xz.Decompress(part[1..], maxPayload, what),
            var c => throw new OstreeFormatException($"{what}: unknown delta part compression 0x{c:x2}"),
        };
    }

    /// <summary>Executes a decompressed part payload <c>(a(uuu)aa(ayay)ayay)</c>.</summary>
    public static int ExecutePayload(RepoTransaction tx, IReadOnlyList<DeltaObject> objects, byte[] payload, string what)
    {
        ArgumentNullException.ThrowIfNull(tx);
        ArgumentNullException.ThrowIfNull(objects);
        GVariantValue v;
        try
        {
            v = GVariantValue.Parse(DeltaSuperblock.PartPayloadType, payload);
        }
        catch (OstreeFormatException e)
        {
            throw new OstreeFormatException($"{what}: invalid delta part payload: {e.Message}");
        }

        var run = new Run(tx, objects, v, what);
        return run.Execute();
    }

    /// <summary>Counts of a payload's tables and operations, for <c>static-delta show</c>.</summary>
    public static (int Modes, int Xattrs, long BlobSize, long OpSize, IReadOnlyDictionary<char, int> Ops) Describe(IReadOnlyList<DeltaObject> objects, byte[] payload, string what)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var v = GVariantValue.Parse(DeltaSuperblock.PartPayloadType, payload);
        var ops = v[3].GetBytes();
        var counts = new Dictionary<char, int>();
        int p = 0, index = 0;
        while (p < ops.Length)
        {
            char op = (char)ops[p++];
            int operands = op switch
            {
                // Open-splice-and-close takes two operands for metadata, four for content.
                'S' => index < objects.Count && objects[index].Type == ObjectType.File ? 4 : 2,
                'o' => 3,
                'w' or 'B' => 2,
                'r' => 1,
                'R' or 'c' => 0,
                _ => throw new OstreeFormatException($"{what}: unknown opcode 0x{(int)op:x2} at op byte {p - 1}"),
            };
            counts[op] = counts.GetValueOrDefault(op) + 1;
            if (op is 'S' or 'c')
            {
                index++;
            }

            for (int i = 0; i < operands; i++)
            {
                Varint.Read(ops, ref p, what);
            }
        }

        return (v[0].ChildCount, v[1].ChildCount, v[2].ChildCount, ops.Length, counts);
    }

    private sealed class Run(RepoTransaction tx, IReadOnlyList<DeltaObject> objects, GVariantValue v, string what)
    {
        private readonly IReadOnlyList<GVariantValue> _modes = v[0].GetChildren();
        private readonly IReadOnlyList<GVariantValue> _xattrs = v[1].GetChildren();
        private readonly byte[] _data = v[2].GetBytes();
        private readonly byte[] _ops = v[3].GetBytes();
        private int _p;
        private int _index;
        private bool _open;
        private bool _skip;
        private FileHeader? _header;
        private byte[]? _out;
        private int _outPos;
        private Checksum? _sourceId;
        private byte[]? _source;
        private int _written;

        private DeltaObject Target => _index < objects.Count
            ? objects[_index]
            : throw new OstreeFormatException($"{what}: operations go past the {objects.Count} objects of the part");

        public int Execute()
        {
            while (_p < _ops.Length)
            {
                int at = _p;
                byte op = _ops[_p++];
                switch ((char)op)
                {
                    case 'S':
                        SpliceAndClose();
                        break;
                    case 'o':
                        Open();
                        break;
                    case 'w':
                        Write();
                        break;
                    case 'r':
                        int offset = Offset(32);
                        _sourceId = new Checksum(_data.AsSpan(offset, 32));
                        _source = null;
                        break;
                    case 'R':
                        _sourceId = null;
                        _source = null;
                        break;
                    case 'B':
                        Bspatch();
                        break;
                    case 'c':
                        Close();
                        break;
                    default:
                        throw new OstreeFormatException($"{what}: unknown opcode 0x{op:x2} at op byte {at}");
                }
            }

            if (_open || _index != objects.Count)
            {
                throw new OstreeFormatException($"{what}: operations rebuild {_index} of the part's {objects.Count} objects");
            }

            return _written;
        }

        private ulong Next() => Varint.Read(_ops, ref _p, what);

        // Reads a payload offset and checks that [offset, offset + length) lies within the data.
        private int Offset(long length)
        {
            ulong offset = Next();
            if (offset > (ulong)_data.Length || (ulong)length > (ulong)_data.Length - offset)
            {
                throw new OstreeFormatException($"{what}: offset {offset} length {length} outside the part's {_data.Length} bytes of data");
            }

            return (int)offset;
        }

        private int Length()
        {
            ulong n = Next();
            return n <= int.MaxValue ? (int)n : throw new OstreeFormatException($"{what}: length {n} too large");
        }

        private (int Mode, int Xattrs) ReadHeaderIndices()
        {
            ulong mode = Next(), xattrs = Next();
            if (mode >= (ulong)_modes.Count || xattrs >= (ulong)_xattrs.Count)
            {
                throw new OstreeFormatException($"{what}: mode {mode} or xattr set {xattrs} out of range");
            }

            return ((int)mode, (int)xattrs);
        }

        private FileHeader BuildHeader((int Mode, int Xattrs) at, Func<string> symlinkTarget)
        {
            var m = _modes[at.Mode];
            uint raw = BinaryPrimitives.ReverseEndianness(m[2].GetUInt32());
            FileHeader.ValidateMode(raw);
            return new FileHeader(
                BinaryPrimitives.ReverseEndianness(m[0].GetUInt32()),
                BinaryPrimitives.ReverseEndianness(m[1].GetUInt32()),
                raw,
                UnixMode.IsSymlink(raw) ? symlinkTarget() : string.Empty,
                Xattrs.FromGVariant(_xattrs[at.Xattrs]));
        }

        private void SpliceAndClose()
        {
            RequireClosed();
            var target = Target;
            if (target.Type != ObjectType.File)
            {
                int length = Length();
                int offset = Offset(length);
                if (!tx.HasObject(target.Checksum, target.Type))
                {
                    var bytes = _data.AsSpan(offset, length).ToArray();
                    var actual = Checksum.Compute(bytes);
                    if (actual != target.Checksum)
                    {
                        throw ObjectCorruptedException.ChecksumMismatch(target.Checksum.ToHex(), target.Type.ToName(), actual.ToHex(), what);
                    }

                    tx.WriteMetadataTrusted(target.Type, target.Checksum, bytes);
                    _written++;
                }
            }
            else
            {
                var indices = ReadHeaderIndices();
                int size = Length();
                int offset = Offset(size);
                var header = BuildHeader(indices, () => Encoding.UTF8.GetString(_data, offset, size));
                if (!tx.HasObject(target.Checksum, ObjectType.File))
                {
                    using var data = header.IsSymlink ? Stream.Null : new MemoryStream(_data, offset, size, writable: false);
                    tx.WriteContent(header, data, header.IsSymlink ? 0 : size, target.Checksum);
                    _written++;
                }
            }

            Advance();
        }

        private void Open()
        {
            RequireClosed();
            var target = Target;
            if (target.Type != ObjectType.File)
            {
                throw new OstreeFormatException($"{what}: open of {target.Type.ToName()} object {target.Checksum}");
            }

            _header = BuildHeader(ReadHeaderIndices(), () => string.Empty);
            if (_header.IsSymlink)
            {
                throw new OstreeFormatException($"{what}: open of symlink {target.Checksum}");
            }

            int size = Length();
            _open = true;
            _skip = tx.HasObject(target.Checksum, ObjectType.File);
            _out = _skip ? null : new byte[size];
            _outPos = 0;
        }

        private void Write()
        {
            RequireOpen();
            int length = Length();
            if (_sourceId is null)
            {
                int offset = Offset(length);
                if (!_skip)
                {
                    Append(_data.AsSpan(offset, length));
                }

                return;
            }

            ulong from = Next();
            if (_skip)
            {
                return;
            }

            var source = Source();
            if (from > (ulong)source.Length || (ulong)length > (ulong)source.Length - from)
            {
                throw new OstreeFormatException($"{what}: read of {length} bytes at {from} past the end of {_sourceId} ({source.Length} bytes)");
            }

            Append(source.AsSpan((int)from, length));
        }

        private void Bspatch()
        {
            RequireOpen();
            ulong offsetRaw = Next();
            int length = Length();
            if (offsetRaw > (ulong)_data.Length || (ulong)length > (ulong)_data.Length - offsetRaw)
            {
                throw new OstreeFormatException($"{what}: bsdiff patch at {offsetRaw} length {length} outside the part's data");
            }

            if (_skip)
            {
                return;
            }

            if (_sourceId is null)
            {
                throw new OstreeFormatException($"{what}: bspatch without a read source");
            }

            var output = _out!;
            Bsdiff.Patch(Source(), _data.AsSpan((int)offsetRaw, length), output);
            _outPos = output.Length;
        }

        private void Close()
        {
            RequireOpen();
            var target = Target;
            if (!_skip)
            {
                if (_outPos != _out!.Length)
                {
                    throw new OstreeFormatException($"{what}: object {target.Checksum} closed after {_outPos} of its {_out.Length} bytes");
                }

                using var data = new MemoryStream(_out, writable: false);
                tx.WriteContent(_header!, data, _out.Length, target.Checksum);
                _written++;
            }

            _open = false;
            _out = null;
            _header = null;
            Advance();
        }

        private void Advance()
        {
            _index++;
            _sourceId = null;
            _source = null;
        }

        private void Append(ReadOnlySpan<byte> bytes)
        {
            var output = _out!;
            if (bytes.Length > output.Length - _outPos)
            {
                throw new OstreeFormatException($"{what}: writes exceed the declared size {output.Length} of {Target.Checksum}");
            }

            bytes.CopyTo(output.AsSpan(_outPos));
            _outPos += bytes.Length;
        }

        // The read source's data, loaded once: a content object kept in the repository (or staged by this part).
        private byte[] Source()
        {
            if (_source is not null)
            {
                return _source;
            }

            var id = _sourceId!.Value;
            if (!tx.Repo.HasObject(id, ObjectType.File))
            {
                throw new ObjectNotFoundException(OstreeErrorCode.DeltaNotFound, $"{what}: delta source object {id} is not in the repository");
            }

            return _source = tx.Repo.LoadContent(id).ReadAllData();
        }

        private void RequireOpen()
        {
            if (!_open)
            {
                throw new OstreeFormatException($"{what}: operation on no open object");
            }
        }

        private void RequireClosed()
        {
            if (_open)
            {
                throw new OstreeFormatException($"{what}: object {Target.Checksum} opened before the last one was closed");
            }
        }
    }
}

/// <summary>Unsigned LEB128 varints, as libostree's ostree-varint.c writes them.</summary>
internal static class Varint
{
    /// <summary>Reads a varint at <paramref name="p"/>, advancing it.</summary>
    public static ulong Read(ReadOnlySpan<byte> data, ref int p, string what)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (p >= data.Length)
            {
                throw new OstreeFormatException($"{what}: operations end inside a varint");
            }

            byte b = data[p++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new OstreeFormatException($"{what}: varint longer than 64 bits");
    }

    /// <summary>Appends a varint.</summary>
    public static void Write(System.Buffers.IBufferWriter<byte> output, ulong value)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        output.Advance(n);
    }
}
