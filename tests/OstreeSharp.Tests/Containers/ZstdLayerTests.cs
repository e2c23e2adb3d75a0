using OstreeSharp.Containers.Bridge;

namespace OstreeSharp.Tests.Containers;

public sealed class ZstdLayerTests
{
    [Fact]
    public void Libzstd_is_used_on_linux_and_its_frames_decode_with_the_managed_port()
    {
        Assert.True(!OperatingSystem.IsLinux() || NativeZstdStream.IsAvailable, "libzstd.so.1 (a dependency of apt) should load on Debian");
        var data = new byte[5_000_000];
        ulong state = 7;
        OstreeSharp.TestSupport.TestImages.Fill(data.AsSpan(0, 2_000_000), ref state);
        using var compressed = new MemoryStream();
        using (var z = LayerStreams.Compress(compressed, LayerCompression.Zstd, fast: false))
        {
            for (int i = 0; i < data.Length; i += 70_001)
            {
                z.Write(data, i, Math.Min(70_001, data.Length - i));
            }
        }

        Assert.True(compressed.Length < 2_200_000, $"compressed to {compressed.Length}");
        compressed.Position = 0;
        using var back = new MemoryStream();
        using (var d = LayerStreams.Decompress(compressed, OstreeSharp.Containers.Oci.MediaTypes.OciLayerZstd))
        {
            d.CopyTo(back);
        }

        Assert.Equal(data, back.ToArray());
    }

    [Fact]
    public void An_empty_zstd_layer_is_a_valid_frame()
    {
        using var compressed = new MemoryStream();
        LayerStreams.Compress(compressed, LayerCompression.Zstd, fast: true).Dispose();
        compressed.Position = 0;
        using var d = LayerStreams.Decompress(compressed, OstreeSharp.Containers.Oci.MediaTypes.OciLayerZstd);
        Assert.Equal(-1, d.ReadByte());
    }
}
