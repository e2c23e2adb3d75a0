// The layer delta format (docs/container-deltas.md): an xz stream whose content rebuilds a tar from data the client
// keeps in its ostree repository: the objects of the image it has (the "source"). Version 1 rebuilds the uncompressed
// layer tar byte for byte; version 2 only the entries of the objects the source lacks (for the ostree layer of an image
// labelled with its commit, which the client checks instead of the diff-id).
//   header   "OSLDELTA" | version 1 or 2 | 32-byte diff-id of the layer | varint size of what the records produce
//            | 32-byte id of the source's ostree commit
//   Version 1: the source table is the objects of that commit's tree (content, dirtree, dirmeta), sorted by id.
//   Records name them by index, as a zigzag varint step from the index named last (sorted tars make the steps small).
//   Version 2: records name an object by its type (1 content, 2 dirtree, 3 dirmeta) and 32-byte id; below, "step"
//   stands for either.
//   records  'L' n, n bytes     literal bytes
//            'S' step           the object's path form "XX/62-hex" (65 bytes), as tar entries name objects
//            'O' step           all data of that content object (a regular file)
//            'M' step           the bytes of that metadata object
//            'P' step, n, m, m bytes
//                               n bytes: the bsdiff patch applied to that object's data or bytes
//            'H' flags [step]   the next 512 bytes produced (by 'L' and 'S' records) are a tar header to complete:
//                               flags & 2: its size field is the size of that content object ("%011o\0");
//                               flags & 1: its checksum field is computed ("%07o\0", or "%06o\0 " with flags & 4)
//            'E'                end: the rebuilt size (and in version 1 its sha256) must equal the header's
using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Deltas;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Containers.Deltas;

/// <summary>Names of the container delta format.</summary>
internal static class ContainerDeltaFormat
{
    /// <summary>The artifact type of a delta manifest (it refers to the target image through <c>subject</c>).</summary>
    public const string ArtifactType = "application/vnd.ostreesharp.container-delta.v1";

    /// <summary>The media type of a layer delta blob.</summary>
    public const string LayerDeltaMediaType = "application/vnd.ostreesharp.layer-delta.v1+xz";

    /// <summary>
    /// The media type of a version 2 layer delta blob (new objects only). A client that knows only version 1 does not
    /// take it for one of its deltas, so it fetches the layer without downloading a delta it cannot read.
    /// </summary>
    public const string NewObjectsLayerDeltaMediaType = "application/vnd.ostreesharp.layer-delta.v2+xz";

    /// <summary>Annotation of the manifest (and its referrers entry): the manifest digest of the image the delta starts from.</summary>
    public const string FromAnnotation = "org.ostreesharp.delta.from";

    /// <summary>Annotation of a layer delta: the digest of the layer it rebuilds.</summary>
    public const string TargetLayerAnnotation = "org.ostreesharp.delta.target-layer";

    /// <summary>Annotation of a layer delta: the diff-id (sha256 of the uncompressed tar) it rebuilds.</summary>
    public const string TargetDiffIdAnnotation = "org.ostreesharp.delta.target-diff-id";

    /// <summary>The OCI empty descriptor's media type, used as the delta manifest's config.</summary>
    public const string EmptyMediaType = "application/vnd.oci.empty.v1+json";

    internal static ReadOnlySpan<byte> Magic => "OSLDELTA"u8;

    /// <summary>Version 1 rebuilds the whole layer tar, whose sha256 the client can check against the diff-id.</summary>
    internal const byte WholeTar = 1;

    /// <summary>
    /// Version 2 rebuilds only the entries of the objects the source commit lacks (the commit, its detached metadata,
    /// xattrs, new objects): a tar the client imports but cannot hash to the diff-id, so it is only for an image whose
    /// config names its commit in the <c>ostree.commit</c> label.
    /// </summary>
    internal const byte NewObjectsOnly = 2;
}

/// <summary>Writes the records of a layer delta (uncompressed) to a stream.</summary>
internal sealed class LayerDeltaWriter
{
    private const int LiteralFlush = 1 << 20;
    private readonly Stream _out;
    private readonly IReadOnlyDictionary<Checksum, int> _table;
    private readonly IReadOnlyList<DeltaObject>? _objects;
    private readonly ArrayBufferWriter<byte> _pending = new(LiteralFlush);
    private readonly ArrayBufferWriter<byte> _scratch = new(16);
    private int _last;

