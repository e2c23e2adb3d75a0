// Cleanup: other boot versions, unused deployments and boot folders, deployment refs, prune (spec 1.11-1.12).
using System.Text;
using System.Text.RegularExpressions;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

/// <summary>What a cleanup removed.</summary>
public sealed record SysrootCleanupResult(int DeploymentsRemoved, int BootDirectoriesRemoved, PruneResult? Prune);

public sealed partial class OstreeSysroot
{
    [GeneratedRegex("^[01]/[01]/[0-9]+$")]
    private static partial Regex DeploymentRefRegex();

    [GeneratedRegex("-[0-9a-f]{64}$")]
    private static partial Regex BootDirRegex();

    /// <summary>
    /// Removes everything the live deployment list does not reach; with <paramref name="prune"/> also prunes the
    /// repository to ref tips and deployed commits (depth 0), printing <c>Freed objects</c>.
    /// </summary>
    public SysrootCleanupResult Cleanup(bool prune = true)
    {
        int b = BootVersion, s = SubBootVersion;
        FileUtil.DeleteAny(Combine($"boot/loader.{1 - b}"));
        foreach (var p in new[] { $"ostree/boot.{1 - b}", $"ostree/boot.{1 - b}.0", $"ostree/boot.{1 - b}.1", $"ostree/boot.{b}.{1 - s}" })
        {
            FileUtil.DeleteAny(Combine(p));
        }

        int removed = 0;
        var live = WithStaged().Select(d => d.RelativePath).ToHashSet(StringComparer.Ordinal);
        foreach (var (rel, dir) in DeploymentDirectories())
        {
            if (live.Contains(rel))
            {
                continue;
            }

            FaultPoint.Hit("cleanup-deployment");
            DeleteDeploymentDirectory(dir);
            File.Delete(dir + ".origin");
            // (and what libostree 2026.x keeps beside a deployment it finalized: ostree/deploy/OS/backing/CSUM.SERIAL)
            var backing = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(dir)!)!, "backing", System.IO.Path.GetFileName(dir));
            if (Directory.Exists(backing))
            {
                FileUtil.DeleteAny(backing);
            }

