using OstreeSharp.Containers;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Tests.Containers;

/// <summary>The image store as an embedder uses it: prepare, then import, with typed progress events.</summary>
public sealed class ImageStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ostree-sharp-is-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => FileUtil.DeleteAny(_dir);

    // Events as they came, in order (the store serializes them).
    private sealed class Recorder : IProgress<PullEvent>
    {
        public List<PullEvent> Events { get; } = [];

        public void Report(PullEvent value) => Events.Add(value);
    }

    // A commit of one file with the given content to an archive repository, encapsulated as oci:LAYOUT:TAG.
    private async Task<(Checksum Commit, OstreeImageReference Image)> PublishAsync(OstreeRepo build, string content, string tag)
    {
        Checksum commit;
        using (var tx = build.BeginTransaction())
        {
            var data = System.Text.Encoding.UTF8.GetBytes(content);
            var header = new FileHeader(0, 0, UnixMode.Regular | 0x1a4, string.Empty, Xattrs.Empty);
            var dirMeta = tx.WriteMetadata(ObjectType.DirMeta, new DirMeta(0, 0, UnixMode.Directory | 0x1ed, Xattrs.Empty).ToBytes());
            var root = new MutableTree { MetaChecksum = dirMeta };
            root.EnsureDir("usr", dirMeta).SetFile("os-release", tx.WriteContent(header, new MemoryStream(data), data.Length));
            commit = CommitWriter.Write(tx, root, new CommitRequest { NoParent = true, Timestamp = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000) }).Commit;
            tx.Commit();
        }

        var image = ImageReference.Parse($"oci:{Path.Combine(_dir, "layout")}:{tag}");
        var destination = ImageTransports.OpenDestination(image);
        await using (destination)
        {
            await Encapsulator.EncapsulateAsync(build, commit, destination);
        }

        return (commit, new OstreeImageReference(SignaturePolicy.AllowInsecure, null, image));
    }

    [Fact]
    public async Task Prepare_says_what_is_missing_and_import_reports_typed_events()
    {
        var build = OstreeRepo.Create(Path.Combine(_dir, "build"), RepoMode.Archive);
        var (commit, image) = await PublishAsync(build, "VERSION=1\n", "latest");
        var store = new ImageStore(OstreeRepo.Create(Path.Combine(_dir, "host"), RepoMode.BareUser));

        await using (var prepared = await store.PrepareAsync(image))
        {
            Assert.False(prepared.AlreadyPresent);
            Assert.Null(prepared.Previous);
            Assert.Null(prepared.Diff);
            var layer = Assert.Single(prepared.Layers);
            Assert.False(layer.Present);
            Assert.True(layer.OstreeChunk);
            Assert.Equal(layer.Size, prepared.BytesToFetch);
            Assert.Empty(store.List());

            var recorder = new Recorder();
            var report = await store.ImportAsync(prepared, recorder);
            Assert.False(report.AlreadyPresent);
            Assert.Equal(commit, report.Image.BaseCommit);
            Assert.Equal(prepared.ManifestDigest, report.Image.ManifestDigest);
            Assert.Equal(1, report.LayersFetched);

            // Planned first, then the layer started, bytes, and done; the last byte count is the report's.
            var kinds = recorder.Events.Where(e => e is not PullMessage).Select(e => e.GetType().Name).Distinct().ToList();
            Assert.Equal(["PullPlanned", "PullLayerStarted", "PullBytes", "PullLayerDone"], kinds);
            var planned = Assert.IsType<PullPlanned>(recorder.Events.First(e => e is PullPlanned));
            Assert.Equal(prepared.Layers, planned.Layers);
            Assert.Equal(report.BytesFetched, recorder.Events.OfType<PullBytes>().Last().Fetched);
            var bytes = recorder.Events.OfType<PullBytes>().Select(b => b.Fetched).ToList();
            Assert.Equal(bytes.Order().ToList(), bytes);
            Assert.Equal(layer, Assert.Single(recorder.Events.OfType<PullLayerDone>()).Layer);
            Assert.Contains(recorder.Events.OfType<PullMessage>(), m => m.Text.StartsWith("layers already present: 0; layers needed: 1", StringComparison.Ordinal));

            // A prepared image is imported once.
            await Assert.ThrowsAsync<InvalidOperationException>(() => store.ImportAsync(prepared));
        }

        // The same image again: present, nothing imported, no events.
        await using (var again = await store.PrepareAsync(image))
        {
            Assert.True(again.AlreadyPresent);
            Assert.True(Assert.Single(again.Layers).Present);
            Assert.Equal(0, again.BytesToFetch);
            Assert.False(store.RecordCachedUpdate(again));
            var recorder = new Recorder();
            var report = await store.ImportAsync(again, recorder);
            Assert.True(report.AlreadyPresent);
            Assert.Empty(recorder.Events);
        }

        Assert.Equal([image.Image.ToString()], store.List());
    }

    [Fact]
    public async Task A_newer_image_is_a_cached_update_until_imported_and_the_store_removes_and_copies_images()
    {
        var build = OstreeRepo.Create(Path.Combine(_dir, "build"), RepoMode.Archive);
        var (_, image) = await PublishAsync(build, "VERSION=1\n", "latest");
        var store = new ImageStore(OstreeRepo.Create(Path.Combine(_dir, "host"), RepoMode.BareUser), new ImageStoreOptions { UseDeltas = false });
        var first = await store.PullAsync(image);
        Assert.Null(store.CachedUpdate(first.Image.MergeCommit));

        var (second, _) = await PublishAsync(build, "VERSION=2\n", "latest");
        await using (var prepared = await store.PrepareAsync(image))
        {
            Assert.False(prepared.AlreadyPresent);
            Assert.Equal(first.Image.ManifestDigest, prepared.Previous!.ManifestDigest);
            var diff = prepared.Diff!;
            Assert.Single(diff.Added);
            Assert.Single(diff.Removed);
            Assert.True(store.RecordCachedUpdate(prepared));
            var (digest, configJson) = store.CachedUpdate(first.Image.MergeCommit)!.Value;
            Assert.Equal(prepared.ManifestDigest, digest);
            Assert.Contains("\"rootfs\"", configJson, StringComparison.Ordinal);

            var report = await store.ImportAsync(prepared);
            Assert.Equal(second, report.Image.BaseCommit);
            Assert.Contains(report.Image.ManifestDigest.ToString(), store.QueryCommit(report.Image.MergeCommit, "x")!.ManifestDigest.ToString(), StringComparison.Ordinal);
        }

        // Copied to another store under another name; then removed from the first, with the missing one named.
        var other = new ImageStore(OstreeRepo.Create(Path.Combine(_dir, "other"), RepoMode.BareUser));
        var renamed = ImageReference.Parse("oci:/nowhere:renamed");
        store.CopyTo(other, image.Image, renamed);
        Assert.Equal([renamed.ToString()], other.List());
        Assert.Equal(store.Query(image.Image)!.MergeCommit, other.Query(renamed)!.MergeCommit);

        var removal = store.Remove([image.Image, renamed]);
        Assert.Equal(1, removal.Removed);
        Assert.Equal([renamed], removal.Missing);
        Assert.Empty(store.List());
        Assert.Equal(1, store.PruneLayers());
        Assert.Equal(0, store.PruneLayers());
    }

    [Fact]
    public async Task Preparing_a_missing_image_fails_with_its_code_and_writes_nothing()
    {
        var store = new ImageStore(OstreeRepo.Create(Path.Combine(_dir, "host"), RepoMode.BareUser));
        Directory.CreateDirectory(Path.Combine(_dir, "empty"));
        var e = await Assert.ThrowsAnyAsync<OstreeException>(() => store.PrepareAsync(OstreeImageReference.Parse($"ostree-unverified-image:oci:{Path.Combine(_dir, "empty")}:nope")));
        Assert.NotEqual(OstreeErrorCode.Internal, e.ErrorCode);
        Assert.Empty(store.List());
        Assert.Empty(store.Repository.ListRefs(null, includeRemotes: false));
    }

    [Fact]
    public async Task Byte_events_never_go_down_with_parallel_layers_and_a_failed_delta()
    {
        var recorder = new Recorder();
        var events = new PullEvents(recorder);
        await Parallel.ForEachAsync(Enumerable.Range(1, 400), new ParallelOptions { MaxDegreeOfParallelism = 4 }, (i, _) =>
        {
            events.Fetched(i);
            return ValueTask.CompletedTask;
        });
        long sum = Enumerable.Range(1, 400).Sum();
        Assert.Equal(sum, events.Total);

        // A delta read 700 bytes of the next layer, failed, and the whole 1000-byte layer was fetched after it.
        var delta = events.Within()!;
        delta.Report(700);
        var whole = events.Within()!;
        whole.Report(300);
        whole.Report(1000);
        events.Fetched(1000);

        var bytes = recorder.Events.OfType<PullBytes>().Select(b => b.Fetched).ToList();
        Assert.Equal(bytes.Order().ToList(), bytes);
        Assert.Equal(bytes.Distinct().Count(), bytes.Count);
        Assert.Equal(sum + 1000, bytes[^1]);
        Assert.Equal(sum + 1000, events.Total);
    }
}
