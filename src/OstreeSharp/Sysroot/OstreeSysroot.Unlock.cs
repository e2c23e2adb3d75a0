// `ostree admin unlock` and `bootc usr-overlay`: a writable overlay on the booted deployment's /usr.
using OstreeSharp.Internal;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

/// <summary>The unlocked states <c>ostree admin unlock</c> can put the booted deployment in.</summary>
public enum UnlockMode
{
    /// <summary>A writable overlay on /usr whose changes are gone at the next boot (the default).</summary>
    Development,

    /// <summary>The same overlay, mounted read-only: a process may remount it writable in a mount namespace of its own.</summary>
    Transient,

    /// <summary>A writable overlay kept across boots; an unchanged copy of the deployment becomes the rollback.</summary>
    Hotfix,
}

public sealed partial class OstreeSysroot
{
    /// <summary>The flag file of an unlocked state that lasts until the next boot, as libostree names it.</summary>
    internal static string UnlockRunstatePath(Deployment d, string state) =>
        $"/run/ostree/deployment-state/{d.Commit}.{d.DeploySerial}/unlocked-{state}";

    /// <summary>
    /// Unlocks <paramref name="deployment"/> (the booted one): an overlay is mounted on <c>/usr</c> of the running
    /// system, its upper folder beside the deployment (in its backing folder, or in the deployment for a hotfix, which
    /// ostree-prepare-root mounts again at every boot). The state is recorded where libostree reads it, so that
    /// <c>ostree admin status</c> and <c>bootc status</c> of either tool show it.
    /// </summary>
    /// <exception cref="OstreeException">Already unlocked, or no merge deployment to clone for a hotfix.</exception>
    public void Unlock(Deployment deployment, UnlockMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        if (deployment.Unlocked != "none")
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, $"Deployment is already in unlocked state: {deployment.Unlocked}");
        }

        var merge = MergeDeployment(deployment.OsName) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No previous deployment to duplicate");
        if (mode == UnlockMode.Hotfix)
        {
            // An untouched copy of the deployment, after it in the list: the rollback if the hotfix goes wrong.
            Deploy(deployment.Commit, new DeployOptions { OsName = deployment.OsName, Origin = deployment.Origin, NotAsDefault = true }, cancellationToken);
        }

        var dir = Combine(deployment.RelativePath);
        Native.SetImmutable(dir, false);
        uint usrMode = Native.LStat(System.IO.Path.Combine(dir, "usr")).Mode & 0xFFF;
        string upper, work;
        if (mode == UnlockMode.Hotfix)
        {
            (upper, work) = (System.IO.Path.Combine(dir, ".usr-ovl-upper"), System.IO.Path.Combine(dir, ".usr-ovl-work"));
        }
        else
        {
            // In the deployment's backing folder: on the same filesystem as the deployment, and gone with it. What a
            // previous boot left there is not kept.
            var backing = Combine($"ostree/deploy/{deployment.OsName}/backing/{deployment.DirectoryName}/usr-transient");
            if (Directory.Exists(backing))
            {
                FileUtil.DeleteAny(backing);
            }

            MakeDirectory(backing, usrMode);
            (upper, work) = (System.IO.Path.Combine(backing, "upper"), System.IO.Path.Combine(backing, "work"));
        }

        MakeDirectory(upper, usrMode);
        MakeDirectory(work, usrMode);
        Native.MountOverlay("/usr", $"lowerdir={System.IO.Path.Combine(dir, "usr")},upperdir={upper},workdir={work}", readOnly: mode == UnlockMode.Transient);

        if (mode == UnlockMode.Hotfix)
        {
            var origin = deployment.Origin is null ? KeyFile.Parse(string.Empty, "origin") : KeyFile.Parse(deployment.Origin.ToString(), OriginPath(deployment));
            origin.Set("origin", "unlocked", "hotfix");
            WriteOrigin(deployment, origin, fsync: true);
            deployment.Unlocked = "hotfix";
        }
        else
        {
            var state = mode == UnlockMode.Development ? "development" : "transient";
            var flag = UnlockRunstatePath(deployment, state);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(flag)!);
            File.WriteAllBytes(flag, []);
            deployment.Unlocked = state;
        }

        Native.Touch(Combine("ostree/deploy"));

        static void MakeDirectory(string path, uint mode)
        {
            if (!Directory.Exists(path))
            {
                Directory.CreateDirectory(path);
            }

            Native.Chmod(path, mode);
        }
    }
}
