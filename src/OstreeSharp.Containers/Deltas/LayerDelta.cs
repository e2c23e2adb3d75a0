// The layer delta format (docs/container-deltas.md): an xz stream whose content rebuilds one uncompressed layer tar,
// byte for byte, from data the client keeps in its ostree repository.
//   header   "OSLDELTA" | version 1 | 32-byte sha256 of the rebuilt tar (its diff-id) | varint tar size
//   records  'L' varint n, n bytes            literal bytes
//            'O' 64 hex                        all data of that content object (a regular file the client keeps)
//            'P' 64 hex, varint n, varint m, m bytes
//                                              n bytes: the bsdiff patch (m bytes) applied to that kept object
//            'E'                               end: the rebuilt size and sha256 must equal the header's
// Object ids are written in hex because the tar just before names the object in hex: xz then stores the id as a
// back-reference of a few bytes instead of 32 random ones.
using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Deltas;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Containers.Deltas;

/// <summary>Names of the container delta format.</summary>
public static class ContainerDeltaFormat
{
    /// <summary>The artifact type of a delta manifest (it refers to the target image through <c>subject</c>).</summary>
    public const string ArtifactType = "application/vnd.ostreesharp.container-delta.v1";

    /// <summary>The media type of a layer delta blob.</summary>
    public const string LayerDeltaMediaType = "application/vnd.ostreesharp.layer-delta.v1+xz";

    /// <summary>Annotation of the manifest (and its referrers entry): the manifest digest of the image the delta starts from.</summary>
    public const string FromAnnotation = "org.ostreesharp.delta.from";

    /// <summary>Annotation of a layer delta: the digest of the layer it rebuilds.</summary>
    public const string TargetLayerAnnotation = "org.ostreesharp.delta.target-layer";

    /// <summary>Annotation of a layer delta: the diff-id (sha256 of the uncompressed tar) it rebuilds.</summary>
    public const string TargetDiffIdAnnotation = "org.ostreesharp.delta.target-diff-id";

    /// <summary>The OCI empty descriptor's media type, used as the delta manifest's config.</summary>
    public const string EmptyMediaType = "application/vnd.oci.empty.v1+json";

    internal static ReadOnlySpan<byte> Magic => "OSLDELTA"u8;

    internal const byte Version = 1;
}

/// <summary>Writes the records of a layer delta (uncompressed) to a stream.</summary>
internal sealed class LayerDeltaWriter
{
    private const int LiteralFlush = 1 << 20;
    private readonly Stream _out;
    private readonly ArrayBufferWriter<byte> _pending = new(LiteralFlush);
    private readonly ArrayBufferWriter<byte> _scratch = new(16);

    public LayerDeltaWriter(Stream output, Digest diffId, long size)
    {
        _out = output;
        _out.Write(ContainerDeltaFormat.Magic);
        _out.WriteByte(ContainerDeltaFormat.Version);
        _out.Write(Convert.FromHexString(diffId.Hex));
        WriteVarint((ulong)size);
    }

    public long ObjectRecords { get; private set; }

    public long PatchRecords { get; private set; }

    public long LiteralBytes { get; private set; }

