// xz (LZMA2) through the system's liblzma: libostree compresses static delta parts with it (preset 8, CRC64).
using System.Runtime.InteropServices;
using OstreeSharp.Internal;

namespace OstreeSharp.Deltas;

/// <summary>
/// Whole-buffer xz compression and decompression over liblzma (<c>liblzma.so.5</c>, part of every Debian and Fedora
/// base system). Delta parts are bounded in size (32 MB by default), so they are handled as buffers, as libostree does.
/// </summary>
internal static unsafe class Xz
{
    private const int LzmaOk = 0;
    private const int LzmaStreamEnd = 1;
    private const int LzmaBufError = 10;
    private const int ActionFinish = 3;
    private const uint CheckCrc64 = 4;

    private static readonly Api? Lib = Api.Load();

    /// <summary>Whether liblzma could be loaded.</summary>
    public static bool IsAvailable => Lib is not null;

    /// <summary>Compresses <paramref name="data"/> to an xz stream at <paramref name="preset"/> (0-9).</summary>
    /// <exception cref="OstreeException">liblzma is missing or failed.</exception>
    public static byte[] Compress(ReadOnlySpan<byte> data, uint preset = 8)
    {
        var lib = Require();
        var strm = default(LzmaStream);
        Check(lib.EasyEncoder(&strm, preset, CheckCrc64), "encoder");
        try
        {
            var output = new MemoryStream(Math.Max(4096, data.Length / 4));
            Run(lib, &strm, data, output, ActionFinish, long.MaxValue, "compress");
            return output.ToArray();
        }
        finally
        {
            lib.End(&strm);
        }
    }

    /// <summary>Decompresses an xz stream, refusing more than <paramref name="maxSize"/> bytes of output.</summary>
    /// <exception cref="OstreeFormatException">The data is not a valid xz stream, or expands beyond the limit.</exception>
    public static byte[] Decompress(ReadOnlySpan<byte> data, long maxSize, string what)
    {
        var lib = Require();
        var strm = default(LzmaStream);
        Check(lib.StreamDecoder(&strm, ulong.MaxValue, 0), "decoder");
        try
        {
            var output = new MemoryStream(Math.Max(4096, data.Length * 3));
            Run(lib, &strm, data, output, ActionFinish, maxSize, what);
            return output.ToArray();
        }
        finally
        {
            lib.End(&strm);
        }
    }