            removed++;
        }

        int bootRemoved = 0;
        var bootOstree = Combine("boot/ostree");
        var usedBootCsums = Deployments.Select(d => d.BootChecksum).ToHashSet(StringComparer.Ordinal);
        if (Directory.Exists(bootOstree))
        {
            foreach (var dir in Directory.EnumerateDirectories(bootOstree))
            {
                var name = System.IO.Path.GetFileName(dir);
                if (BootDirRegex().IsMatch(name) && !usedBootCsums.Contains(name[^64..]))
                {
                    FileUtil.DeleteAny(dir);
                    bootRemoved++;
                }
            }
        }

        WriteDeploymentRefs();
        PruneResult? pr = null;
        if (prune)
        {
            pr = Prune.Run(Repo, new PruneOptions { RefsOnly = true, Depth = 0, ExtraRoots = WithStaged().Select(d => d.Commit).ToList() });
            if (pr.BytesFreed > 0)
            {
                Log($"Freed objects: {SizeFormat.FormatAsGlibPrints(pr.BytesFreed)}");
            }
        }

        return new SysrootCleanupResult(removed, bootRemoved, pr);
    }

    /// <summary>
    /// Every deployment folder on disk (<c>ostree/deploy/OS/deploy/CHECKSUM.SERIAL</c>), in the bootloader's entries
    /// or not, as relative and full paths, in name order.
    /// </summary>
    private IEnumerable<(string Relative, string Full)> DeploymentDirectories()
    {
        var deployRoot = Combine("ostree/deploy");
        if (!Directory.Exists(deployRoot))
        {
            yield break;
        }

        foreach (var osDir in Directory.EnumerateDirectories(deployRoot).Order(StringComparer.Ordinal))
        {
            var dd = System.IO.Path.Combine(osDir, "deploy");
            if (!Directory.Exists(dd))
            {
                continue;
            }

            foreach (var dir in Directory.EnumerateDirectories(dd).Order(StringComparer.Ordinal))
            {
                var name = System.IO.Path.GetFileName(dir);
                if (DeployNameRegex().IsMatch(name) && Native.LStat(dir).Type == UnixMode.Directory)
                {
                    yield return ($"ostree/deploy/{System.IO.Path.GetFileName(osDir)}/deploy/{name}", dir);
                }
            }
        }
    }

    /// <summary>
    /// <c>ostree admin post-copy</c>: after the sysroot was copied into place with file-level tools (which drop
    /// fs-verity), fs-verity is enabled again where the repository's config asks for it: on every loose object, then on
    /// every deployment's <c>.ostree.cfs</c>. Where the filesystem has no fs-verity, the first refusal ends it (an
    /// error when the config requires it).
    /// </summary>
    /// <exception cref="OstreeException">fs-verity is required and the filesystem does not support it.</exception>
    public void UpdatePostCopy()
    {
        var wanted = Repo.FsVerityWanted;
        if (wanted == Tristate.No)
        {
            return;
        }

        // Symlinks (bare repositories' symlink objects) and missing images are skipped, as libostree does.
        bool Ensure(string path) =>
            !Native.TryLStat(path, out var st) || st.Type != UnixMode.Regular || OstreeRepo.EnsureFsVerity(path, wanted, allowExisting: true);

        foreach (var (checksum, type) in Repo.EnumerateObjects())
        {
            if (!Ensure(Repo.ObjectPath(checksum, type)))
            {
                break;
            }
        }

        foreach (var (_, dir) in DeploymentDirectories())
        {
            if (!Ensure(System.IO.Path.Combine(dir, Composefs.OstreeComposefs.DeploymentImageName)))
            {
                break;
            }
        }
    }

    /// <summary>Clears the immutable flag, then removes the tree.</summary>
    private static void DeleteDeploymentDirectory(string dir)
    {
        Native.SetImmutable(dir, false);
        Directory.Delete(dir, recursive: true);
    }

    // The deployments cleanup keeps: the staged one (first, as libostree lists it) and the list.
    private IEnumerable<Deployment> WithStaged() => Staged is null ? Deployments : Deployments.Prepend(Staged);

    /// <summary>Exactly one ref <c>ostree/B/S/INDEX</c> per deployment; other ones deleted, empty folders left.</summary>
    private void WriteDeploymentRefs()
    {
        var heads = System.IO.Path.Combine(Repo.Path, "refs/heads/ostree");
        // As libostree, whose list starts with the staged deployment: its commit is kept by a ref too.
        var wanted = WithStaged().Select((d, i) => (d, i)).ToDictionary(x => $"{BootVersion}/{SubBootVersion}/{x.i}", x => x.d.Commit, StringComparer.Ordinal);
        if (Directory.Exists(heads))
        {
            foreach (var f in Directory.EnumerateFiles(heads, "*", SearchOption.AllDirectories))
            {
                var rel = System.IO.Path.GetRelativePath(heads, f);
                if (!DeploymentRefRegex().IsMatch(rel))
                {
                    continue; // ostree/container/... and other refs are not ours to touch
                }

                if (!wanted.TryGetValue(rel, out var c) || !File.ReadAllText(f).StartsWith(c.ToHex(), StringComparison.Ordinal))
                {
                    File.Delete(f);
                }
            }
        }

        // In a transaction, as libostree writes them (its test hook OSTREE_REPO_TEST_ERROR=pre-commit fails here).
        using var tx = Repo.BeginTransaction();
        foreach (var (rel, commit) in wanted)
        {
            if (!File.Exists(System.IO.Path.Combine(heads, rel)))
            {
                tx.SetRef("ostree/" + rel, commit);
            }
        }

        tx.Commit();
    }
}
