// `serve --image`: the commit inside an ostree-container image, as an archive repository a plain
// HTTP server can publish. The image goes through the image store of a cache repository (so a
// restart, or the next version of the image, fetches only layers it does not have); the served
// ref points at the image's merge commit and the summary lists it.
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Containers.Store;

/// <summary>An image imported for serving: the repository, the ref and its commit.</summary>
public sealed record ServedImageRepository(OstreeRepo Repository, string Ref, Checksum Commit, bool AlreadyPresent);

/// <summary>Prepares the archive repository that serves an image's commit.</summary>
public static class ServedImage
{
    /// <summary>
    /// Imports <paramref name="image"/> (an ostree image reference, or a plain TRANSPORT:NAME taken as
    /// <c>ostree-unverified-image:</c>) into the archive repository at <paramref name="repositoryPath"/>
    /// (created when missing), points <paramref name="refName"/> at its commit (default: the commit's
    /// first <c>ostree.ref-binding</c>, else <c>image</c>) and regenerates the summary. The pull reports through
    /// <paramref name="progress"/>.
    /// </summary>
    public static async Task<ServedImageRepository> PrepareAsync(string repositoryPath, string image, string? refName = null, RegistryOptions? registry = null, IProgress<PullEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repositoryPath);
        ArgumentNullException.ThrowIfNull(image);
        var imgref = OstreeImageReference.TryParse(image, out var parsed) ? parsed : OstreeImageReference.Parse("ostree-unverified-image:" + image);
        var repo = File.Exists(Path.Combine(repositoryPath, "config")) ? OstreeRepo.Open(repositoryPath) : OstreeRepo.Create(repositoryPath, RepoMode.Archive);
        var report = await new ImageStore(repo, new ImageStoreOptions { Registry = registry }).PullAsync(imgref, progress, cancellationToken).ConfigureAwait(false);
        // A base image is served as its own commit; a derived one as the merge commit that carries its layers.
        var commit = report.Image.MergeCommit;
        if (report.Image.BaseCommit is { } baseCommit && baseCommit != commit)
        {
            Commit merge = repo.LoadCommit(commit), based = repo.LoadCommit(baseCommit);
            if (merge.RootTree == based.RootTree && merge.RootMeta == based.RootMeta)
            {
                commit = baseCommit;
            }
        }

        var name = refName ?? DefaultRef(repo.LoadCommit(commit));
        OstreeRepo.ValidateRefName(name);
        repo.SetRefImmediate(name, commit);
        Summary.Update(repo);
        return new ServedImageRepository(repo, name, commit, report.AlreadyPresent);
    }

    private static string DefaultRef(Commit commit) =>
        commit.Metadata.Lookup("ostree.ref-binding") is { Type.Text: "as" } b && b.ChildCount > 0 ? b[0].GetString() : "image";
}
