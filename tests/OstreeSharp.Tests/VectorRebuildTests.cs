using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Tests;

/// <summary>
/// Rebuilds the vectors' input trees exactly as build.sh does and commits them with our code:
/// the commit ids, the bare-user-only id and the tombstone bytes must be libostree's.
/// </summary>
public sealed class VectorRebuildTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-vec-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    private static void F(string root, string rel, string content, uint mode)
    {
        var p = Path.Combine(root, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllBytes(p, Encoding.Latin1.GetBytes(content));
        Native.Chmod(p, mode);
    }

    private (string T1, string T2) BuildTrees()
    {
        var t1 = Path.Combine(_dir, "tree1");
        F(t1, "README", "Hello, OSTree!\n", 0x1A4);
        F(t1, "Zeta", "Hello, OSTree!\n", 0x1A4);
        F(t1, "empty", string.Empty, 0x1A4);
        F(t1, "bin/tool", "#!/bin/sh\necho tool\n", 0x1ED);
        F(t1, "sub/data.bin", "\u0000\u0001\u0002\u00ff", 0x180);
        File.CreateSymbolicLink(Path.Combine(t1, "link-to-readme"), "README");
        File.CreateSymbolicLink(Path.Combine(t1, "sub/dangling"), "does/not/exist");
        Directory.CreateDirectory(Path.Combine(t1, "sub/nested"));
        foreach (var (d, m) in new[] { (string.Empty, 0x1EDu), ("bin", 0x1EDu), ("sub", 0x1EDu), ("sub/nested", 0x1C0u) })
        {
            Native.Chmod(Path.Combine(t1, d), m);
        }

        Native.SetXattr(Path.Combine(t1, "sub/data.bin"), "user.b", "beta"u8);
        Native.SetXattr(Path.Combine(t1, "sub/data.bin"), "user.a", "alpha"u8);
        Native.SetXattr(Path.Combine(t1, "sub"), "user.dirnote", "subdir"u8);

        var t2 = Path.Combine(_dir, "tree2");
        CopyTree(t1, t2);
        F(t2, "README", "Hello again, OSTree!\n", 0x1A4);
        File.Delete(Path.Combine(t2, "empty"));
        F(t2, "new.txt", "new file\n", 0x1A4);
        return (t1, t2);
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        Native.Chmod(to, Native.LStat(from).Mode);
        foreach (var (n, v) in Native.ListXattrs(from))
        {
            Native.SetXattr(to, n, v);
        }

        foreach (var e in Directory.EnumerateFileSystemEntries(from))
        {
            var dest = Path.Combine(to, Path.GetFileName(e));
            var st = Native.LStat(e);
            if (st.Type == UnixMode.Directory)
            {
                CopyTree(e, dest);
                continue;
            }

            if (st.Type == UnixMode.Symlink)
            {
                File.CreateSymbolicLink(dest, new FileInfo(e).LinkTarget!);
                continue;
            }

            File.Copy(e, dest);
            Native.Chmod(dest, st.Mode);
            foreach (var (n, v) in Native.ListXattrs(e))
            {
                Native.SetXattr(dest, n, v);
            }
        }
    }

    private static async Task<Checksum> Commit(OstreeRepo repo, string tree, string subject, string body, string time, string version, string? detached)
    {
        bool buo = repo.Mode == RepoMode.BareUserOnly;
        var result = await repo.CommitDirectoryAsync(tree, new CommitRequest
        {
            Branch = "test/main",
            Subject = subject,
            Body = body,
            Timestamp = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture),
            Metadata = [new("version", GVariantValue.FromString(version))],
            DetachedMetadata = detached is null ? [] : [new("note", GVariantValue.FromString(detached))],
        }, new CommitModifier { OwnerUid = 0, OwnerGid = 0, CanonicalPermissions = buo, NoXattrs = buo });
        return result.Commit;
    }

    [Theory]
    [InlineData("archive")]
    [InlineData("bare-user")]
    [InlineData("bare-user-only")]
    public async Task Build_sh_commits_reproduce_the_vector_ids(string mode)
    {
        var (t1, t2) = BuildTrees();
        var repo = OstreeRepo.Create(Path.Combine(_dir, mode), RepoModeNames.Parse(mode));
        var commits = Vectors.Manifest.GetProperty("commits");
        var c1 = await Commit(repo, t1, "Initial commit", "First test commit.", "2021-01-01T00:00:00Z", "1.0", null);
        if (mode == "bare-user-only")
        {
            Assert.Equal(commits.Str("bare_user_only_c1"), c1.ToHex());
            return;
        }

        Assert.Equal(commits.Str("c1"), c1.ToHex());
        var c2 = await Commit(repo, t2, "Second commit", string.Empty, "2021-01-02T00:00:00Z", "1.1", "detached");
        Assert.Equal(commits.Str("c2"), c2.ToHex());
        var meta = File.ReadAllBytes(repo.ObjectPath(c2, ObjectType.CommitMeta));
        Assert.Equal(Vectors.Find("archive", c2.ToHex() + ".commitmeta").Hex("hex"), meta);
        if (mode == "archive")
        {
            // Every metadata object of the vector repository exists with the same bytes.
            foreach (var o in Vectors.Objects("archive").Where(o => o.Str("type") is "dirtree" or "dirmeta" or "commit"))
            {
                Assert.Equal(o.Hex("hex"), File.ReadAllBytes(Path.Combine(repo.Path, o.Str("path"))));
            }
        }
    }

    [Fact]
    public async Task Deleting_a_commit_writes_the_vector_tombstone()
    {
        var (t1, _) = BuildTrees();
        var repo = OstreeRepo.Create(Path.Combine(_dir, "tomb"), RepoMode.Archive);
        repo.Config.Set("core", "tombstone-commits", "true");
        repo.SaveConfig();
        repo = OstreeRepo.Open(repo.Path);
        var doomed = (await repo.CommitDirectoryAsync(t1, new CommitRequest
        {
            Orphan = true,
            Subject = "Doomed commit",
            Timestamp = DateTimeOffset.Parse("2021-01-03T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture),
        }, new CommitModifier { OwnerUid = 0, OwnerGid = 0 })).Commit;
        var commits = Vectors.Manifest.GetProperty("commits");
        Assert.Equal(commits.Str("tombstoned"), doomed.ToHex());
        Prune.Run(repo, new PruneOptions { RefsOnly = true, DeleteCommits = [doomed] });
        var tomb = Vectors.Find("archive", doomed.ToHex() + ".tombstone-commit");
        Assert.Equal(tomb.Hex("hex"), File.ReadAllBytes(repo.ObjectPath(doomed, ObjectType.TombstoneCommit)));
        Assert.False(repo.HasObject(doomed, ObjectType.Commit));
    }

    [Fact]
    public async Task Async_api_round_trips_through_tar_and_checkout_with_cancellation()
    {
        var (t1, _) = BuildTrees();
        var repo = OstreeRepo.Create(Path.Combine(_dir, "async"), RepoMode.BareUser);
        var c = (await repo.CommitDirectoryAsync(t1, new CommitRequest { Branch = "b", Timestamp = DateTimeOffset.UnixEpoch }, new CommitModifier { OwnerUid = 0, OwnerGid = 0 })).Commit;
        var ms = new MemoryStream();
        await repo.ExportTarAsync(c, ms);
        ms.Position = 0;
        var other = OstreeRepo.Create(Path.Combine(_dir, "async2"), RepoMode.Archive);
        var imported = await other.ImportTarAsync(ms, "b");
        Assert.Equal(c, imported.Commit);
        Assert.Empty((await other.FsckAsync()).Problems);
        await other.CheckoutAsync(c, Path.Combine(_dir, "co"));
        Assert.Equal("Hello, OSTree!\n", File.ReadAllText(Path.Combine(_dir, "co", "README")));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => other.CheckoutAsync(c, Path.Combine(_dir, "co2"), cancellationToken: cts.Token));
    }
}
