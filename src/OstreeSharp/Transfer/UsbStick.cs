// `create-usb`: collection refs copied onto removable media, as libostree does it: an archive repository at
// .ostree/repo of the mount (or another folder of it, then linked from .ostree/repos.d/NN-generated so that the mount
// repo finder sees it), the refs mirrored into it as refs of their collections, and a fresh summary.
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Transfer;

/// <summary>Copies collection refs onto a mounted volume.</summary>
public static class UsbStick
{
    /// <summary>Where the repository goes when no folder is given; the mount repo finder also looks at ostree/repo.</summary>
    public const string DefaultRepoPath = ".ostree/repo";

    /// <summary>
    /// Copies <paramref name="refs"/> (each at its commit, or at what <paramref name="source"/> has for it) from
    /// <paramref name="source"/> into the archive repository <paramref name="repoPath"/> (default
    /// <see cref="DefaultRepoPath"/>) under <paramref name="mountPath"/>, created when missing; returns the repository's
    /// path relative to the mount.
    /// </summary>
    /// <exception cref="ArgumentException">The repository would not be on the mount, or would be the source.</exception>
    /// <exception cref="ObjectNotFoundException">The mount folder does not exist, or the source lacks a ref.</exception>
    public static string Copy(OstreeRepo source, string mountPath, string? repoPath, IReadOnlyList<CollectionRefRequest> refs, bool fsync = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(mountPath);
        ArgumentNullException.ThrowIfNull(refs);
        if (!Directory.Exists(mountPath) || Native.FileIdentity(mountPath) is not { } mount)
        {
            throw new ObjectNotFoundException(OstreeErrorCode.IOFailed, $"opendir({mountPath}): No such file or directory");
        }

        var relative = repoPath ?? DefaultRepoPath;
        var full = Path.GetFullPath(Path.Combine(mountPath, relative));
        Directory.CreateDirectory(full);

        // As libostree: always an archive repository, which suits FAT (no xattrs, no owners) and compresses.
        var dest = OstreeRepo.Create(full, RepoMode.Archive);
        if (Native.FileIdentity(full) is not { } destId || destId.Device != mount.Device)
        {
            throw new ArgumentException("--destination-repo must be a descendent of MOUNT-PATH");
        }

        if (Native.FileIdentity(source.Path) == destId)
        {
            throw new ArgumentException("--destination-repo must not be the source repository");
        }

        dest.Fsync = fsync;

        // The commits, as a mirror pull from the source would find them: in its summary when it has one, else among
        // every ref of the collection (its mirrors' and its remotes' too).
        var summaryPath = Path.Combine(source.Path, "summary");
        var listing = File.Exists(summaryPath) ? Summary.ReadListing(File.ReadAllBytes(summaryPath)) : null;
        var targets = refs.Select(r => new PullLocalTarget(r.Ref, r.Commit ?? PullLocal.ResolveCollectionRef(source, listing, r.Collection, r.Ref), r.Collection)).ToList();
        PullLocal.Import(source, dest, [], null, new PullLocalOptions
        {
            Targets = targets,
            Mirror = true,
            Trusted = true,
            VerifyBindings = true,
            CollectionId = source.CollectionId,
        }, null, cancellationToken);

        // A summary, so that a client can look the commits up.
        Summary.Update(dest);

        // A repository elsewhere than the folders the mount finder always reads gets a link in .ostree/repos.d, unless
        // one there already leads to it.
        if (relative is not ("ostree/repo" or ".ostree/repo"))
        {
            var reposD = Path.Combine(mountPath, ".ostree", "repos.d");
            Directory.CreateDirectory(reposD);
            if (!Directory.EnumerateFileSystemEntries(reposD).Any(e => Native.FileIdentity(e) == destId))
            {
                var target = Path.Combine("..", "..", relative);
                int i = 0;
                for (; i < 100; i++)
                {
                    int errno = Native.SymlinkErrno(target, Path.Combine(reposD, $"{i:D2}-generated"));
                    if (errno == 0)
                    {
                        break;
                    }

                    if (errno != 17)
                    {
                        throw new IOException($"symlinkat(.ostree/repos.d/{i:D2}-generated → {target}): errno {errno}");
                    }
                }

                if (i == 100)
                {
                    throw new OstreeException(OstreeErrorCode.AlreadyExists, "Could not find an unused symlink name for the repository");
                }
            }
        }

        return relative;
    }
}
