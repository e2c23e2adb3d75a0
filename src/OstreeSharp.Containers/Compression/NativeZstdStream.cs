// zstd through the system's libzstd (multi-threaded, as `zstd -T0 -B1M`), when the library is there.
using System.Runtime.InteropServices;

namespace OstreeSharp.Containers.Compression;

/// <summary>
/// A write-only zstd compressing stream over libzstd's streaming API (<c>ZSTD_compressStream2</c>) with one worker per
/// core. <see cref="TryCreate"/> returns null where libzstd cannot be loaded; callers then use the managed port.
/// </summary>
internal sealed unsafe class NativeZstdStream : Stream
{
    private const int CompressionLevelParam = 100;
    private const int ChecksumFlagParam = 201;
    private const int NbWorkersParam = 400;
    private const int JobSizeParam = 401;
    private const int EndContinue = 0;
    private const int EndFrame = 2;

    private static readonly Api? Lib = Api.Load();

    private readonly Stream _output;
    private readonly byte[] _out;
    private nint _cctx;

    private NativeZstdStream(Stream output, nint cctx)
    {
        _output = output;
        _cctx = cctx;
        _out = new byte[(int)Lib!.OutSize()];
    }

    /// <summary>Whether libzstd could be loaded.</summary>
    public static bool IsAvailable => Lib is not null;

    /// <summary>A compressing stream at <paramref name="level"/>, or null without libzstd.</summary>
    public static NativeZstdStream? TryCreate(Stream output, int level, int workers)
    {
        if (Lib is null)
        {
            return null;
        }

        var cctx = Lib.CreateCCtx();
        if (cctx == 0)
        {
            return null;
        }

        Check(Lib.SetParameter(cctx, CompressionLevelParam, level));
        Check(Lib.SetParameter(cctx, ChecksumFlagParam, 1));
        // A libzstd built without threads refuses workers: then it compresses on this thread.
        if (workers > 0 && Lib.IsError(Lib.SetParameter(cctx, NbWorkersParam, workers)) == 0)
        {
            Check(Lib.SetParameter(cctx, JobSizeParam, LayerStreams.ZstdJobSize));
        }

        return new NativeZstdStream(output, cctx);
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_cctx == 0, this);
        fixed (byte* src = buffer)
        {
            var input = new Buffer { Ptr = src, Size = (nuint)buffer.Length, Pos = 0 };
            while (input.Pos < input.Size)
            {
                Drive(ref input, EndContinue);
            }
        }
    }

    private nuint Drive(ref Buffer input, int endOp)
    {
        fixed (byte* dst = _out)
        {
            var output = new Buffer { Ptr = dst, Size = (nuint)_out.Length, Pos = 0 };
            nuint remaining;
            fixed (Buffer* pin = &input)
            {
                remaining = Lib!.CompressStream2(_cctx, &output, pin, endOp);
            }

            Check(remaining);
            if (output.Pos > 0)
            {
                _output.Write(_out, 0, (int)output.Pos);
            }

            return remaining;
        }
    }

    public override void Flush() => _output.Flush();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (_cctx != 0)
        {
            try
            {
                if (disposing)
                {
                    var empty = default(Buffer);
                    while (Drive(ref empty, EndFrame) != 0)
                    {
                    }

                    _output.Flush();
                }
            }
            finally
            {
                Lib!.FreeCCtx(_cctx);
                _cctx = 0;
            }
        }

        base.Dispose(disposing);
    }

    private static void Check(nuint code)
    {
        if (Lib!.IsError(code) != 0)
        {
            throw new IOException("zstd: " + Marshal.PtrToStringUTF8(Lib.ErrorName(code)));
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Buffer
    {
        public byte* Ptr;
        public nuint Size;
        public nuint Pos;
    }

    private sealed class Api
    {
        public delegate* unmanaged<nint> CreateCCtx;
        public delegate* unmanaged<nint, nuint> FreeCCtxPtr;
        public delegate* unmanaged<nint, int, int, nuint> SetParameterPtr;
        public delegate* unmanaged<nint, Buffer*, Buffer*, int, nuint> CompressStream2Ptr;
        public delegate* unmanaged<nuint, uint> IsErrorPtr;
        public delegate* unmanaged<nuint, nint> ErrorNamePtr;
        public delegate* unmanaged<nuint> OutSizePtr;

        public static Api? Load()
        {
            if (Environment.GetEnvironmentVariable("OSTREE_SHARP_MANAGED_ZSTD") == "1" || !OperatingSystem.IsLinux()
                || !(NativeLibrary.TryLoad("libzstd.so.1", out var h) || NativeLibrary.TryLoad("libzstd.so", out h)))
            {
                return null;
            }

            nint Get(string name) => NativeLibrary.TryGetExport(h, name, out var p) ? p : 0;
            var api = new Api
            {
                CreateCCtx = (delegate* unmanaged<nint>)Get("ZSTD_createCCtx"),
                FreeCCtxPtr = (delegate* unmanaged<nint, nuint>)Get("ZSTD_freeCCtx"),
                SetParameterPtr = (delegate* unmanaged<nint, int, int, nuint>)Get("ZSTD_CCtx_setParameter"),
                CompressStream2Ptr = (delegate* unmanaged<nint, Buffer*, Buffer*, int, nuint>)Get("ZSTD_compressStream2"),
                IsErrorPtr = (delegate* unmanaged<nuint, uint>)Get("ZSTD_isError"),
                ErrorNamePtr = (delegate* unmanaged<nuint, nint>)Get("ZSTD_getErrorName"),
                OutSizePtr = (delegate* unmanaged<nuint>)Get("ZSTD_CStreamOutSize"),
            };
            return api.CreateCCtx == null || api.FreeCCtxPtr == null || api.SetParameterPtr == null || api.CompressStream2Ptr == null
                || api.IsErrorPtr == null || api.ErrorNamePtr == null || api.OutSizePtr == null ? null : api;
        }

        public void FreeCCtx(nint c) => FreeCCtxPtr(c);

        public nuint SetParameter(nint c, int p, int v) => SetParameterPtr(c, p, v);

        public nuint CompressStream2(nint c, Buffer* o, Buffer* i, int e) => CompressStream2Ptr(c, o, i, e);

        public uint IsError(nuint code) => IsErrorPtr(code);

        public nint ErrorName(nuint code) => ErrorNamePtr(code);

        public nuint OutSize() => OutSizePtr();
    }
}
