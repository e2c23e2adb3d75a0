using OstreeSharp.Internal;

namespace OstreeSharp.Tests;

public sealed class CopyFileRangeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ostree-sharp-cfr-").FullName;

    public void Dispose() => FileUtil.DeleteAny(_dir);

    private (string Input, byte[] Data) Input(int length)
    {
        var data = new byte[length];
        new Random(3).NextBytes(data);
        var path = Path.Combine(_dir, "in");
        File.WriteAllBytes(path, data);
        return (path, data);
    }

    [Fact]
    public void The_kernel_copies_a_file_larger_than_one_call_moves_from_the_start_whatever_the_streams_read_before()
    {
        var (input, data) = Input(3 << 20);
        var output = Path.Combine(_dir, "out");
        using (var i = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var o = new FileStream(output, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            // A FileStream reads with pread at its own position: the descriptor's offset stays at 0 and is not used.
            i.ReadExactly(new byte[100]);
            Assert.True(Native.TryCopyFileRange(i.SafeFileHandle, o.SafeFileHandle, data.Length));
        }

        Assert.Equal(data, File.ReadAllBytes(output));
    }

    [Fact]
    public void An_input_shorter_than_its_declared_length_is_an_error_naming_both_sizes()
    {
        var (input, _) = Input(1000);
        using var i = File.OpenHandle(input);
        using var o = File.OpenHandle(Path.Combine(_dir, "out"), FileMode.CreateNew, FileAccess.Write);
        var e = Assert.Throws<IOException>(() => Native.TryCopyFileRange(i, o, 5000));
        Assert.Equal("copy_file_range: the input ended after 1000 of 5000 bytes", e.Message);
    }

    [Fact]
    public void An_empty_file_copies_as_nothing()
    {
        var (input, _) = Input(0);
        using var i = File.OpenHandle(input);
        using var o = File.OpenHandle(Path.Combine(_dir, "out"), FileMode.CreateNew, FileAccess.Write);
        Assert.True(Native.TryCopyFileRange(i, o, 0));
        Assert.Equal(0, new FileInfo(Path.Combine(_dir, "out")).Length);
    }
}
