// Task-based entry points for embedders. File-system work on Linux is synchronous system calls,
// so these run the operation on the thread pool and honour cancellation between files.
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp;

/// <summary>Asynchronous forms of the main repository operations.</summary>
internal static class RepoAsync
{
    /// <summary>Commits a directory (one transaction: objects staged, published, then the ref moved).</summary>
    public static Task<CommitResult> CommitDirectoryAsync(this OstreeRepo repo, string directory, CommitRequest request, CommitModifier? modifier = null, IProgress<TreeProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() =>
        {
            using var tx = repo.BeginTransaction();
            var root = new MutableTree();
            new DirectoryImporter(tx, modifier ?? new CommitModifier()) { Progress = progress }.Import(directory, root, cancellationToken);
            var result = CommitWriter.Write(tx, root, request);
            cancellationToken.ThrowIfCancellationRequested();
            var stats = tx.Commit();
            return result with { Stats = stats };
        }, cancellationToken);

    /// <summary>Checks out a commit.</summary>
    public static Task CheckoutAsync(this OstreeRepo repo, Checksum commit, string destination, CheckoutOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => new Checkout(repo, options ?? new CheckoutOptions()).Run(commit, destination, cancellationToken), cancellationToken);

    /// <summary>Verifies every object and every commit's tree.</summary>
    public static Task<FsckResult> FsckAsync(this OstreeRepo repo, bool delete = false, IProgress<TreeProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Fsck.Run(repo, delete, progress, cancellationToken), cancellationToken);

    /// <summary>Writes a commit as an ostree-ext tar stream.</summary>
    public static Task ExportTarAsync(this OstreeRepo repo, Checksum commit, Stream output, CancellationToken cancellationToken = default) =>
        Task.Run(() => new OstreeTarExporter(repo).Export(commit, output, cancellationToken), cancellationToken);

    /// <summary>Imports an ostree-ext tar stream; <paramref name="writeRef"/> moves last.</summary>
    public static Task<TarImportResult> ImportTarAsync(this OstreeRepo repo, Stream input, string? writeRef = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => new OstreeTarImporter(repo).Import(input, writeRef, cancellationToken), cancellationToken);
}