    /// <param name="output">Receives the header and records, uncompressed.</param>
    /// <param name="version">The format version (<see cref="ContainerDeltaFormat.WholeTar"/> or <see cref="ContainerDeltaFormat.NewObjectsOnly"/>).</param>
    /// <param name="diffId">The diff-id of the layer.</param>
    /// <param name="size">The number of bytes the records produce.</param>
    /// <param name="source">The source commit.</param>
    /// <param name="table">The index of each object of the source table, by id: object paths in literals become references.</param>
    /// <param name="objects">The source table in order: version 2 names an object by its type and id, not its index.</param>
    public LayerDeltaWriter(Stream output, byte version, Digest diffId, long size, Checksum source, IReadOnlyDictionary<Checksum, int> table, IReadOnlyList<DeltaObject> objects)
    {
        _out = output;
        _table = table;
        _objects = version == ContainerDeltaFormat.NewObjectsOnly ? objects : null;
        _out.Write(ContainerDeltaFormat.Magic);
        _out.WriteByte(version);
        _out.Write(Convert.FromHexString(diffId.Hex));
        WriteVarint((ulong)size);
        Span<byte> raw = stackalloc byte[32];
        source.WriteTo(raw);
        _out.Write(raw);
    }

    public long ObjectRecords { get; private set; }

    public long PatchRecords { get; private set; }

    public long LiteralBytes { get; private set; }

    /// <summary>The bytes the records written so far produce.</summary>
    public long Produced { get; private set; }

    /// <summary>Literal bytes where object paths (<c>objects/XX/62-hex</c>) of source objects become references.</summary>
    public void LiteralWithPaths(ReadOnlySpan<byte> bytes)
    {
        var marker = "objects/"u8;
        while (true)
        {
            int at = bytes.IndexOf(marker);
            if (at < 0 || bytes.Length - (at + marker.Length) < 65)
            {
                Literal(bytes);
                return;
            }

            int start = at + marker.Length;
            var path = bytes.Slice(start, 65);
            if (path[2] == (byte)'/' && IsHex(path[..2]) && IsHex(path[3..])
                && Checksum.TryParse(System.Text.Encoding.ASCII.GetString(path[..2]) + System.Text.Encoding.ASCII.GetString(path[3..]), out var c)
                && _table.TryGetValue(c, out int index))
            {
                Literal(bytes[..start]);
                Reference('S', index);
                Produced += 65;
                bytes = bytes[(start + 65)..];
            }
            else
            {
                Literal(bytes[..start]);
                bytes = bytes[start..];
            }
        }
    }

    /// <summary>
    /// A 512-byte tar header: its checksum field, and the size field when <paramref name="sizeOf"/> names the source
    /// object its data is, are left for the client to compute (they are what varies most between headers).
    /// </summary>
    public void Header(ReadOnlySpan<byte> block, int? sizeOf, long size)
    {
        Span<byte> copy = stackalloc byte[TarHeader.BlockSize];
        block.CopyTo(copy);
        byte flags = 0;
        Span<byte> sizeField = stackalloc byte[TarHeader.Size.Length];
        if (sizeOf is not null && TarHeader.TryWriteOctal(sizeField, size) && TarHeader.Field(block, TarHeader.Size).SequenceEqual(sizeField))
        {
            flags |= 2;
            TarHeader.Field(copy, TarHeader.Size).Fill((byte)'0');
        }

        TarHeader.Field(copy, TarHeader.Checksum).Fill((byte)' ');
        int format = TarHeader.ChecksumFormat(block);
        if (format >= 0)
        {
            flags |= (byte)(1 | (format << 2));
        }
        else
        {
            TarHeader.Field(block, TarHeader.Checksum).CopyTo(TarHeader.Field(copy, TarHeader.Checksum));
        }

        FlushLiteral();
        if ((flags & 2) != 0)
        {
            Reference('H', sizeOf!.Value, flags);
        }
        else
        {
            _out.WriteByte((byte)'H');
            _out.WriteByte(flags);
        }

        LiteralWithPaths(copy);
    }

    private static bool IsHex(ReadOnlySpan<byte> s) => s.IndexOfAnyExcept("0123456789abcdef"u8) < 0;

