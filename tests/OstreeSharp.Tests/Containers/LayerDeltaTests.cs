using System.Buffers;
using System.Security.Cryptography;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Deltas;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Deltas;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Tests.Containers;

/// <summary>The layer delta records: what they rebuild from a repository, and what they refuse.</summary>
public sealed class LayerDeltaTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-ld-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    // A repository whose commit has one file and one folder: the source image a client keeps.
    private (OstreeRepo Repo, Checksum Commit, Checksum File, byte[] Data) Source()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "repo"), RepoMode.BareUser);
        var data = new byte[50_000];
        new Random(1).NextBytes(data);
        using var tx = repo.BeginTransaction();
        var header = new FileHeader(0, 0, UnixMode.Regular | 0x1a4, string.Empty, Xattrs.Empty);
        var file = tx.WriteContent(header, new MemoryStream(data), data.Length);
        var root = new MutableTree { MetaChecksum = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(0, 0, UnixMode.Directory | 0x1ed, Xattrs.Empty).ToBytes()) };
        root.SetFile("lib.so", file);
        var commit = CommitWriter.Write(tx, root, new CommitRequest { NoParent = true, Timestamp = DateTimeOffset.FromUnixTimeSeconds(0) }).Commit;
        tx.Commit();
        return (repo, commit, file, data);
    }

    private static (byte[] Delta, byte[] Expected) Make(Checksum commit, IReadOnlyDictionary<Checksum, int> table, Action<LayerDeltaWriter> records, byte[] expected, Digest? claimed = null, byte version = ContainerDeltaFormat.WholeTar, IReadOnlyList<DeltaObject>? objects = null)
    {
        var raw = new MemoryStream();
        var w = new LayerDeltaWriter(raw, version, claimed ?? Digest.Sha256(expected), expected.Length, commit, table, objects ?? []);
        records(w);
        w.Finish();
        raw.Position = 0;
        var packed = new MemoryStream();
        Xz.Compress(raw, packed, 6);
        return (packed.ToArray(), expected);
    }

    private static byte[] Rebuild(OstreeRepo repo, byte[] delta, Digest diffId)
    {
        using var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(delta), "test"), repo, diffId, "test");
        var output = new MemoryStream();
        s.CopyTo(output);
        return output.ToArray();
    }

    [Fact]
    public void Records_rebuild_literals_object_paths_objects_and_patches()
    {
        var (repo, commit, file, data) = Source();
        var table = DeltaTreeIndex.Of(repo, repo.LoadCommit(commit)).SortedObjects();
        var index = table.Select((o, i) => (o, i)).ToDictionary(x => x.o.Checksum, x => x.i);
        int fileIndex = index[file];
        var changed = (byte[])data.Clone();
        changed[100] ^= 0xff;
        var patch = new ArrayBufferWriter<byte>();
        Bsdiff.Diff(data, changed, patch);

        var hex = file.ToHex();
        var header = new byte[512];
        System.Text.Encoding.ASCII.GetBytes($"sysroot/ostree/repo/objects/{hex[..2]}/{hex[2..]}.file", header);
        System.Text.Encoding.ASCII.GetBytes("0000644\0", header.AsSpan(100));
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(data.Length, 8).PadLeft(11, '0') + "\0", header.AsSpan(124));
        header[156] = (byte)'0';
        "ustar\u000000"u8.CopyTo(header.AsSpan(257));
        "        "u8.CopyTo(header.AsSpan(148)); // the checksum counts its own field as spaces
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(header.Sum(b => b), 8).PadLeft(7, '0') + "\0", header.AsSpan(148));
        byte[] expected = [.. header, .. data, .. "between"u8, .. changed];

        var (delta, _) = Make(commit, index, w =>
        {
            w.Header(header, fileIndex, data.Length);
            w.Object(fileIndex, data.Length);
            w.LiteralWithPaths("between"u8);
            w.Patch(fileIndex, changed.Length, patch.WrittenSpan);
        }, expected);
        Assert.Equal(expected, Rebuild(repo, delta, Digest.Sha256(expected)));
        // The header's path, size and checksum were not sent: the delta is smaller than one copy of the header.
        Assert.True(delta.Length < 400 + 300, $"delta of {delta.Length} bytes");
    }

    [Fact]
    public void A_delta_that_rebuilds_other_bytes_or_needs_a_missing_object_is_refused()
    {
        var (repo, commit, file, data) = Source();
        var table = DeltaTreeIndex.Of(repo, repo.LoadCommit(commit)).SortedObjects();
        var index = table.Select((o, i) => (o, i)).ToDictionary(x => x.o.Checksum, x => x.i);
        byte[] expected = [.. data, .. "tail"u8];

        // Claims the expected digest but rebuilds something else.
        var (lying, _) = Make(commit, index, w =>
        {
            w.Object(index[file], data.Length);
            w.Literal("TAIL"u8);
        }, expected);
        Assert.Throws<DigestMismatchException>(() => Rebuild(repo, lying, Digest.Sha256(expected)));

        // A delta for another layer than the one the config names.
        var (good, _) = Make(commit, index, w =>
        {
            w.Object(index[file], data.Length);
            w.Literal("tail"u8);
        }, expected);
        Assert.Equal(expected, Rebuild(repo, good, Digest.Sha256(expected)));
        Assert.Throws<DigestMismatchException>(() => Rebuild(repo, good, Digest.Sha256("other"u8)));

        // Corrupt xz.
        var flipped = (byte[])good.Clone();
        flipped[flipped.Length / 2] ^= 0x55;
        Assert.ThrowsAny<OstreeException>(() => Rebuild(repo, flipped, Digest.Sha256(expected)));

        // The client lost an object the delta refers to.
        File.Delete(repo.ObjectPath(file, ObjectType.File));
        Assert.Throws<ObjectNotFoundException>(() => Rebuild(repo, good, Digest.Sha256(expected)));
    }

    [Fact]
    public void Without_diff_id_verification_kept_objects_are_passed_over_unread_and_only_the_size_is_checked()
    {
        var (repo, commit, file, data) = Source();
        var table = DeltaTreeIndex.Of(repo, repo.LoadCommit(commit)).SortedObjects();
        var index = table.Select((o, i) => (o, i)).ToDictionary(x => x.o.Checksum, x => x.i);
        byte[] expected = [.. "head"u8, .. data, .. "tail"u8];
        var (delta, _) = Make(commit, index, w =>
        {
            w.Literal("head"u8);
            w.Object(index[file], data.Length);
            w.Literal("tail"u8);
        }, expected);

        // The kept object's bytes change behind the repository's back (same size): a skip does not read them ...
        var path = repo.ObjectPath(file, ObjectType.File);
        var garbage = new byte[data.Length];
        File.WriteAllBytes(path, garbage);
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(delta), "test"), repo, Digest.Sha256(expected), "test", verifyDiffId: false))
        {
            var head = new byte[4];
            s.ReadExactly(head);
            Assert.Equal("head"u8.ToArray(), head);
            Assert.Equal(data.Length, s.Skip(data.Length));
            var rest = new MemoryStream();
            s.CopyTo(rest);
            Assert.Equal("tail"u8.ToArray(), rest.ToArray());
        }

        // ... a read does, and with verification the rebuilt layer is refused.
        Assert.Throws<DigestMismatchException>(() => Rebuild(repo, delta, Digest.Sha256(expected)));
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(delta), "test"), repo, Digest.Sha256(expected), "test", verifyDiffId: true))
        {
            Assert.Throws<DigestMismatchException>(() => s.Skip(expected.Length + 10));
        }

        File.WriteAllBytes(path, data);
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(delta), "test"), repo, Digest.Sha256(expected), "test", verifyDiffId: true))
        {
            Assert.Equal(expected.Length, s.Skip(expected.Length + 10));
        }

        // A skip that passes part of an object, then a read: the rest comes from where the skip ended.
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(delta), "test"), repo, Digest.Sha256(expected), "test", verifyDiffId: false))
        {
            Assert.Equal(4 + 1000, s.Skip(4 + 1000));
            var part = new byte[10];
            s.ReadExactly(part);
            Assert.Equal(data.AsSpan(1000, 10).ToArray(), part);
            Assert.Equal(data.Length - 1010, s.Skip(data.Length - 1010));
            var rest = new MemoryStream();
            s.CopyTo(rest);
            Assert.Equal("tail"u8.ToArray(), rest.ToArray());
        }

        // Unverified, the size announced is still the size rebuilt.
        var (longer, _) = Make(commit, index, w =>
        {
            w.Literal("head"u8);
            w.Object(index[file], data.Length);
            w.Literal("tail, and more"u8);
        }, expected);
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(longer), "test"), repo, Digest.Sha256(expected), "test", verifyDiffId: false))
        {
            Assert.Throws<DigestMismatchException>(() => s.Skip(long.MaxValue));
        }

        var (shorter, _) = Make(commit, index, w =>
        {
            w.Literal("head"u8);
            w.Object(index[file], data.Length);
        }, expected);
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(shorter), "test"), repo, Digest.Sha256(expected), "test", verifyDiffId: false))
        {
            Assert.Throws<DigestMismatchException>(() => s.CopyTo(Stream.Null));
        }
    }

    [Fact]
    public void A_version_2_delta_is_read_only_by_a_client_that_checks_the_commit_instead_of_the_diff_id()
    {
        var (repo, commit, file, data) = Source();
        var table = DeltaTreeIndex.Of(repo, repo.LoadCommit(commit)).SortedObjects();
        var index = table.Select((o, i) => (o, i)).ToDictionary(x => x.o.Checksum, x => x.i);
        // What a version 2 delta rebuilds is not the layer: its header names the layer's diff-id all the same.
        var layerDiffId = Digest.Sha256("the whole layer"u8);
        byte[] newObjects = [.. "new"u8, .. data];
        var (delta, _) = Make(commit, index, w =>
        {
            w.Literal("new"u8);
            w.Object(index[file], data.Length);
        }, newObjects, layerDiffId, ContainerDeltaFormat.NewObjectsOnly, table);

        var e = Assert.Throws<DigestMismatchException>(() => Rebuild(repo, delta, layerDiffId));
        Assert.Contains("ostree.commit label", e.Message, StringComparison.Ordinal);
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(delta), "test"), repo, layerDiffId, "test", verifyDiffId: false))
        {
            Assert.True(s.NewObjectsOnly);
            var output = new MemoryStream();
            s.CopyTo(output);
            Assert.Equal(newObjects, output.ToArray());
        }

        // Version 2 names objects by type and id: the client reads no table of the source, so an object outside the
        // source's tree serves as well (what is made from it is checked against an object id), and a content object
        // named where metadata is expected is refused.
        var commitTree = repo.LoadCommit(commit);
        var (byId, _) = Make(commit, index, w => w.Object(index[file], data.Length), data, layerDiffId, ContainerDeltaFormat.NewObjectsOnly, table);
        var raw = new MemoryStream();
        Xz.OpenDecompressing(new MemoryStream(byId), "test").CopyTo(raw);
        var records = raw.ToArray();
        int reference = records.AsSpan().IndexOf(file.ToBytes());
        Assert.Equal((byte)ObjectType.File, records[reference - 1]);
        Assert.Equal((byte)'O', records[reference - 2]);
        records[reference - 2] = (byte)'M';
        var repacked = new MemoryStream();
        Xz.Compress(new MemoryStream(records), repacked, 6);
        Assert.Throws<OstreeFormatException>(() =>
        {
            using var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(repacked.ToArray()), "test"), repo, layerDiffId, "test", verifyDiffId: false);
            s.CopyTo(Stream.Null);
        });

        // The import passes over the folders of the source that the commit imported has at the same path, and walks
        // into any other.
        var (literal, _) = Make(commit, index, w => w.Literal("new"u8), "new"u8.ToArray(), layerDiffId, ContainerDeltaFormat.NewObjectsOnly, table);
        using (var s = new LayerDeltaStream(Xz.OpenDecompressing(new MemoryStream(literal), "test"), repo, layerDiffId, "test", verifyDiffId: false))
        {
            s.CopyTo(Stream.Null);
            Assert.True(s.IsCompleteSourceTree(commitTree.RootTree, "/"));
            Assert.False(s.IsCompleteSourceTree(commitTree.RootTree, "/usr"));
            Assert.False(s.IsSourceObject(file, ObjectType.File));
        }

        // An unknown version is refused.
        var unknown = Make(commit, index, w => w.Literal("new"u8), "new"u8.ToArray(), layerDiffId, 3).Delta;
        Assert.Throws<OstreeFormatException>(() => Rebuild(repo, unknown, layerDiffId));
    }

    [Fact]
    public void The_client_table_of_a_commit_is_the_generator_table()
    {
        var repo = OstreeRepo.Create(Path.Combine(_dir, "table"), RepoMode.BareUser);
        using var tx = repo.BeginTransaction();
        var meta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(0, 0, UnixMode.Directory | 0x1ed, Xattrs.Empty).ToBytes());
        var root = new MutableTree { MetaChecksum = meta };
        for (int i = 0; i < 40; i++)
        {
            var header = new FileHeader(0, 0, UnixMode.Regular | 0x1a4, string.Empty, Xattrs.Empty);
            var data = System.Text.Encoding.ASCII.GetBytes($"file {i % 25}");
            var file = tx.WriteContent(header, new MemoryStream(data), data.Length);
            // The same two subtrees under several names, and files shared between folders.
            var dir = root.EnsureDir($"d{i % 7}", meta).EnsureDir($"s{i % 2}", meta);
            dir.SetFile($"f{i}", file);
        }

        var commit = CommitWriter.Write(tx, root, new CommitRequest { NoParent = true, Timestamp = DateTimeOffset.FromUnixTimeSeconds(0) }).Commit;
        tx.Commit();
        var c = repo.LoadCommit(commit);
        var expected = DeltaTreeIndex.Of(repo, c).SortedObjects();
        Assert.True(expected.Count > 40);
        Assert.Equal(expected, DeltaTreeIndex.SortedObjectsOf(repo, c));
    }
}
