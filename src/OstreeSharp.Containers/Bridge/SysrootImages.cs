// Container-backed hosts: deploy from an image, upgrade and switch by origin, prune images no deployment uses.
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Objects;
using OstreeSharp.Pull;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;
using OstreeSharp.Trees;

namespace OstreeSharp.Containers.Bridge;

/// <summary>What an upgrade did.</summary>
public enum UpgradeOutcome
{
    /// <summary>The origin's newest commit is already deployed.</summary>
    NoUpdate,

    /// <summary><c>--check</c>: a newer one exists, nothing was deployed.</summary>
    UpdateAvailable,

    /// <summary>A new deployment was written.</summary>
    Deployed,
}

/// <summary>The verbs of ostree-ext and bootc over a sysroot whose deployments come from container images.</summary>
public static class SysrootImages
{
    /// <summary>The origin key of ostree-ext, rpm-ostree and bootc.</summary>
    public const string OriginKey = "container-image-reference";

    /// <summary>
    /// <c>container image deploy</c>: pulls <paramref name="image"/> into the sysroot repository's image store (under
    /// <paramref name="targetImage"/> when given), checks it is bootable and deploys its merge commit; the origin
    /// records the target image. With <paramref name="noImgref"/> the store keeps the layers but not the image ref.
    /// </summary>
    public static async Task<Deployment> DeployAsync(OstreeSysroot sysroot, OstreeImageReference image, DeployOptions options, OstreeImageReference? targetImage, bool noImgref, RegistryOptions? registry, Action<string>? log, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(options);
        var commit = await PullAsync(sysroot.Repo, image, targetImage, registry, log, progress, cancellationToken).ConfigureAwait(false);
        var stored = targetImage ?? image;
        RequireBootable(sysroot.Repo, stored.Image);
        if (noImgref)
        {
            // Layer refs stay (later pulls reuse them); the image itself is not pinned in the store.
            sysroot.Repo.SetRefImmediate(ImageStore.ImageRef(stored.Image), null);
        }

        var origin = KeyFile.Parse(string.Empty, "origin");
        origin.Set("origin", OriginKey, stored.ToString());

        return sysroot.Deploy(commit, options with { Origin = origin }, cancellationToken);
    }

    /// <summary>The import gate of a deploy: the config labels <c>ostree.bootable</c> or <c>containers.bootc</c>.</summary>
    private static void RequireBootable(OstreeRepo repo, ImageReference image)
    {
        var stored = ImageStore.Query(repo, image) ?? throw new ContainerException($"No such image: {image}");
        var config = stored.ConfigJson is { } json ? System.Text.Json.JsonSerializer.Deserialize(json, Oci.OciJsonContext.Default.ImageConfig) : null;
        var labels = config?.Config?.Labels;
        if (labels is null || !(labels.ContainsKey("ostree.bootable") || labels.ContainsKey("containers.bootc")))
        {
            throw new ContainerException($"Image {image} is not bootable: its config has neither the ostree.bootable nor the containers.bootc label");
        }
    }

    private static async Task<Checksum> PullAsync(OstreeRepo repo, OstreeImageReference image, OstreeImageReference? target, RegistryOptions? registry, Action<string>? log, IProgress<long>? progress, CancellationToken ct)
    {
        var report = await ImageStore.PullAsync(repo, image, registry, log, progress, ct).ConfigureAwait(false);
        log?.Invoke(report.AlreadyPresent ? $"No changes in {image.Image} => {report.Image.MergeCommit}" : $"Wrote: {image.Image} => {report.Image.MergeCommit}");
        if (target is not null && target.Image != image.Image)
        {
            // Stored as if it came from the target, which is what the host will follow.
            repo.SetRefImmediate(ImageStore.ImageRef(target.Image), report.Image.MergeCommit);
            repo.SetRefImmediate(ImageStore.ImageRef(image.Image), null);
        }

        return report.Image.MergeCommit;
    }