    public void Literal(ReadOnlySpan<byte> bytes)
    {
        LiteralBytes += bytes.Length;
        Produced += bytes.Length;
        if (_pending.WrittenCount + bytes.Length <= LiteralFlush)
        {
            _pending.Write(bytes);
            return;
        }

        FlushLiteral();
        _out.WriteByte((byte)'L');
        WriteVarint((ulong)bytes.Length);
        _out.Write(bytes);
    }

    /// <summary>All data (<paramref name="size"/> bytes) of source content object <paramref name="index"/>.</summary>
    public void Object(int index, long size)
    {
        ObjectRecords++;
        Produced += size;
        Reference('O', index);
    }

    /// <summary>The bytes (<paramref name="size"/>) of source metadata object <paramref name="index"/>.</summary>
    public void Metadata(int index, long size)
    {
        ObjectRecords++;
        Produced += size;
        Reference('M', index);
    }

    /// <summary><paramref name="newSize"/> bytes: <paramref name="patch"/> applied to source object <paramref name="index"/>.</summary>
    public void Patch(int index, long newSize, ReadOnlySpan<byte> patch)
    {
        PatchRecords++;
        Produced += newSize;
        Reference('P', index);
        WriteVarint((ulong)newSize);
        WriteVarint((ulong)patch.Length);
        _out.Write(patch);
    }

    public void Finish()
    {
        FlushLiteral();
        _out.WriteByte((byte)'E');
    }

    private void Reference(char op, int index, byte? flags = null)
    {
        FlushLiteral();
        _out.WriteByte((byte)op);
        if (flags is { } f)
        {
            _out.WriteByte(f);
        }

        if (_objects is not null)
        {
            var o = _objects[index];
            Span<byte> id = stackalloc byte[33];
            id[0] = (byte)o.Type;
            o.Checksum.WriteTo(id[1..]);
            _out.Write(id);
            return;
        }

        long step = (long)index - _last;
        WriteVarint((ulong)((step << 1) ^ (step >> 63)));
        _last = index;
    }

    private void FlushLiteral()
    {
        if (_pending.WrittenCount == 0)
        {
            return;
        }

        _out.WriteByte((byte)'L');
        WriteVarint((ulong)_pending.WrittenCount);
        _out.Write(_pending.WrittenSpan);
        _pending.ResetWrittenCount();
    }

    private void WriteVarint(ulong v)
    {
        _scratch.ResetWrittenCount();
        Varint.Write(_scratch, v);
        _out.Write(_scratch.WrittenSpan);
    }
}

/// <summary>
/// The layer tar a delta rebuilds, read as a stream: literal bytes from the delta, object data and patched objects
/// from the client's repository. At its end the size and sha256 are checked against the delta's header and against the
/// diff-id the image config gives; any difference, or a missing object, is an error (the caller then fetches the layer).
/// </summary>
internal sealed class LayerDeltaStream : ReadOnlyStream, ISkippingStream
{
    private const long MaxPatchSize = 512L << 20;
    private readonly Stream _delta;
    private readonly OstreeRepo _repo;
    private readonly string _what;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _expectedHash;
    private readonly long _expectedSize;
    private long _produced;
    private readonly bool _verify;
    private long _literalLeft;
    // The content object whose data is being produced ('O'): opened only when its bytes are read, not when skipped.
    private Checksum _objectId;
    private long _objectSize;
    private long _objectLeft;
    private Stream? _object;
    // The size last looked up: an 'O' record follows the header that gave its object's size.
    private (Checksum Id, long Size)? _sized;
    private bool? _sourceComplete;
    private readonly byte[] _header = new byte[512];
    private byte[]? _buffer;
    private int _bufferPos;
    private bool _ended;
    private readonly Checksum _source;
    private DeltaObject[]? _table;
    private Checksum? _sourceRoot;
    // The subfolders of the source's folders read so far, by the folder's path: name -> dirtree.
    private readonly Dictionary<string, Dictionary<string, Checksum>> _sourceDirs = new(StringComparer.Ordinal);
    private long _last;