    public void Literal(ReadOnlySpan<byte> bytes)
    {
        LiteralBytes += bytes.Length;
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

    public void Object(Checksum c)
    {
        FlushLiteral();
        ObjectRecords++;
        _out.WriteByte((byte)'O');
        _out.Write(Encoding.ASCII.GetBytes(c.ToHex()));
    }

    public void Patch(Checksum source, long newSize, ReadOnlySpan<byte> patch)
    {
        FlushLiteral();
        PatchRecords++;
        _out.WriteByte((byte)'P');
        _out.Write(Encoding.ASCII.GetBytes(source.ToHex()));
        WriteVarint((ulong)newSize);
        WriteVarint((ulong)patch.Length);
        _out.Write(patch);
    }

    public void Finish()
    {
        FlushLiteral();
        _out.WriteByte((byte)'E');
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
internal sealed class LayerDeltaStream : ReadOnlyStream
{
    private const long MaxPatchSize = 512L << 20;
    private readonly Stream _delta;
    private readonly OstreeRepo _repo;
    private readonly string _what;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _expectedHash;
    private readonly long _expectedSize;
    private long _produced;
    private long _literalLeft;
    private Stream? _object;
    private byte[]? _buffer;
    private int _bufferPos;
    private bool _ended;

    public LayerDeltaStream(Stream delta, OstreeRepo repo, Digest expectedDiffId, string what)
    {
        _delta = delta;
        _repo = repo;
        _what = what;
        Span<byte> head = stackalloc byte[9 + 32];
        if (ReadFully(head) != head.Length || !head[..8].SequenceEqual(ContainerDeltaFormat.Magic))
        {
            throw new OstreeFormatException($"{what}: not a layer delta");
        }

        if (head[8] != ContainerDeltaFormat.Version)
        {
            throw new OstreeFormatException($"{what}: layer delta version {head[8]} is not supported");
        }

        _expectedHash = head[9..].ToArray();
        if (expectedDiffId.Algorithm != "sha256" || !_expectedHash.AsSpan().SequenceEqual(Convert.FromHexString(expectedDiffId.Hex)))
        {
            throw new DigestMismatchException($"{what}: the delta rebuilds sha256:{Convert.ToHexStringLower(_expectedHash)}, not the layer's {expectedDiffId}");
        }

        _expectedSize = (long)ReadVarint();
    }

    public override int Read(Span<byte> buffer)
    {
        while (!_ended && !buffer.IsEmpty)
        {
            int n = 0;
            if (_literalLeft > 0)
            {
                n = _delta.Read(buffer[..(int)Math.Min(buffer.Length, _literalLeft)]);
                if (n == 0)
                {
                    throw new OstreeFormatException($"{_what}: the delta ends inside a literal");
                }

                _literalLeft -= n;
            }
            else if (_object is not null)
            {
                n = _object.Read(buffer);
                if (n == 0)
                {
                    _object.Dispose();
                    _object = null;
                    continue;
                }
            }
            else if (_buffer is not null)
            {
                n = Math.Min(buffer.Length, _buffer.Length - _bufferPos);
                _buffer.AsSpan(_bufferPos, n).CopyTo(buffer);
                _bufferPos += n;
                if (_bufferPos == _buffer.Length)
                {
                    _buffer = null;
                }
            }
            else
            {
                NextRecord();
                continue;
            }

            _hash.AppendData(buffer[..n]);
            _produced += n;
            if (_produced > _expectedSize)
            {
                throw new DigestMismatchException($"{_what}: the delta rebuilds more than the {_expectedSize} bytes it announces");
            }

            return n;
        }

        return 0;
    }

    private void NextRecord()
    {
        int op = _delta.ReadByte();
        switch (op)
        {
            case 'L':
                _literalLeft = (long)ReadVarint();
                break;
            case 'O':
            {
                var content = Load(ReadHexChecksum());
                _object = content.OpenData();
                break;
            }

            case 'P':
            {
                var source = Load(ReadHexChecksum());
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

                var old = source.ReadAllData();
                _buffer = new byte[size];
                _bufferPos = 0;
                Bsdiff.Patch(old, patch, _buffer);
                if (_buffer.Length == 0)
                {
                    _buffer = null;
                }

                break;
            }

            case 'E':
                _ended = true;
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

    private ContentObject Load(Checksum c)
    {
        if (!_repo.HasObject(c, ObjectType.File))
        {
            throw new ObjectNotFoundException($"{_what}: needs content object {c}, which {_repo.Path} does not have");
        }

        var content = _repo.LoadContent(c);
        return content.Header.IsSymlink ? throw new OstreeFormatException($"{_what}: content object {c} is a symlink") : content;
    }

    private Checksum ReadHexChecksum()
    {
        Span<byte> hex = stackalloc byte[64];
        if (ReadFully(hex) != 64 || !Checksum.TryParse(Encoding.ASCII.GetString(hex), out var c))
        {
            throw new OstreeFormatException($"{_what}: invalid object id in the delta");
        }

        return c;
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