    /// <summary>
    /// <c>admin upgrade</c> and <c>admin switch</c>: fetches what <paramref name="origin"/> names (a container image,
    /// or a refspec whose remote is a local repository) and deploys it with that origin when it differs from
    /// <paramref name="merge"/>'s commit (or always, with <paramref name="force"/>).
    /// </summary>
    public static async Task<UpgradeOutcome> UpgradeAsync(OstreeSysroot sysroot, Deployment merge, KeyFile origin, RegistryOptions? registry, bool checkOnly, bool force, Action<string>? log, IProgress<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        ArgumentNullException.ThrowIfNull(merge);
        ArgumentNullException.ThrowIfNull(origin);
        if (origin.Get("origin", "unconfigured-state") is { } unconfigured)
        {
            throw new OstreeException(unconfigured);
        }

        Checksum commit;
        if (origin.Get("origin", OriginKey) is { } imgText)
        {
            var image = OstreeImageReference.Parse(imgText);
            if (checkOnly)
            {
                var tmp = Path.Combine(sysroot.Repo.Path, "tmp", $"upgrade-check-{Environment.ProcessId}.json");
                try
                {
                    var report = await ImageStore.PullAsync(sysroot.Repo, image, registry, log, null, tmp, useDeltas: true, cancellationToken).ConfigureAwait(false);
                    bool newer = report is null || report.Image.MergeCommit != merge.Commit;
                    log?.Invoke(newer ? $"Update available: {image}" : "No update available.");
                    return newer ? UpgradeOutcome.UpdateAvailable : UpgradeOutcome.NoUpdate;
                }
                finally
                {
                    File.Delete(tmp);
                }
            }

            commit = await PullAsync(sysroot.Repo, image, null, registry, log, progress, cancellationToken).ConfigureAwait(false);
        }
        else if (origin.Get("origin", "refspec") is { } refspec)
        {
            commit = await FetchRefspecAsync(sysroot.Repo, refspec, checkOnly, cancellationToken).ConfigureAwait(false);
            if (checkOnly)
            {
                bool newer = commit != merge.Commit;
                log?.Invoke(newer ? $"Update available: {refspec} => {commit}" : "No update available.");
                return newer ? UpgradeOutcome.UpdateAvailable : UpgradeOutcome.NoUpdate;
            }
        }
        else
        {
            throw new OstreeException($"Deployment {merge} has no origin to upgrade from (no refspec or {OriginKey})");
        }

        if (commit == merge.Commit && !force)
        {
            log?.Invoke("No update available.");
            return UpgradeOutcome.NoUpdate;
        }

        sysroot.Deploy(commit, new DeployOptions { OsName = merge.OsName, Origin = origin }, cancellationToken);
        return UpgradeOutcome.Deployed;
    }

    /// <summary>
    /// Resolves a refspec, pulling it first from its remote: a local (file://) repository of any mode as
    /// pull-local does, an HTTP one with the pull client (only the commit with <paramref name="checkOnly"/>).
    /// </summary>
    private static async Task<Checksum> FetchRefspecAsync(OstreeRepo repo, string refspec, bool checkOnly, CancellationToken cancellationToken)
    {
        var (remote, name) = OstreeRepo.ParseRefspec(refspec);
        if (remote is null)
        {
            return repo.Resolve(name);
        }

        var info = repo.RequireRemote(remote);
        if (!info.Url.StartsWith("file://", StringComparison.Ordinal))
        {
            var pulled = await RemotePull.RunAsync(repo, remote, [name], new PullOptions { CommitMetadataOnly = checkOnly }, cancellationToken).ConfigureAwait(false);
            return pulled.Refs.Single().Commit;
        }

        var source = OstreeRepo.Open(new Uri(info.Url).LocalPath);
        if (checkOnly)
        {
            return source.Resolve(name);
        }

        PullLocal.Run(source, repo, [name], remote);
        return repo.Resolve(refspec);
    }

    /// <summary>
    /// <c>container image prune-images</c>: removes stored images that no deployment's origin names, then the
    /// layers only they used; with <paramref name="pruneObjects"/>, also the objects nothing reaches.
    /// </summary>
    public static (IReadOnlyList<string> Removed, int Layers, PruneResult? Objects) PruneImages(OstreeSysroot sysroot, bool pruneObjects)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        var inUse = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in sysroot.Deployments)
        {
            if (d.ContainerImageReference is { } text && OstreeImageReference.TryParse(text, out var r))
            {
                inUse.Add(r.Image.ToString());
            }
        }

        var removed = new List<string>();
        foreach (var image in ImageStore.List(sysroot.Repo))
        {
            if (!inUse.Contains(image))
            {
                ImageStore.Remove(sysroot.Repo, [ImageReference.Parse(image)], skipGc: true);
                removed.Add(image);
            }
        }

        int layers = ImageStore.PruneLayers(sysroot.Repo);
        PruneResult? objects = pruneObjects
            ? Prune.Run(sysroot.Repo, new PruneOptions { RefsOnly = true, Depth = 0, ExtraRoots = sysroot.Deployments.Select(d => d.Commit).ToList() })
            : null;
        return (removed, layers, objects);
    }
}
