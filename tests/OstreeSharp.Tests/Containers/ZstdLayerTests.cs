using OstreeSharp.Containers.Compression;

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
    [Fact]
    public void Layers_are_the_bytes_of_the_zstd_cli_with_1_MiB_jobs_for_any_number_of_workers()
    {
        // 1 MB of noise six times: libzstd's default takes it as one job of 8 MiB and finds each copy 1 MB back; jobs of
        // 1 MiB see less than that of the input before them, so the job size shows in the bytes.
        var data = new byte[6_000_000];
        new Random(11).NextBytes(data.AsSpan(0, 1_000_000));
        for (int i = 1; i < 6; i++)
        {
            data.AsSpan(0, 1_000_000).CopyTo(data.AsSpan(i * 1_000_000));
        }
        byte[] Ours(int threads)
        {
            using var compressed = new MemoryStream();
            using (var z = LayerStreams.Compress(compressed, LayerCompression.Zstd, fast: false, threads))
            {
                z.Write(data);
            }

            return compressed.ToArray();
        }

        var two = Ours(2);
        Assert.Equal(two, Ours(3));
        Assert.Equal(Zstd(data, "-3", "-T2", "-B1M"), two);
        Assert.NotEqual(Zstd(data, "-3", "-T2", "-B1536K"), two);
        Assert.NotEqual(Zstd(data, "-3", "-T2"), two);
    }

    // The zstd CLI (a test peer) reading standard input, as `tar | zstd` does.
    private static byte[] Zstd(byte[] input, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("zstd") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args.Append("-q").Append("-c"))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = new MemoryStream();
        var reading = p.StandardOutput.BaseStream.CopyToAsync(output);
        var errors = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(input);
        p.StandardInput.Close();
        reading.Wait();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, "zstd: " + errors.Result);
        return output.ToArray();
    }
}
