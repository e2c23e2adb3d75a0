using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Tests;

public sealed class RepositoryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-ut-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    [Fact]
    public void Vector_repository_opens_resolves_and_verifies()
    {
        var repo = OstreeRepo.Open(CopyVectors());
        Assert.Equal(RepoMode.Archive, repo.Mode);
        var c2 = repo.Resolve("test/main");
        Assert.Equal(Vectors.Manifest.GetProperty("commits").Str("c2"), c2.ToHex());
        Assert.Equal(Vectors.Manifest.GetProperty("commits").Str("c1"), repo.Resolve("test/main^").ToHex());
        var fsck = Fsck.Run(repo, delete: false);
        Assert.Empty(fsck.Problems);
        Assert.Equal(20, fsck.Objects);
        Assert.Equal("detached", repo.LoadDetachedMetadata(c2)!.Lookup("note")!.GetString());
    }

    [Fact]
    public void Summary_of_the_vectors_lists_the_ref_like_ostree()
    {
        var repo = OstreeRepo.Open(CopyVectors());
        var theirs = Summary.ReadRefs(File.ReadAllBytes(Path.Combine(repo.Path, "summary")));
        var ours = Summary.ReadRefs(Summary.Update(repo));
        Assert.Equal(theirs.Select(r => (r.Ref, r.Commit, r.Size, r.Metadata.Print())), ours.Select(r => (r.Ref, r.Commit, r.Size, r.Metadata.Print())));
    }

    [Theory]
    [InlineData("archive")]
    [InlineData("bare-user")]
    [InlineData("bare-user-only")]
    public void Objects_written_in_every_mode_read_back(string modeName)
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, modeName), RepoModeNames.Parse(modeName));
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        var data = new byte[300_000];
        new Random(5).NextBytes(data);
        Checksum c;
        using (var tx = repo.BeginTransaction())
        {
            c = tx.WriteContent(header, new MemoryStream(data), data.Length);
            Assert.False(repo.HasObject(c, ObjectType.File)); // staged only
            tx.Commit();
        }

        Assert.Equal(header.ComputeChecksum(data), c);
        var obj = repo.LoadContent(c);
        using var ms = new MemoryStream();
        obj.OpenData().CopyTo(ms);
        Assert.Equal(data, ms.ToArray());
        Assert.Null(Fsck.Verify(repo, c, ObjectType.File));
    }

    [Theory]
    [InlineData("archive", "filez")]
    [InlineData("bare-user", "file")]
    public void An_object_is_under_its_staged_name_only_once_it_is_whole(string modeName, string extension)
    {
        // Another transaction of the same boot (ours or libostree's) takes over a killed one's staging folder and
        // publishes what it finds there: a name there must never hold part of an object, even one whose id is known.
        var repo = OstreeRepo.Create(Path.Combine(_dir, modeName), RepoModeNames.Parse(modeName));
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        var data = new byte[300_000];
        new Random(3).NextBytes(data);
        var id = header.ComputeChecksum(data);
        using var tx = repo.BeginTransaction();
        var staged = Path.Combine(tx.StagingPath, id.ToHex()[..2], id.ToHex()[2..] + "." + extension);
        bool? seenMidway = null;
        tx.WriteContent(header, new ProbeStream(data, 100_000, () => seenMidway = File.Exists(staged)), data.Length, id);
        Assert.False(seenMidway);
        Assert.True(File.Exists(staged));
    }

    /// <summary>Calls <c>probe</c> once, when a read has gone past <c>at</c> bytes.</summary>
    private sealed class ProbeStream(byte[] data, int at, Action probe) : MemoryStream(data)
    {
        private bool _probed;

        public override int Read(byte[] buffer, int offset, int count)
        {
            Check();
            return base.Read(buffer, offset, count);
        }

        public override int Read(Span<byte> buffer)
        {
            Check();
            return base.Read(buffer);
        }

        private void Check()
        {
            if (!_probed && Position > at)
            {
                _probed = true;
                probe();
            }
        }
    }

    [Theory]
    [InlineData("archive")]
    [InlineData("bare-user")]
    [InlineData("bare-user-only")]
    public void Opening_an_object_once_gives_what_loading_and_opening_give(string modeName)
    {
        var mode = RepoModeNames.Parse(modeName);
        var repo = OstreeRepo.Create(Path.Combine(_dir, modeName), mode);
        var xattrs = mode == RepoMode.BareUserOnly ? Xattrs.Empty : Xattrs.Create([Xattr.Create("user.test", "v"u8.ToArray())]);
        var random = new Random(9);
        var objects = new List<(FileHeader Header, byte[] Data)>
        {
            (new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, xattrs), []),
            (new FileHeader(0, 0, UnixMode.Symlink | 0x1FF, "../target", Xattrs.Empty), []),
        };
        foreach (int size in new[] { 100, 8 << 10, 70 << 10, 300_000 }) // about the read buffer's and inflate's sizes
        {
            var data = new byte[size];
            random.NextBytes(data.AsSpan(0, size / 2)); // half random, half zeros: deflates to about half
            objects.Add((new FileHeader(0, 0, UnixMode.Regular | 0x1ED, string.Empty, xattrs), data));
        }

        var ids = new List<Checksum>();
        using (var tx = repo.BeginTransaction())
        {
            foreach (var (header, data) in objects)
            {
                ids.Add(tx.WriteContent(header, new MemoryStream(header.IsSymlink ? [] : data), data.Length));
            }

            tx.Commit();
        }

        foreach (var id in ids)
        {
            var loaded = repo.LoadContent(id);
            var (opened, stream) = repo.OpenContent(id);
            using var bytes = new MemoryStream();
            using (stream)
            {
                stream.CopyTo(bytes);
            }

            Assert.Equal(id, opened.Header.ComputeChecksum(bytes.ToArray()));
            Assert.Equal(loaded.Size, opened.Size);
            Assert.Equal(loaded.Header.SymlinkTarget, opened.Header.SymlinkTarget);
            Assert.Equal(mode, opened.StoredIn);
            using var again = opened.OpenData(); // a second read opens the file anew
            Assert.Equal(id, opened.Header.ComputeChecksum(again));
        }

        var missing = Checksum.Compute("not stored"u8);
        Assert.Throws<ObjectNotFoundException>(() => repo.OpenContent(missing));
        if (mode == RepoMode.BareUser)
        {
            var path = repo.ObjectPath(ids[^1], ObjectType.File);
            File.Delete(path);
            File.WriteAllBytes(path, [1, 2, 3]); // no user.ostreemeta
            Assert.Contains($"{ids[^1]}.file", Assert.Throws<ObjectCorruptedException>(() => repo.OpenContent(ids[^1])).Message);
        }
    }

    [Fact]
    public void Concurrent_transactions_in_one_process_never_remove_each_others_staging()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        Parallel.For(0, 24, new ParallelOptions { MaxDegreeOfParallelism = 6 }, i =>
        {
            using var tx = repo.BeginTransaction();
            var meta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta((uint)i, 0, UnixMode.Directory | 0x1ED, Xattrs.Empty).ToBytes());
            var tree = tx.WriteMetadata(ObjectType.DirTree, new DirTree([], []).ToBytes());
            var commit = tx.WriteMetadata(ObjectType.Commit, new Commit(GVariantValue.FromVarDict([]), null, "s" + i, string.Empty, 0, tree, meta).ToBytes());
            tx.SetRef("b" + i, commit);
            tx.Commit();
        });
        Assert.Equal(24, repo.ListRefs().Count);
    }

    // A commit of an empty root folder, staged in the transaction.
    private static Checksum WriteEmptyCommit(RepoTransaction tx)
    {
        var meta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(0, 0, UnixMode.Directory | 0x1ED, Xattrs.Empty).ToBytes());
        var tree = tx.WriteMetadata(ObjectType.DirTree, new DirTree([], []).ToBytes());
        return tx.WriteMetadata(ObjectType.Commit, new Commit(GVariantValue.FromVarDict([]), null, "s", string.Empty, 0, tree, meta).ToBytes());
    }

    [Fact]
    public void A_killed_ref_writes_temporary_file_is_not_taken_for_a_ref()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        using (var tx = repo.BeginTransaction())
        {
            var commit = WriteEmptyCommit(tx);
            tx.SetRef("ostree/1/1/0", commit);
            tx.Commit();
        }

        // What a kill -9 between writing and renaming leaves behind, and a sync tool's dotfile in a remote's folder.
        File.WriteAllText(Path.Combine(repo.Path, "refs", "heads", "ostree", "1", "1", ".0.56d286c2104a.tmp"), string.Empty);
        Directory.CreateDirectory(Path.Combine(repo.Path, "refs", "remotes", ".rsync"));
        File.WriteAllText(Path.Combine(repo.Path, "refs", "remotes", ".rsync", "x"), "junk");

        Assert.Equal(["ostree/1/1/0"], repo.ListRefs().Keys);
        Assert.Empty(Fsck.Run(repo, delete: false).RefProblems);
    }

    [Fact]
    public void Aborted_transaction_leaves_no_object_and_no_ref()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        using (var tx = repo.BeginTransaction())
        {
            var commit = WriteEmptyCommit(tx);
            tx.SetRef("main", commit);
        }

        Assert.Empty(repo.EnumerateObjects());
        Assert.Empty(repo.ListRefs());
    }

    [Fact]
    public void The_next_transaction_of_the_boot_takes_over_an_aborted_ones_staging_and_publishes_what_it_staged()
    {
        // libostree's "transaction resume": what a pull staged before it failed is not fetched again.
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        var tmp = Path.Combine(repo.Path, "tmp");
        string staging;
        Checksum commit;
        using (var tx = repo.BeginTransaction())
        {
            Assert.False(tx.Resumed);
            staging = tx.StagingPath;
            commit = WriteEmptyCommit(tx);
        }

        // tmp/cache belongs to the repository layout (libostree creates it too); the staging folder stays, unlocked.
        Assert.Equal(["cache", Path.GetFileName(staging)], Directory.GetFileSystemEntries(tmp).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.False(repo.HasObject(commit, ObjectType.Commit));
        using (var tx = repo.BeginTransaction())
        {
            Assert.True(tx.Resumed);
            Assert.Equal(staging, tx.StagingPath);
            Assert.True(tx.HasObject(commit, ObjectType.Commit));
            tx.Commit();
        }

        Assert.True(repo.HasObject(commit, ObjectType.Commit));
        Assert.Equal(["cache"], Directory.GetFileSystemEntries(tmp).Select(Path.GetFileName));
        Assert.Empty(Fsck.Run(repo, delete: false).Problems);
    }

    [Fact]
    public void A_killed_transactions_staging_is_taken_over_without_its_temporary_files_or_strangers()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.BareUser);
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        var data = "staged before the kill\n"u8.ToArray();
        Checksum id;
        string staging;
        using (var tx = repo.BeginTransaction())
        {
            id = tx.WriteContent(header, new MemoryStream(data), data.Length);
            staging = tx.StagingPath;
        }

        // What a kill leaves besides: a temporary file mid-write, and a file no transaction of ours names so.
        var sub = Path.Combine(staging, id.ToHex()[..2]);
        File.WriteAllText(Path.Combine(sub, ".t1"), "part of an object");
        File.WriteAllText(Path.Combine(sub, "tmp.XYZ123"), "a stranger");
        var other = Path.Combine(repo.Path, "tmp", "staging-00000000-0000-0000-0000-000000000000-1");
        Directory.CreateDirectory(other); // another boot's
        using (var tx = repo.BeginTransaction())
        {
            Assert.True(tx.Resumed);
            Assert.False(File.Exists(Path.Combine(sub, ".t1")));
            Assert.True(Directory.Exists(other)); // removed by the cleanup at the end, as libostree does
            tx.Commit();
        }

        Assert.Equal(data, File.ReadAllBytes(repo.ObjectPath(id, ObjectType.File)));
        Assert.Equal([id], repo.EnumerateObjects().Select(o => o.Checksum));
        Assert.False(Directory.Exists(other));
        Assert.False(Directory.Exists(staging));
    }

    [Fact]
    public void Wrong_content_checksum_is_refused_and_nothing_is_kept()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.BareUser);
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        using var tx = repo.BeginTransaction();
        var wrong = Checksum.Compute("nope"u8);
        var e = Assert.Throws<ObjectCorruptedException>(() => tx.WriteContent(header, new MemoryStream("data"u8.ToArray()), 4, wrong));
        Assert.Contains(wrong.ToHex(), e.Message);
        Assert.Throws<OstreeFormatException>(() => tx.WriteContent(header, new MemoryStream("data"u8.ToArray()), 5));
        tx.Commit();
        Assert.Empty(repo.EnumerateObjects());
    }

    [Theory]
    [InlineData("archive")]
    [InlineData("bare-user")]
    [InlineData("bare-user-only")]
    public void Objects_written_under_their_id_are_staged_once_and_bad_ones_not_at_all(string modeName)
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, modeName), RepoModeNames.Parse(modeName));
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1A4, string.Empty, Xattrs.Empty);
        var data = new byte[70_000];
        new Random(9).NextBytes(data);
        var id = header.ComputeChecksum(data);
        var other = header.ComputeChecksum(data.AsSpan(1).ToArray());
        using var tx = repo.BeginTransaction();

        // Many writers of one object: one staged copy, the rest only read through and checked.
        Parallel.For(0, 8, _ => Assert.Equal(id, tx.WriteContent(header, new MemoryStream(data), data.Length, id)));
        Assert.True(tx.HasObject(id, ObjectType.File));

        // A stream that ends early, or bytes of another object, under an expected id: refused, nothing staged.
        Assert.ThrowsAny<OstreeException>(() => tx.WriteContent(header, new MemoryStream(data, 0, 1000), data.Length - 1, other));
        Assert.Throws<ObjectCorruptedException>(() => tx.WriteContent(header, new MemoryStream(data, 0, data.Length - 1), data.Length - 1, id));
        Assert.False(tx.HasObject(other, ObjectType.File));

        var stats = tx.Commit();
        Assert.Equal(1, stats.ContentWritten);
        Assert.Equal([(id, ObjectType.File)], repo.EnumerateObjects());
        Assert.Null(Fsck.Verify(repo, id, ObjectType.File));
    }

    // An archive repository with SETTINGS ("group.key=value") in its config, opened again as a command opens it.
    private OstreeRepo ArchiveWith(params string[] settings)
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        foreach (var setting in settings)
        {
            int dot = setting.IndexOf('.', StringComparison.Ordinal), eq = setting.IndexOf('=', StringComparison.Ordinal);
            repo.Config.Set(setting[..dot], setting[(dot + 1)..eq], setting[(eq + 1)..]);
        }

        repo.SaveConfig();
        return OstreeRepo.Open(repo.Path);
    }

    [Fact]
    public void Exclusive_lock_waits_for_a_transaction()
    {
        var repo = ArchiveWith("core.lock-timeout-secs=1");
        using (repo.BeginTransaction())
        {
            Assert.Throws<RepoLockedException>(() => Prune.Run(repo, new PruneOptions()));
        }

        Prune.Run(repo, new PruneOptions());
    }

    [Theory]
    [InlineData(null, null, 300.0)] // libostree 2026.4's default wait
    [InlineData("true", "12", 12.0)]
    [InlineData(null, "0", 0.0)]
    [InlineData(null, "abc", 0.0)] // g_ascii_strtoll: no digits, 0 (try once)
    [InlineData(null, "7s", 7.0)]
    [InlineData(null, "-1", -1.0)] // no limit
    [InlineData(null, "-2", null)] // libostree's "locking disabled"
    [InlineData("false", "30", null)]
    public void The_lock_settings_are_read_as_libostree_reads_them(string? locking, string? timeout, double? seconds)
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        if (locking is not null)
        {
            repo.Config.Set("core", "locking", locking);
        }

        if (timeout is not null)
        {
            repo.Config.Set("core", "lock-timeout-secs", timeout);
        }

        var expected = seconds switch
        {
            null => (TimeSpan?)null,
            -1 => Timeout.InfiniteTimeSpan,
            var s => TimeSpan.FromSeconds(s.Value),
        };
        Assert.Equal(expected, repo.LockTimeout());
    }

    [Fact]
    public void A_lock_timeout_below_minus_two_is_refused()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        repo.Config.Set("core", "lock-timeout-secs", "-3");
        var e = Assert.Throws<OstreeFormatException>(() => repo.Lock(exclusive: false));
        Assert.Contains("core.lock-timeout-secs", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_locking_off_prune_runs_beside_a_transaction()
    {
        var repo = ArchiveWith("core.lock-timeout-secs=0", "core.locking=false");
        using (repo.BeginTransaction())
        {
            Prune.Run(repo, new PruneOptions());
        }
    }

    [Fact]
    public void A_lock_timeout_of_zero_fails_at_once_in_libostree_words()
    {
        var repo = ArchiveWith("core.lock-timeout-secs=0");
        using (repo.BeginTransaction())
        {
            var e = Assert.Throws<RepoLockedException>(() => Prune.Run(repo, new PruneOptions()));
            Assert.StartsWith("Locking repo exclusive failed: Resource temporarily unavailable (", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_lock_timeout_of_minus_one_waits_for_the_holder()
    {
        var repo = ArchiveWith("core.lock-timeout-secs=-1");
        Task prune;
        using (repo.BeginTransaction())
        {
            prune = Task.Run(() => Prune.Run(repo, new PruneOptions()));
            await Task.Delay(300);
            Assert.False(prune.IsCompleted);
        }

        await prune.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public void Entries_of_tmp_older_than_the_expiry_go_and_the_rest_stay()
    {
        var repo = ArchiveWith("core.tmp-expiry-secs=3600");
        var tmp = Path.Combine(repo.Path, "tmp");
        Directory.CreateDirectory(Path.Combine(tmp, "old-dir/sub"));
        File.WriteAllText(Path.Combine(tmp, "old-file"), "x");
        File.WriteAllText(Path.Combine(tmp, "new-file"), "x");
        File.WriteAllText(Path.Combine(tmp, "future-file"), "x");
        Directory.CreateDirectory(Path.Combine(tmp, "cache"));
        var now = DateTime.UtcNow;
        Directory.SetLastWriteTimeUtc(Path.Combine(tmp, "old-dir"), now.AddHours(-2));
        File.SetLastWriteTimeUtc(Path.Combine(tmp, "old-file"), now.AddHours(-2));
        File.SetLastWriteTimeUtc(Path.Combine(tmp, "new-file"), now.AddMinutes(-30));
        File.SetLastWriteTimeUtc(Path.Combine(tmp, "future-file"), now.AddDays(3));
        Directory.SetLastWriteTimeUtc(Path.Combine(tmp, "cache"), now.AddDays(-30));

        using (var tx = repo.BeginTransaction())
        {
            tx.Commit(); // the cleanup runs at the end of a transaction, as libostree's
        }

        Assert.Equal(["cache", "future-file", "new-file"], Directory.GetFileSystemEntries(tmp).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_staging_folder_of_another_boot_nobody_holds_is_removed_whichever_build_wrote_it()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "r"), RepoMode.Archive);
        var tmp = Path.Combine(repo.Path, "tmp");
        Directory.CreateDirectory(Path.Combine(tmp, "staging-a-1/00"));
        File.WriteAllText(Path.Combine(tmp, "staging-a-1-lock"), string.Empty);
        Directory.CreateDirectory(Path.Combine(tmp, "staging-b-2"));
        File.WriteAllText(Path.Combine(tmp, "staging-b-2.lock"), string.Empty); // an earlier build's name
        File.WriteAllText(Path.Combine(tmp, "staging-c-3-lock"), string.Empty); // a lock alone
        string ours;
        using (var tx = repo.BeginTransaction())
        {
            Assert.False(tx.Resumed);
            ours = Path.GetFileName(tx.StagingPath);
            Assert.StartsWith($"staging-{RepoTransaction.BootId()}-", ours, StringComparison.Ordinal);
        }

        Assert.Equal(["cache", ours], Directory.GetFileSystemEntries(tmp).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Keyfile_round_trips_and_edits()
    {
        var kf = KeyFile.Parse("# comment\n[core]\nrepo_version=1\nmode=bare\n\n[remote \"origin\"]\nurl=http://example.com/repo\ngpg-verify=false\n", "config");
        Assert.Equal("bare", kf.Get("core", "mode"));
        Assert.False(kf.GetBoolean("remote \"origin\"", "gpg-verify", true));
        kf.Set("core", "fsync", "false");
        kf.Set("remote \"origin\"", "branches", "a;b;");
        Assert.Equal(["a", "b"], kf.GetList("remote \"origin\"", "branches"));
        var again = KeyFile.Parse(kf.ToString(), "config");
        Assert.Equal("false", again.Get("core", "fsync"));
        Assert.StartsWith("# comment\n[core]\n", kf.ToString());
        Assert.Throws<OstreeFormatException>(() => KeyFile.Parse("[core\nx=1\n", "bad"));
    }

    [Fact]
    public void Ghashtable_order_matches_libostree_bootable_commits()
    {
        // Order seen in a commit made by `ostree commit --bootable --add-metadata-string=version=1 ...=zzz=2 ...=a=3`.
        var order = GHashTableOrder.Reorder(
            new[] { "version", "zzz", "a", "ostree.linux", "ostree.bootable" }.Select(k => new KeyValuePair<string, GVariantValue>(k, GVariantValue.FromBoolean(true))));
        Assert.Equal(["ostree.linux", "version", "zzz", "ostree.bootable", "a"], order.Select(kv => kv.Key));
    }

    [Theory]
    [InlineData("heads/ok", true)]
    [InlineData("a/b-c.d_e", true)]
    [InlineData("bad name", false)]
    [InlineData("../x", false)]
    [InlineData("a//b", false)]
    [InlineData("", false)]
    public void Ref_names_are_validated(string name, bool ok)
    {
        if (ok)
        {
            OstreeRepo.ValidateRefName(name);
        }
        else
        {
            Assert.Throws<OstreeFormatException>(() => OstreeRepo.ValidateRefName(name));
        }
    }

    private string CopyVectors() => Vectors.CopyArchiveRepo(Path.Combine(_dir, "vectors"));
}
