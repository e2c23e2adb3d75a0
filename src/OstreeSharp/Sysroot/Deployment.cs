// One deployment: a checked-out commit in a stateroot, with its boot entry and origin (spec 1.3, 1.10).
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

/// <summary>A deployment <c>(OS, CSUM, SERIAL)</c> with what the boot entries and origin say about it.</summary>
public sealed class Deployment
{
    /// <summary>Creates a deployment.</summary>
    public Deployment(string osName, Checksum commit, int deploySerial, string bootChecksum, int bootSerial)
    {
        OsName = osName;
        Commit = commit;
        DeploySerial = deploySerial;
        BootChecksum = bootChecksum;
        BootSerial = bootSerial;
    }

    /// <summary>The stateroot.</summary>
    public string OsName { get; }

    /// <summary>The deployed commit.</summary>
    public Checksum Commit { get; }

    /// <summary>Serial among deployments of this commit in this stateroot.</summary>
    public int DeploySerial { get; }

    /// <summary>Boot checksum of the kernel (and initramfs, device tree).</summary>
    public string BootChecksum { get; }

    /// <summary>Serial among deployments of the list sharing this boot checksum.</summary>
    public int BootSerial { get; set; }

    /// <summary>Position in the list; 0 is the default.</summary>
    public int Index { get; set; } = -1;

    /// <summary>The boot entry (parsed, or being composed).</summary>
    public BootEntry Entry { get; set; } = new();

    /// <summary>The origin keyfile, or null when there is none.</summary>
    public KeyFile? Origin { get; set; }

    /// <summary>Whether this is the running deployment.</summary>
    public bool IsBooted { get; set; }

    /// <summary>Staged: written, to be finalized (its /etc merged, its boot entry written) when the host shuts down.</summary>
    public bool IsStaged { get; set; }

    /// <summary>A staged deployment that shutdown leaves alone until it is unlocked (<c>--lock-finalization</c>).</summary>
    public bool FinalizationLocked { get; set; }

    /// <summary>
    /// <c>ostree admin unlock</c>'s state: <c>none</c>, <c>development</c> or <c>transient</c> (an overlay on /usr
    /// until the next boot, recorded in /run/ostree/deployment-state), or <c>hotfix</c> (kept across boots, in the origin).
    /// </summary>
    public string Unlocked { get; set; } = "none";

    /// <summary><c>CSUM.SERIAL</c>.</summary>
    public string DirectoryName => $"{Commit}.{DeploySerial}";

    /// <summary>Relative path from the sysroot.</summary>
    public string RelativePath => $"ostree/deploy/{OsName}/deploy/{DirectoryName}";

    /// <summary>Pinned through <c>[libostree-transient] pinned=true</c>.</summary>
    public bool IsPinned => Origin?.Get("libostree-transient", "pinned") == "true";

    /// <summary>Kernel arguments of the entry.</summary>
    public string? Options => Entry["options"];

    /// <summary>The origin's refspec, if any.</summary>
    public string? Refspec => Origin?.Get("origin", "refspec");

    /// <summary>The origin's container image reference (ostree-ext, bootc), if any.</summary>
    public string? ContainerImageReference => Origin?.Get("origin", "container-image-reference");

    /// <summary>Same deployment (stateroot, commit, serial).</summary>
    public bool SameAs(Deployment? other) =>
        other is not null && other.OsName == OsName && other.Commit == Commit && other.DeploySerial == DeploySerial;

    /// <inheritdoc/>
    public override string ToString() => $"{OsName} {DirectoryName}";
}