    /// <param name="delta">The delta's records, decompressed.</param>
    /// <param name="repo">The repository holding the source image's objects.</param>
    /// <param name="expectedDiffId">The diff-id the delta must say it rebuilds.</param>
    /// <param name="what">Names the delta in messages.</param>
    /// <param name="verifyDiffId">
    /// Hash what is produced and check it against the diff-id at the end. Without it only the size is checked, and
    /// <see cref="Skip"/> passes over object data without reading it: for a caller that verifies each object it keeps
    /// against its id and already trusts the objects it has.
    /// </param>
    public LayerDeltaStream(Stream delta, OstreeRepo repo, Digest expectedDiffId, string what, bool verifyDiffId = true)
    {
        // Records are read a byte at a time (opcodes, varints): from a buffer, not one decoder call per byte.
        _delta = new BufferedStream(delta, 1 << 16);
        _verify = verifyDiffId;
        _repo = repo;
        _what = what;
        Span<byte> head = stackalloc byte[9 + 32];
        Span<byte> source = stackalloc byte[32];
        if (ReadFully(head) != head.Length || !head[..8].SequenceEqual(ContainerDeltaFormat.Magic))
        {
            throw new OstreeFormatException($"{what}: not a layer delta");
        }

        if (head[8] is not (ContainerDeltaFormat.WholeTar or ContainerDeltaFormat.NewObjectsOnly))
        {
            throw new OstreeFormatException($"{what}: layer delta version {head[8]} is not supported");
        }

        if (head[8] == ContainerDeltaFormat.NewObjectsOnly && verifyDiffId)
        {
            // Its tar leaves out what the client has, so it cannot hash to the diff-id: only the commit can be checked.
            throw new DigestMismatchException($"{what}: a version 2 delta rebuilds only new objects, which needs the image's ostree.commit label to check");
        }

        NewObjectsOnly = head[8] == ContainerDeltaFormat.NewObjectsOnly;

        _expectedHash = head[9..].ToArray();
        if (expectedDiffId.Algorithm != "sha256" || !_expectedHash.AsSpan().SequenceEqual(Convert.FromHexString(expectedDiffId.Hex)))
        {
            throw new DigestMismatchException($"{what}: the delta rebuilds sha256:{Convert.ToHexStringLower(_expectedHash)}, not the layer's {expectedDiffId}");
        }

        _expectedSize = ReadLength();
        if (ReadFully(source) != 32)
        {
            throw new OstreeFormatException($"{what}: the delta ends inside its header");
        }

        _source = new Checksum(source);
    }

    /// <summary>The commit whose objects the delta refers to.</summary>
    public Checksum SourceCommit => _source;

    /// <summary>True for a version 2 delta: the tar holds only the entries of objects the source commit lacks.</summary>
    public bool NewObjectsOnly { get; }

    public override int Read(Span<byte> buffer)
    {
        while (!_ended && !buffer.IsEmpty)
        {
            int n = 0;
            // A completed header goes out before the rest of the literal it was cut from.
            if (_buffer is not null)
            {
                n = Math.Min(buffer.Length, _buffer.Length - _bufferPos);
                _buffer.AsSpan(_bufferPos, n).CopyTo(buffer);
                _bufferPos += n;
                if (_bufferPos == _buffer.Length)
                {
                    _buffer = null;
                }
            }
            else if (_objectLeft > 0)
            {
                _object ??= OpenObject();
                n = _object.Read(buffer[..(int)Math.Min(buffer.Length, _objectLeft)]);
                if (n == 0)
                {
                    throw new ObjectCorruptedException($"{_objectId}.file", $"{_what}: its data ends {_objectLeft} bytes before its size");
                }

                _objectLeft -= n;
                if (_objectLeft == 0)
                {
                    CloseObject();
                }
            }
            else if (_literalLeft > 0)
            {
                n = ReadLiteral(buffer);
            }
            else
            {
                NextRecord();
                continue;
            }

            if (_verify)
            {
                _hash.AppendData(buffer[..n]);
            }

            Produced(n);
            return n;
        }

        return 0;
    }

