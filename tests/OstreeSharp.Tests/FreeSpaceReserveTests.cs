using System.IO.Compression;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Tests;

/// <summary>
/// The repository settings libostree reads that change how objects are written: the free-space reserve
/// (core.min-free-space-size, core.min-free-space-percent) and the archive compression level (archive.zlib-level).
/// What ostree 2026.4 prints for the same configs is compared in FullDiskTests (interop).
/// </summary>
public sealed class FreeSpaceReserveTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-ut-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    private string RepoPath => Path.Combine(_dir, "repo");

    private static KeyFile Core(params string[] lines) =>
        KeyFile.Parse("[core]\nrepo_version=1\nmode=bare-user\n" + string.Concat(lines.Select(l => l + "\n")), "config");

    [Theory]
    [InlineData("", 0ul, 3u)] // libostree's default: 3%
    [InlineData("min-free-space-size=500MB", 500ul, 0u)] // a size alone turns the default percentage off
    [InlineData("min-free-space-size=2GB", 2048ul, 0u)]
    [InlineData("min-free-space-size=1TB", 1048576ul, 0u)]
    [InlineData("min-free-space-size=0MB", 0ul, 0u)] // ... even a zero one: no reserve at all
    [InlineData("min-free-space-size=0MB|min-free-space-percent=5", 0ul, 5u)]
    [InlineData("min-free-space-size=95MB|min-free-space-percent=1", 95ul, 1u)] // the size wins (see Exceeded)
    [InlineData("min-free-space-percent=0", 0ul, 0u)]
    [InlineData("min-free-space-percent=", 0ul, 0u)]
    [InlineData("min-free-space-percent=99", 0ul, 99u)]
    [InlineData("min-free-space-size=99999999999999999999999TB", ulong.MaxValue, 0u)] // refused when a transaction begins
    public void The_reserve_is_read_as_libostree_reads_it(string lines, ulong megabytes, uint percent)
    {
        var reserve = FreeSpaceReserve.FromConfig(Core(lines.Split('|', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal((megabytes, percent), (reserve.Megabytes, reserve.Percent));
        Assert.Equal(megabytes > 0 || percent > 0, reserve.Enabled);
    }

    [Theory]
    [InlineData("min-free-space-percent=100", "Invalid min-free-space-percent '100'")]
    [InlineData("min-free-space-percent=abc", "Invalid min-free-space-percent 'abc': must be a number")]
    [InlineData("min-free-space-percent=-1", "Invalid min-free-space-percent '-1': must be a number")]
    [InlineData("min-free-space-size=95mb", "Invalid min-free-space-size '95mb': It should be of the format '123MB', '123GB' or '123TB'")]
    [InlineData("min-free-space-size=95", "Invalid min-free-space-size '95': It should be of the format '123MB', '123GB' or '123TB'")]
    [InlineData("min-free-space-size=", "Invalid min-free-space-size '': It should be of the format '123MB', '123GB' or '123TB'")]
    public void An_invalid_reserve_is_refused_when_the_repository_opens(string line, string message)
    {
        var repo = OstreeRepo.Create(RepoPath, RepoMode.BareUser);
        File.AppendAllText(repo.ConfigPath, line + "\n");
        var e = Assert.ThrowsAny<OstreeException>(() => OstreeRepo.Open(RepoPath));
        Assert.Equal(OstreeErrorCode.RepositoryConfigInvalid, e.ErrorCode);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_reserve_larger_than_the_free_space_refuses_content_but_not_metadata()
    {
        var repo = OstreeRepo.Create(RepoPath, RepoMode.BareUser);
        var fs = Native.StatVfs(repo.Path);
        ulong free = (Native.EffectiveUid == 0 ? fs.FreeBlocks : fs.AvailableBlocks) * fs.BlockSize;
        ulong megabytes = (free >> 20) + 1024;
        repo.Config.Set("core", "min-free-space-size", $"{megabytes}MB");
        repo.SaveConfig();
        repo = OstreeRepo.Open(repo.Path);

        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        var data = new byte[10_000];
        using (var tx = repo.BeginTransaction())
        {
            var e = Assert.Throws<OstreeException>(() => tx.WriteContent(header, new MemoryStream(data), data.Length));
            Assert.Equal(OstreeErrorCode.InsufficientSpace, e.ErrorCode);
            // Two blocks of 4 KiB on the usual filesystems: the object's size in whole blocks, plus one.
            long asked = ((data.Length / (long)fs.BlockSize) + 1) * (long)fs.BlockSize;
            Assert.Equal($"Writing content object: min-free-space-size {megabytes}MB would be exceeded, at least {SizeFormat.FormatAsGlibPrints(asked)} requested", e.Message);

            var known = header.ComputeChecksum(data);
            Assert.Throws<OstreeException>(() => tx.WriteContent(header, new MemoryStream(data), data.Length, known));
            Assert.False(tx.HasObject(known, ObjectType.File));

            // Metadata is never refused: a dirmeta goes in.
            var meta = new DirMeta(0, 0, UnixMode.Directory | 0x1ED, Xattrs.Empty).ToBytes();
            tx.WriteMetadata(ObjectType.DirMeta, meta);
            tx.Commit();
        }

        Assert.Empty(Directory.EnumerateFiles(Path.Combine(repo.Path, "objects"), "*.file", SearchOption.AllDirectories));
        Assert.Single(Directory.EnumerateFiles(Path.Combine(repo.Path, "objects"), "*.dirmeta", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_reserve_past_two_to_the_sixty_four_bytes_is_refused_when_a_transaction_begins()
    {
        var repo = OstreeRepo.Create(RepoPath, RepoMode.BareUser);
        File.AppendAllText(repo.ConfigPath, "min-free-space-size=99999999999TB\n");
        repo = OstreeRepo.Open(repo.Path);
        var e = Assert.Throws<OstreeException>(() => repo.BeginTransaction());
        Assert.Equal("Error calculating min-free-space bytes: min-free-space value is greater than the maximum allowed value of 17592186044415 bytes", e.Message);
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(repo.Path, "tmp"), "staging-*"));
    }

    [Theory]
    [InlineData(null, 6)]
    [InlineData("1", 1)]
    [InlineData("9", 9)]
    [InlineData("0", 1)]
    [InlineData("77", 9)]
    [InlineData("abc", 1)]
    [InlineData("3x", 3)]
    public void Archive_objects_are_deflated_at_the_configured_level(string? value, int level)
    {
        var repo = OstreeRepo.Create(RepoPath, RepoMode.Archive);
        if (value is not null)
        {
            repo.Config.Set("archive", "zlib-level", value);
            repo.SaveConfig();
            repo = OstreeRepo.Open(repo.Path);
        }

        Assert.Equal(level, repo.ArchiveZlibLevel);
        var text = System.Text.Encoding.ASCII.GetBytes(string.Join('\n', Enumerable.Range(0, 50_000)));
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        Checksum c;
        using (var tx = repo.BeginTransaction())
        {
            c = tx.WriteContent(header, new MemoryStream(text), text.Length);
            tx.Commit();
        }

        // The object is the archive header, then the content deflated at that level, as zlib-ng writes it here.
        var stored = File.ReadAllBytes(repo.ObjectPath(c, ObjectType.File));
        using var expected = new MemoryStream();
        using (var z = new DeflateStream(expected, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
        {
            z.Write(text);
        }

        Assert.Equal(expected.ToArray(), stored[^(int)expected.Length..]);
        using var back = new MemoryStream();
        repo.LoadContent(c).OpenData().CopyTo(back);
        Assert.Equal(text, back.ToArray());
    }
}
