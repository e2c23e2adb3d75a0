using System.Security.Cryptography;
using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Compression;

/// <summary>A write-through stream that hashes (sha256) and counts what passes.</summary>
internal sealed class HashingWriteStream(Stream inner, bool leaveOpen) : CountingWriteStream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private Digest? _final;

    /// <summary>The digest of everything written (also valid after the stream was disposed).</summary>
    public Digest Finish() => _final ??= Digest.FromHash("sha256", _hash.GetHashAndReset());

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        Count += buffer.Length;
        inner.Write(buffer);
    }

    public override void Flush() => inner.Flush();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Finish();
            _hash.Dispose();
            if (!leaveOpen)
            {
                inner.Dispose();
            }
        }

        base.Dispose(disposing);
    }
}
