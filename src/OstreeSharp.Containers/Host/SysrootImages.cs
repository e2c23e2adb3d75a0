// Container-backed hosts: deploy from an image, upgrade and switch by origin, prune images no deployment uses.
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Store;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;
using OstreeSharp.Transfer;

namespace OstreeSharp.Containers.Host;

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

/// <summary>What <c>admin upgrade</c> and <c>admin switch</c> were asked to do.</summary>
public sealed record UpgradeRequest
{
    /// <summary><c>--check</c>: only report whether an update is available.</summary>
    public bool CheckOnly { get; init; }

    /// <summary>Deploy even when the commit is the one deployed (a switch).</summary>
    public bool Force { get; init; }

    /// <summary><c>--pull-only</c>: download, do not deploy.</summary>
    public bool PullOnly { get; init; }

    /// <summary><c>--deploy-only</c>: do not pull; deploy what the repository has.</summary>
    public bool DeployOnly { get; init; }

    /// <summary><c>--allow-downgrade</c>: permit a commit older than the deployed one.</summary>
    public bool AllowDowngrade { get; init; }

    /// <summary>Upgrade even an origin whose <c>unconfigured-state</c> says how to configure it (a switch).</summary>
    public bool IgnoreUnconfigured { get; init; }

    /// <summary><c>--stage</c>: stage the new deployment, finalized when the host shuts down.</summary>
    public bool Stage { get; init; }

    /// <summary>Registry access for an image origin; null: the system's defaults.</summary>
    public RegistryOptions? Registry { get; init; }
}

/// <summary>What <c>container image deploy</c> was asked to do: pull <see cref="Image"/> and deploy it as <see cref="Deploy"/> says.</summary>
public sealed record ImageDeployRequest(OstreeImageReference Image, DeployOptions Deploy)
{
    /// <summary><c>--target-imgref</c>: store and follow the image under this reference instead.</summary>
    public OstreeImageReference? Target { get; init; }

    /// <summary><c>--no-imgref</c>: keep the layers in the store, not the image ref.</summary>
    public bool NoImgref { get; init; }

    /// <summary>Registry access; null: the system's defaults.</summary>
    public RegistryOptions? Registry { get; init; }
}

/// <summary>The verbs of ostree-ext and bootc over a sysroot whose deployments come from container images.</summary>
public static class SysrootImages
{
    /// <summary>The origin key of ostree-ext, rpm-ostree and bootc.</summary>
    public const string OriginKey = "container-image-reference";

    /// <summary>
    /// <c>container image deploy</c>: pulls the request's image into the sysroot repository's image store (under its
    /// target when given), checks it is bootable and deploys its merge commit; the origin records the target image.
    /// Progress and messages come as <see cref="PullEvent"/>s.
    /// </summary>
    public static async Task<Deployment> DeployAsync(OstreeSysroot sysroot, ImageDeployRequest request, IProgress<PullEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Image);
        ArgumentNullException.ThrowIfNull(request.Deploy);
        var commit = await PullAsync(sysroot.Repo, request.Image, request.Target, request.Registry, progress, cancellationToken).ConfigureAwait(false);
        var stored = request.Target ?? request.Image;
        RequireBootable(sysroot.Repo, stored.Image);
        if (request.NoImgref)
        {
            // Layer refs stay (later pulls reuse them); the image itself is not pinned in the store.
            sysroot.Repo.SetRefImmediate(ImageStore.ImageRef(stored.Image), null);
        }

        var origin = KeyFile.Parse(string.Empty, "origin");
        origin.Set("origin", OriginKey, stored.ToString());