    /// <summary>
    /// Passes over <paramref name="count"/> bytes. Without diff-id verification the data of a source object is passed
    /// over without opening it; with it, the bytes are produced and hashed as by <see cref="Read(Span{byte})"/>.
    /// </summary>
    public long Skip(long count)
    {
        long done = 0;
        byte[]? scratch = null;
        try
        {
            while (done < count && !_ended)
            {
                long n;
                if (_verify)
                {
                    scratch ??= ArrayPool<byte>.Shared.Rent(64 * 1024);
                    n = Read(scratch.AsSpan(0, (int)Math.Min(scratch.Length, count - done)));
                    if (n == 0)
                    {
                        break;
                    }

                    done += n;
                    continue;
                }

                if (_buffer is not null)
                {
                    n = Math.Min(count - done, _buffer.Length - _bufferPos);
                    _bufferPos += (int)n;
                    if (_bufferPos == _buffer.Length)
                    {
                        _buffer = null;
                    }
                }
                else if (_objectLeft > 0)
                {
                    // An open object is closed: should the rest be read, it is opened again where the skip ended.
                    n = Math.Min(count - done, _objectLeft);
                    _objectLeft -= n;
                    CloseObject();
                }
                else if (_literalLeft > 0)
                {
                    scratch ??= ArrayPool<byte>.Shared.Rent(64 * 1024);
                    n = ReadLiteral(scratch.AsSpan(0, (int)Math.Min(scratch.Length, count - done)));
                }
                else
                {
                    NextRecord();
                    continue;
                }

                Produced(n);
                done += n;
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }

        return done;
    }

    // Literal bytes into buffer, as many as it takes and the literal has left.
    private int ReadLiteral(Span<byte> buffer)
    {
        int n = _delta.Read(buffer[..(int)Math.Min(buffer.Length, _literalLeft)]);
        if (n == 0)
        {
            throw new OstreeFormatException($"{_what}: the delta ends inside a literal");
        }

        _literalLeft -= n;
        return n;
    }

    private void Produced(long n)
    {
        _produced += n;
        if (_produced > _expectedSize)
        {
            throw new DigestMismatchException($"{_what}: the delta rebuilds more than the {_expectedSize} bytes it announces");
        }
    }

    private Stream OpenObject()
    {
        var data = Load(_objectId).OpenData();
        long offset = _objectSize - _objectLeft;
        if (offset > 0)
        {
            if (data.CanSeek)
            {
                data.Seek(offset, SeekOrigin.Begin);
            }
            else
            {
                var discard = ArrayPool<byte>.Shared.Rent(64 * 1024);
                try
                {
                    for (long left = offset; left > 0;)
                    {
                        int n = data.Read(discard, 0, (int)Math.Min(discard.Length, left));
                        left -= n > 0 ? n : throw new ObjectCorruptedException($"{_objectId}.file", $"{_what}: its data ends before its size");
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(discard);
                }
            }
        }

        return data;
    }

    private void CloseObject()
    {
        _object?.Dispose();
        _object = null;
    }

    // The data size of a source content object (looked up once for a header and the 'O' record after it). In the bare
    // modes one lstat of the object's file gives it: its bytes are the data. (A bare-user symlink object passes for a
    // file whose data is its target: whatever is made from it is checked against an object id or the diff-id.)
    private long SizeOf(Checksum c)
    {
        if (_sized is { } s && s.Id == c)
        {
            return s.Size;
        }

        long size = _repo.Mode is RepoMode.Bare or RepoMode.BareUser or RepoMode.BareUserOnly
            && Native.TryLStat(_repo.ObjectPath(c, ObjectType.File), out var st) && (st.Mode & UnixMode.TypeMask) == UnixMode.Regular
            ? (long)st.Size
            : Load(c).Size;
        _sized = (c, size);
        return size;
    }

    /// <summary>
    /// Whether <paramref name="checksum"/> is an object of the source commit's tree, which the client holds complete
    /// (not marked partial), so the repository has it.
    /// </summary>
    public bool IsSourceObject(Checksum checksum, ObjectType type)
    {
        if (NewObjectsOnly || !SourceComplete())
        {
            return false;
        }

        return Array.BinarySearch(Table(), new DeltaObject(type, checksum), DeltaTreeIndex.TableOrder) >= 0;
    }

    private bool SourceComplete() => _sourceComplete ??= !_repo.IsCommitPartial(_source);

    /// <summary>
    /// Whether <paramref name="tree"/>, at folder <paramref name="path"/> of the commit imported, is a dirtree of the
    /// source commit, which the client holds complete (not marked partial): every object under it is in the
    /// repository, so a completeness walk need not descend into it. A version 2 delta has no source table: the tree is
    /// compared with the source's at the same path, so only the folders on the way to a change are read.
    /// </summary>
    public bool IsCompleteSourceTree(Checksum tree, string path)
    {
        if (!NewObjectsOnly)
        {
            return IsSourceObject(tree, ObjectType.DirTree);
        }

        return SourceComplete() && SourceTreeAt(path) == tree;
    }

    // The dirtree of the source commit at a folder path ("/", "/usr/lib"), or null when it has no such folder. The folders
    // read on the way are kept: a completeness walk asks for the children of the folders it reads.
    private Checksum? SourceTreeAt(string path)
    {
        if (_sourceRoot is null)
        {
            if (!_repo.HasObject(_source, ObjectType.Commit))
            {
                return null;
            }

            _sourceRoot = _repo.LoadCommit(_source).RootTree;
        }

        Checksum tree = _sourceRoot.Value;
        foreach (var range in path.AsSpan().Split('/'))
        {
            var name = path.AsSpan()[range];
            if (name.IsEmpty)
            {
                continue;
            }

            var parent = path[..range.Start.Value];
            if (!_sourceDirs.TryGetValue(parent, out var dirs))
            {
                dirs = _repo.LoadDirTree(tree).Dirs.ToDictionary(d => d.Name, d => d.TreeChecksum, StringComparer.Ordinal);
                _sourceDirs[parent] = dirs;
            }

            if (!dirs.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out tree))
            {
                return null;
            }
        }

        return tree;
    }

    private void NextRecord()
    {
        int op = _delta.ReadByte();
        switch (op)
        {
            case 'L':
                _literalLeft = ReadLength();
                break;
            case 'S':
            {
                var hex = Next(ObjectType.File, anyType: true).Checksum.ToHex();
                _buffer = System.Text.Encoding.ASCII.GetBytes(hex[..2] + "/" + hex[2..]);
                _bufferPos = 0;
                break;
            }

            case 'O':
                _objectId = Next(ObjectType.File, anyType: false).Checksum;
                _objectSize = _objectLeft = SizeOf(_objectId);
                break;
            case 'M':
            {
                var o = Next(ObjectType.DirTree, anyType: true);
                if (o.Type == ObjectType.File)
                {
                    throw new OstreeFormatException($"{_what}: metadata record names content object {o.Checksum}");
                }

                Emit(_repo.ReadMetadataBytes(o.Type, o.Checksum));
                break;
            }

            case 'P':
            {
                var o = Next(ObjectType.File, anyType: true);
                ulong size = ReadVarint(), patchSize = ReadVarint();
                if (size > MaxPatchSize || patchSize > MaxPatchSize)
                {
                    throw new OstreeFormatException($"{_what}: patch of {size} bytes from {patchSize} too large");
                }

                var patch = new byte[patchSize];
                if (ReadFully(patch) != patch.Length)
                {
                    throw new OstreeFormatException($"{_what}: the delta ends inside a patch");
                }

                var old = o.Type == ObjectType.File ? Load(o.Checksum).ReadAllData() : _repo.ReadMetadataBytes(o.Type, o.Checksum);
                var rebuilt = new byte[size];
                Bsdiff.Patch(old, patch, rebuilt);
                Emit(rebuilt);
                break;
            }

            case 'H':
                Emit(CollectHeader());
                break;
            case 'E':
                _ended = true;
                if (!_verify)
                {
                    if (_produced != _expectedSize)
                    {
                        throw new DigestMismatchException($"{_what}: the rebuilt layer is {_produced} bytes, not {_expectedSize}");
                    }

                    break;
                }

                var actual = _hash.GetHashAndReset();
                if (_produced != _expectedSize || !actual.AsSpan().SequenceEqual(_expectedHash))
                {
                    throw new DigestMismatchException($"{_what}: the rebuilt layer is sha256:{Convert.ToHexStringLower(actual)} ({_produced} bytes), not sha256:{Convert.ToHexStringLower(_expectedHash)} ({_expectedSize} bytes)");
                }

                break;
            case -1:
                throw new OstreeFormatException($"{_what}: the delta ends without its end record");
            default:
                throw new OstreeFormatException($"{_what}: unknown record 0x{op:x2}");
        }
    }

    // Gathers the 512 bytes of a tar header from the records after an 'H' and completes its size and checksum.
    private byte[] CollectHeader()
    {
        int flags = _delta.ReadByte();
        if (flags < 0 || (flags & ~7) != 0)
        {
            throw new OstreeFormatException($"{_what}: invalid header record");
        }

        long size = (flags & 2) != 0 ? SizeOf(Next(ObjectType.File, anyType: false).Checksum) : 0;
        // One buffer serves every header: the next 'H' is read only once this one has gone out.
        var header = _header;
        int filled = 0;
        while (filled < 512)
        {
            if (_literalLeft == 0)
            {
                int op = _delta.ReadByte();
                if (op == 'S')
                {
                    if (filled + 65 > 512)
                    {
                        throw new OstreeFormatException($"{_what}: object path past the end of a header");
                    }

                    var hex = Next(ObjectType.File, anyType: true).Checksum.ToHex();
                    System.Text.Encoding.ASCII.GetBytes(hex[..2] + "/" + hex[2..], header.AsSpan(filled));
                    filled += 65;
                    continue;
                }

                if (op != 'L')
                {
                    throw new OstreeFormatException($"{_what}: record 0x{op:x2} inside a header");
                }

                _literalLeft = ReadLength();
            }

            int n = (int)Math.Min(512 - filled, _literalLeft);
            if (ReadFully(header.AsSpan(filled, n)) != n)
            {
                throw new OstreeFormatException($"{_what}: the delta ends inside a header");
            }

            filled += n;
            _literalLeft -= n;
        }

        if ((flags & 2) != 0 && !TarHeader.TryWriteOctal(TarHeader.Field(header.AsSpan(), TarHeader.Size), size))
        {
            throw new OstreeFormatException($"{_what}: object size {size} does not fit a tar header");
        }

        if ((flags & 1) != 0)
        {
            TarHeader.WriteChecksum(header, (flags >> 2) & 1);
        }

        return header;
    }

    private void Emit(byte[] bytes)
    {
        _buffer = bytes.Length == 0 ? null : bytes;
        _bufferPos = 0;
    }

    // The source object the next reference names: a type and id (version 2), or a zigzag step in the table.
    private DeltaObject Next(ObjectType type, bool anyType)
    {
        if (NewObjectsOnly)
        {
            Span<byte> id = stackalloc byte[33];
            if (ReadFully(id) != id.Length)
            {
                throw new OstreeFormatException($"{_what}: the delta ends inside an object reference");
            }

            if (id[0] is not ((byte)ObjectType.File or (byte)ObjectType.DirTree or (byte)ObjectType.DirMeta))
            {
                throw new OstreeFormatException($"{_what}: object reference of unknown type {id[0]}");
            }

            var named = new DeltaObject((ObjectType)id[0], new Checksum(id[1..]));
            return anyType || named.Type == type ? named : throw new OstreeFormatException($"{_what}: object {named.Checksum} is a {named.Type.ToName()}, not a {type.ToName()}");
        }

        var table = Table();
        ulong z = ReadVarint();
        long step = (long)(z >> 1) ^ -(long)(z & 1);
        long index = _last + step;
        if (index < 0 || index >= table.Length)
        {
            throw new OstreeFormatException($"{_what}: object index {index} outside the source's {table.Length} objects");
        }

        _last = index;
        var o = table[(int)index];
        return anyType || o.Type == type ? o : throw new OstreeFormatException($"{_what}: object {index} ({o.Checksum}) is a {o.Type.ToName()}, not a {type.ToName()}");
    }

    // The source table, read from the source commit on first use.
    private DeltaObject[] Table()
    {
        if (_table is null)
        {
            if (!_repo.HasObject(_source, ObjectType.Commit))
            {
                throw new ObjectNotFoundException($"{_what}: needs commit {_source}, which {_repo.Path} does not have");
            }

            _table = DeltaTreeIndex.SortedObjectsOf(_repo, _repo.LoadCommit(_source));
        }

        return _table;
    }

    private ContentObject Load(Checksum c)
    {
        if (!_repo.HasObject(c, ObjectType.File))
        {
            throw new ObjectNotFoundException($"{_what}: needs content object {c}, which {_repo.Path} does not have");
        }

        var content = _repo.LoadContent(c);
        return content.Header.IsSymlink ? throw new OstreeFormatException($"{_what}: content object {c} is a symlink") : content;
    }

    // A size or length: a number that fits a long (a larger one would read as negative).
    private long ReadLength()
    {
        var v = ReadVarint();
        return v <= long.MaxValue ? (long)v : throw new OstreeFormatException($"{_what}: length {v} out of range");
    }

    private ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            int b = _delta.ReadByte();
            if (b < 0)
            {
                throw new OstreeFormatException($"{_what}: the delta ends inside a number");
            }

            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new OstreeFormatException($"{_what}: number too long");
    }

    private int ReadFully(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = _delta.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _object?.Dispose();
            _hash.Dispose();
            _delta.Dispose();
        }

        base.Dispose(disposing);
    }
}