    /// <summary>Compresses all of <paramref name="input"/> into <paramref name="output"/> as one xz stream, in constant memory.</summary>
    public static void Compress(Stream input, Stream output, uint preset = 8)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var lib = Require();
        var strm = (LzmaStream*)NativeMemory.AllocZeroed((nuint)sizeof(LzmaStream));
        var inBuf = new byte[1 << 16];
        var outBuf = new byte[1 << 16];
        try
        {
            Check(lib.EasyEncoder(strm, preset, CheckCrc64), "encoder");
            fixed (byte* inp = inBuf)
            fixed (byte* outp = outBuf)
            {
                bool done = false;
                while (true)
                {
                    if (strm->AvailIn == 0 && !done)
                    {
                        int n = input.Read(inBuf);
                        done = n == 0;
                        strm->NextIn = inp;
                        strm->AvailIn = (nuint)n;
                    }

                    strm->NextOut = outp;
                    strm->AvailOut = (nuint)outBuf.Length;
                    int ret = lib.Code(strm, done ? ActionFinish : 0);
                    output.Write(outBuf, 0, outBuf.Length - (int)strm->AvailOut);
                    if (ret == LzmaStreamEnd)
                    {
                        return;
                    }

                    if (ret != LzmaOk)
                    {
                        throw new OstreeException(OstreeErrorCode.Failed, $"liblzma: compression failed (error {ret})");
                    }
                }
            }
        }
        finally
        {
            lib.End(strm);
            NativeMemory.Free(strm);
        }
    }

    /// <summary>A stream that decompresses the xz stream read from <paramref name="input"/>.</summary>
    public static Stream OpenDecompressing(Stream input, string what) => new DecompressingStream(input, Require(), what);

    private sealed class DecompressingStream : ReadOnlyStream
    {
        private readonly Stream _input;
        private readonly Api _lib;
        private readonly string _what;
        private readonly byte[] _inBuf = new byte[1 << 16];
        private readonly LzmaStream* _strm;
        private int _inPos, _inLen;
        private bool _inputDone, _ended, _disposed;

        public DecompressingStream(Stream input, Api lib, string what)
        {
            _input = input;
            _lib = lib;
            _what = what;
            _strm = (LzmaStream*)NativeMemory.AllocZeroed((nuint)sizeof(LzmaStream));
            int ret = lib.StreamDecoder(_strm, ulong.MaxValue, 0);
            if (ret != LzmaOk)
            {
                NativeMemory.Free(_strm);
                throw new OstreeException(OstreeErrorCode.Failed, $"liblzma: could not set up the decoder (error {ret})");
            }
        }

        public override int Read(Span<byte> buffer)
        {
            if (_ended || buffer.IsEmpty)
            {
                return 0;
            }

            fixed (byte* outp = buffer)
            fixed (byte* inp = _inBuf)
            {
                while (true)
                {
                    if (_inPos == _inLen && !_inputDone)
                    {
                        _inLen = _input.Read(_inBuf);
                        _inPos = 0;
                        _inputDone = _inLen == 0;
                    }

                    _strm->NextIn = inp + _inPos;
                    _strm->AvailIn = (nuint)(_inLen - _inPos);
                    _strm->NextOut = outp;
                    _strm->AvailOut = (nuint)buffer.Length;
                    int ret = _lib.Code(_strm, _inputDone ? ActionFinish : 0);
                    _inPos = _inLen - (int)_strm->AvailIn;
                    int produced = buffer.Length - (int)_strm->AvailOut;
                    if (ret == LzmaStreamEnd)
                    {
                        _ended = true;
                        if (_inPos != _inLen || _input.Read(_inBuf, 0, 1) != 0)
                        {
                            throw new OstreeFormatException($"{_what}: trailing data after the xz stream");
                        }

                        return produced;
                    }

                    if (ret != LzmaOk && !(ret == LzmaBufError && produced > 0))
                    {
                        throw new OstreeFormatException(ret == LzmaBufError ? $"{_what}: truncated xz data" : $"{_what}: corrupt xz data (liblzma error {ret})");
                    }

                    if (produced > 0)
                    {
                        return produced;
                    }
                }
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (!_disposed)
            {
                _disposed = true;
                _lib.End(_strm);
                NativeMemory.Free(_strm);
                if (disposing)
                {
                    _input.Dispose();
                }
            }

            base.Dispose(disposing);
        }
    }

    private static void Run(Api lib, LzmaStream* strm, ReadOnlySpan<byte> data, MemoryStream output, int action, long maxSize, string what)
    {
        var buffer = new byte[1 << 16];
        fixed (byte* input = data)
        fixed (byte* outp = buffer)
        {
            strm->NextIn = input;
            strm->AvailIn = (nuint)data.Length;
            while (true)
            {
                strm->NextOut = outp;
                strm->AvailOut = (nuint)buffer.Length;
                int ret = lib.Code(strm, action);
                int produced = buffer.Length - (int)strm->AvailOut;
                output.Write(buffer, 0, produced);
                if (output.Length > maxSize)
                {
                    throw new OstreeFormatException($"{what}: xz data expands beyond {maxSize} bytes");
                }

                if (ret == LzmaStreamEnd)
                {
                    if (strm->AvailIn != 0)
                    {
                        throw new OstreeFormatException($"{what}: {strm->AvailIn} bytes of trailing data after the xz stream");
                    }

                    return;
                }

                if (ret == LzmaBufError && produced == 0)
                {
                    throw new OstreeFormatException($"{what}: truncated xz data");
                }

                if (ret != LzmaOk && ret != LzmaBufError)
                {
                    throw new OstreeFormatException($"{what}: corrupt xz data (liblzma error {ret})");
                }
            }
        }
    }

    private static Api Require() =>
        Lib ?? throw new OstreeException(OstreeErrorCode.NotSupported, "xz needs liblzma (liblzma.so.5; Debian: apt-get install liblzma5), which could not be loaded");

    private static void Check(int ret, string what)
    {
        if (ret != LzmaOk)
        {
            throw new OstreeException(OstreeErrorCode.Failed, $"liblzma: could not set up the {what} (error {ret})");
        }
    }

    // lzma_stream of liblzma 5 (all fields after the buffers are reserved and must be zero).
    [StructLayout(LayoutKind.Sequential)]
    private struct LzmaStream
    {
        public byte* NextIn;
        public nuint AvailIn;
        public ulong TotalIn;
        public byte* NextOut;
        public nuint AvailOut;
        public ulong TotalOut;
        public nint Allocator;
        public nint Internal;
        public nint Reserved1;
        public nint Reserved2;
        public nint Reserved3;
        public nint Reserved4;
        public ulong SeekPos;
        public ulong ReservedInt2;
        public nuint ReservedInt3;
        public nuint ReservedInt4;
        public int ReservedEnum1;
        public int ReservedEnum2;
    }

    private sealed class Api
    {
        public delegate* unmanaged<LzmaStream*, uint, uint, int> EasyEncoderPtr;
        public delegate* unmanaged<LzmaStream*, ulong, uint, int> StreamDecoderPtr;
        public delegate* unmanaged<LzmaStream*, int, int> CodePtr;
        public delegate* unmanaged<LzmaStream*, void> EndPtr;

        public static Api? Load()
        {
            if (!(NativeLibrary.TryLoad("liblzma.so.5", out var h) || NativeLibrary.TryLoad("liblzma.so", out h)
                || NativeLibrary.TryLoad("liblzma.5.dylib", out h) || NativeLibrary.TryLoad("liblzma", out h)))
            {
                return null;
            }

            nint Get(string name) => NativeLibrary.TryGetExport(h, name, out var p) ? p : 0;
            var api = new Api
            {
                EasyEncoderPtr = (delegate* unmanaged<LzmaStream*, uint, uint, int>)Get("lzma_easy_encoder"),
                StreamDecoderPtr = (delegate* unmanaged<LzmaStream*, ulong, uint, int>)Get("lzma_stream_decoder"),
                CodePtr = (delegate* unmanaged<LzmaStream*, int, int>)Get("lzma_code"),
                EndPtr = (delegate* unmanaged<LzmaStream*, void>)Get("lzma_end"),
            };
            return api.EasyEncoderPtr == null || api.StreamDecoderPtr == null || api.CodePtr == null || api.EndPtr == null ? null : api;
        }

        public int EasyEncoder(LzmaStream* s, uint preset, uint check) => EasyEncoderPtr(s, preset, check);

        public int StreamDecoder(LzmaStream* s, ulong memlimit, uint flags) => StreamDecoderPtr(s, memlimit, flags);

        public int Code(LzmaStream* s, int action) => CodePtr(s, action);

        public void End(LzmaStream* s) => EndPtr(s);
    }
}