        return sysroot.Deploy(commit, request.Deploy with { Origin = origin }, cancellationToken);
    }

    /// <summary>The import gate of a deploy: the config labels <c>ostree.bootable</c> or <c>containers.bootc</c>.</summary>
    private static void RequireBootable(OstreeRepo repo, ImageReference image)
    {
        var stored = new ImageStore(repo).Query(image) ?? throw new ContainerException(OstreeErrorCode.ImageNotFound, $"No such image: {image}");
        var config = stored.ConfigJson is { } json ? System.Text.Json.JsonSerializer.Deserialize(json, Oci.OciJsonContext.Default.ImageConfig) : null;
        var labels = config?.Config?.Labels;
        if (labels is null || !(labels.ContainsKey("ostree.bootable") || labels.ContainsKey("containers.bootc")))
        {
            throw new ContainerException(OstreeErrorCode.InvalidData, $"Image {image} is not bootable: its config has neither the ostree.bootable nor the containers.bootc label");
        }
    }

    private static async Task<Checksum> PullAsync(OstreeRepo repo, OstreeImageReference image, OstreeImageReference? target, RegistryOptions? registry, IProgress<PullEvent>? progress, CancellationToken ct)
    {
        var report = await new ImageStore(repo, new ImageStoreOptions { Registry = registry }).PullAsync(image, progress, ct).ConfigureAwait(false);
        progress?.Report(new PullMessage(report.AlreadyPresent ? $"No changes in {image.Image} => {report.Image.MergeCommit}" : $"Wrote: {image.Image} => {report.Image.MergeCommit}"));
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
    /// or a refspec) and deploys it with that origin when it differs from <paramref name="merge"/>'s commit (or
    /// always, with <see cref="UpgradeRequest.Force"/>). As libostree's upgrader: a refspec origin never goes back in
    /// time (the pull refuses an older commit before fetching its tree) unless downgrades are allowed, an
    /// <c>override-commit</c> in the origin pins the commit, and a commit whose metadata has
    /// <c>ostree.endoflife-rebase</c> moves the origin to the ref it names.
    /// </summary>
    public static async Task<UpgradeOutcome> UpgradeAsync(OstreeSysroot sysroot, Deployment merge, KeyFile origin, UpgradeRequest request, IProgress<PullEvent>? progress = null, CancellationToken cancellationToken = default)
    {
        void Log(string line) => progress?.Report(new PullMessage(line));
        ArgumentNullException.ThrowIfNull(sysroot);
        ArgumentNullException.ThrowIfNull(merge);
        ArgumentNullException.ThrowIfNull(origin);
        ArgumentNullException.ThrowIfNull(request);
        var registry = request.Registry;
        if (!request.IgnoreUnconfigured && origin.Get("origin", "unconfigured-state") is { } unconfigured)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, "origin unconfigured-state: " + unconfigured);
        }

        Checksum commit;
        if (origin.Get("origin", OriginKey) is { } imgText)
        {
            var image = OstreeImageReference.Parse(imgText);
            // An image has no timestamp check to skip (--allow-downgrade changes nothing); pulling and deploying
            // are one step for it.
            if (request.DeployOnly || request.PullOnly)
            {
                throw new OstreeException(OstreeErrorCode.DeploymentState, $"--deploy-only and --pull-only apply to refspec origins; {merge} follows the container image {image}");
            }

            if (request.CheckOnly)
            {
                await using var prepared = await new ImageStore(sysroot.Repo, new ImageStoreOptions { Registry = registry }).PrepareAsync(image, cancellationToken).ConfigureAwait(false);
                if (!prepared.AlreadyPresent && prepared.Diff is { } diff)
                {
                    Log(diff.ToString().TrimEnd('\n'));
                }

                bool newer = !prepared.AlreadyPresent || prepared.Previous!.MergeCommit != merge.Commit;
                Log(newer ? $"Update available: {image}" : "No update available.");
                return newer ? UpgradeOutcome.UpdateAvailable : UpgradeOutcome.NoUpdate;
            }

            commit = await PullAsync(sysroot.Repo, image, null, registry, progress, cancellationToken).ConfigureAwait(false);
        }
        else if (origin.Get("origin", "refspec") is { } refspec)
        {
            Checksum? overrideCommit = origin.Get("origin", "override-commit") is { } o ? Checksum.Parse(o) : null;
            Checksum? from = request.AllowDowngrade ? null : merge.Commit;
            commit = await FetchRefspecAsync(sysroot.Repo, refspec, overrideCommit, request, from, cancellationToken).ConfigureAwait(false);
            var rebase = sysroot.Repo.LoadCommit(commit).Metadata.Lookup("ostree.endoflife-rebase") is { Type.Kind: 's' } r ? r.GetString() : null;
            if (rebase is not null && overrideCommit is null)
            {
                var (remote, _) = OstreeRepo.ParseRefspec(refspec);
                refspec = remote is null ? rebase : $"{remote}:{rebase}";
                commit = await FetchRefspecAsync(sysroot.Repo, refspec, null, request, null, cancellationToken).ConfigureAwait(false);
                origin = KeyFile.Parse(origin.ToString(), "origin");
                origin.Set("origin", "refspec", refspec);
            }

            if (request.CheckOnly)
            {
                bool newer = commit != merge.Commit;
                Log(newer ? $"Update available: {refspec} => {commit}" : "No update available.");
                return newer ? UpgradeOutcome.UpdateAvailable : UpgradeOutcome.NoUpdate;
            }

            if (commit != merge.Commit && from is { } f)
            {
                RemotePull.EnsureNotOlder(commit, sysroot.Repo.LoadCommit(commit).Time, f, sysroot.Repo.LoadCommit(f).Time);
            }
        }
        else
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, $"No origin/refspec in current deployment origin; cannot upgrade via ostree ({merge})");
        }

        if (request.PullOnly)
        {
            return commit == merge.Commit ? UpgradeOutcome.NoUpdate : UpgradeOutcome.UpdateAvailable;
        }

        if (commit == merge.Commit && !request.Force)
        {
            Log("No update available.");
            return UpgradeOutcome.NoUpdate;
        }

        // An image's own kernel arguments (bootc's /usr/lib/bootc/kargs.d) follow it from version to version.
        var kargs = origin.Get("origin", OriginKey) is not null ? KargsDUpdate(sysroot.Repo, merge, commit) : null;
        sysroot.Deploy(commit, new DeployOptions { OsName = merge.OsName, Origin = origin, Stage = request.Stage, KargBase = kargs }, cancellationToken);
        return UpgradeOutcome.Deployed;
    }

    /// <summary>
    /// bootc's staging of an image: a deployment of <paramref name="commit"/> (the merge commit of
    /// <paramref name="target"/>, pulled) staged for the next boot, its origin naming only the image, its kernel
    /// arguments those of <paramref name="merge"/> updated by the two images' kargs.d. With
    /// <paramref name="downloadOnly"/>, shutdown leaves it alone until it is unlocked (finalization locked).
    /// </summary>
    public static Deployment StageImage(OstreeSysroot sysroot, Deployment merge, OstreeImageReference target, Checksum commit, bool downloadOnly, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sysroot);
        ArgumentNullException.ThrowIfNull(merge);
        ArgumentNullException.ThrowIfNull(target);
        var origin = KeyFile.Parse(string.Empty, "origin");
        origin.Set("origin", OriginKey, target.ToString());
        var kargs = KargsDUpdate(sysroot.Repo, merge, commit);
        return sysroot.Deploy(commit, new DeployOptions { OsName = merge.OsName, Origin = origin, Stage = true, LockFinalization = downloadOnly, KargBase = kargs }, cancellationToken);
    }

    /// <summary>
    /// The kernel arguments of a deployment of <paramref name="next"/> made from <paramref name="merge"/>, as bootc
    /// computes them at upgrade and switch: the merge deployment's, less those of its image's kargs.d that the new
    /// image's kargs.d no longer has, plus those only the new image's has (what the user added stays). Null when the
    /// two images' kargs.d agree (the merge deployment's arguments are kept as they are).
    /// </summary>
    public static string? KargsDUpdate(OstreeRepo repo, Deployment merge, Checksum next)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(merge);
        var before = repo.HasObject(merge.Commit, ObjectType.Commit) ? Install.InstallConfig.KargsD(repo, repo.LoadCommit(merge.Commit)) : [];
        return MergeKargsD(merge.Options, before, Install.InstallConfig.KargsD(repo, repo.LoadCommit(next)));
    }

    /// <summary>
    /// <paramref name="current"/> kernel arguments less those of <paramref name="before"/> (the old image's kargs.d)
    /// that <paramref name="after"/> (the new one's) lacks, plus those only <paramref name="after"/> has; null when the
    /// two lists agree. The <c>ostree=</c> argument is left out (the boot entry gets its own).
    /// </summary>
    public static string? MergeKargsD(string? current, IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var removed = before.Where(a => !after.Contains(a)).ToHashSet(StringComparer.Ordinal);
        var added = after.Where(a => !before.Contains(a)).ToList();
        if (removed.Count == 0 && added.Count == 0)
        {
            return null;
        }

        var kept = KernelArgs.Parse(current).Items
            .Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value)
            .Where(a => !removed.Contains(a) && !a.StartsWith("ostree=", StringComparison.Ordinal));
        return string.Join(' ', kept.Concat(added));
    }

    /// <summary>
    /// Resolves a refspec (or <paramref name="overrideCommit"/>), pulling it first from its remote unless
    /// <see cref="UpgradeRequest.DeployOnly"/>: a local (file://) repository of any mode as pull-local does, an HTTP
    /// one with the pull client (only the commit with <see cref="UpgradeRequest.CheckOnly"/>), refusing a commit older
    /// than <paramref name="notOlderThan"/>. An override commit also becomes what the ref points at.
    /// </summary>
    private static async Task<Checksum> FetchRefspecAsync(OstreeRepo repo, string refspec, Checksum? overrideCommit, UpgradeRequest request, Checksum? notOlderThan, CancellationToken cancellationToken)
    {
        var (remote, name) = OstreeRepo.ParseRefspec(refspec);
        if (remote is not null && !request.DeployOnly)
        {
            var info = repo.RequireRemote(remote);
            var what = overrideCommit?.ToHex() ?? name;
            if (!info.Url.StartsWith("file://", StringComparison.Ordinal))
            {
                await RemotePull.RunAsync(repo, remote, [what], new PullOptions { CommitMetadataOnly = request.CheckOnly, TimestampCheckFromRev = notOlderThan }, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var source = OstreeRepo.Open(new Uri(info.Url).LocalPath);
                if (request.CheckOnly)
                {
                    return overrideCommit ?? source.Resolve(name);
                }

                PullLocal.Run(source, repo, [what], remote);
            }
        }

        if (overrideCommit is { } c)
        {
            repo.SetRefImmediate(refspec, c);
            return c;
        }

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
        // (a staged deployment is not in the list yet, but its image is in use)
        var deployments = sysroot.Staged is { } staged ? [.. sysroot.Deployments, staged] : sysroot.Deployments;
        foreach (var d in deployments)
        {
            if (d.ContainerImageReference is { } text && OstreeImageReference.TryParse(text, out var r))
            {
                inUse.Add(r.Image.ToString());
            }
        }

        var removed = new List<string>();
        var store = new ImageStore(sysroot.Repo);
        foreach (var image in store.List())
        {
            if (!inUse.Contains(image))
            {
                store.Remove([ImageReference.Parse(image)]);
                removed.Add(image);
            }
        }

        int layers = store.PruneLayers();
        PruneResult? objects = pruneObjects
            ? Prune.Run(sysroot.Repo, new PruneOptions { RefsOnly = true, Depth = 0, ExtraRoots = deployments.Select(d => d.Commit).ToList() })
            : null;
        return (removed, layers, objects);
    }
}
