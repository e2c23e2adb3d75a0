// `ostree admin deploy`: check out, prepare /etc, merge, finalise, compose the list and swap (spec 4.2).
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

/// <summary>Options of a deployment, named as <c>ostree admin deploy</c> names them.</summary>
public sealed record DeployOptions
{
    /// <summary>The stateroot (<c>--os</c>); null for the booted one.</summary>
    public string? OsName { get; init; }

    /// <summary>The origin to write (refspec, container image reference, or an <c>--origin-file</c>).</summary>
    public KeyFile? Origin { get; init; }

    /// <summary>Do not merge /etc from the current deployment (<c>--no-merge</c>).</summary>
    public bool NoMerge { get; init; }

    /// <summary>Keep every existing deployment (<c>--retain</c>).</summary>
    public bool Retain { get; init; }

    /// <summary>Keep pending deployments (<c>--retain-pending</c>).</summary>
    public bool RetainPending { get; init; }

    /// <summary>Keep rollback deployments (<c>--retain-rollback</c>).</summary>
    public bool RetainRollback { get; init; }

    /// <summary>Put the new deployment after the booted or merge one (<c>--not-as-default</c>).</summary>
    public bool NotAsDefault { get; init; }

    /// <summary>Only the cheap cleanup afterwards (<c>--no-prune</c>).</summary>
    public bool NoPrune { get; init; }

    /// <summary>Start from an empty argument list (<c>--karg-none</c>).</summary>
    public bool KargNone { get; init; }

    /// <summary>Start from this command line (<c>--karg-proc-cmdline</c> reads /proc/cmdline into it).</summary>
    public string? KargBase { get; init; }

    /// <summary><c>--karg</c>: replace.</summary>
    public IReadOnlyList<string> Kargs { get; init; } = [];

    /// <summary><c>--karg-append</c>.</summary>
    public IReadOnlyList<string> KargsAppend { get; init; } = [];

    /// <summary><c>--karg-delete</c>.</summary>
    public IReadOnlyList<string> KargsDelete { get; init; } = [];

    /// <summary>
    /// Stage the deployment (<c>--stage</c>): written now, finalized (its /etc merged, its boot entry written) when the
    /// host shuts down, by <c>admin finalize-staged</c> from <c>ostree-finalize-staged.service</c>. Needs a booted host.
    /// </summary>
    public bool Stage { get; init; }

    /// <summary>With <see cref="Stage"/>: shutdown does not finalize it until it is unlocked (<c>--lock-finalization</c>).</summary>
    public bool LockFinalization { get; init; }
}

public sealed partial class OstreeSysroot
{
    /// <summary>Deploys <paramref name="commit"/> and makes the new list live; returns the new deployment.</summary>
    public Deployment Deploy(Checksum commit, DeployOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        string osName = StaterootFor(options);

        if (options.KargNone && (options.KargBase is not null || options.KargsDelete.Count > 0))
        {
            throw new ArgumentException($"{nameof(DeployOptions.KargNone)} cannot be combined with {nameof(DeployOptions.KargBase)} or {nameof(DeployOptions.KargsDelete)}", nameof(options));
        }

        if (options.NoMerge && options.KargsDelete.Count > 0)
        {
            throw new ArgumentException($"{nameof(DeployOptions.NoMerge)} cannot be combined with {nameof(DeployOptions.KargsDelete)}", nameof(options));
        }

        if (options.Stage || options.LockFinalization)
        {
            return StageDeployment(commit, options, cancellationToken);
        }

        CheckBootloader();
        var merge = options.NoMerge ? null : MergeDeployment(osName);
        Cleanup(prune: false);
        var kargs = ComposeKargs(options, merge);

        Deployment d;
        try
        {
            d = InitDeployment(osName, commit, cancellationToken);
            d.Entry = new BootEntry();
            d.Entry["options"] = kargs?.ToString() ?? merge?.Options;
            FinalizeDeployment(d, merge, options.Origin ?? KeyFile.Parse(string.Empty, "origin"));
        }
        catch
        {
            // Nothing references the new deployment yet: the cheap cleanup removes what was written.
            Cleanup(prune: false);
            throw;
        }

        WriteDeployments(ComposeList(d, merge, options, osName));
        Cleanup(prune: !options.NoPrune);
        return Deployments.First(x => x.SameAs(d));
    }

    // The stateroot a deployment goes to: the one named, else the booted one's; it must exist.
    private string StaterootFor(DeployOptions options)
    {
        string osName = options.OsName ?? Booted?.OsName
            ?? throw new OstreeException(OstreeErrorCode.NotBooted, "Not currently booted into an OSTree system and no --os= argument given");
        ValidateOsName(osName);
        if (!Directory.Exists(Combine($"ostree/deploy/{osName}")))
        {
            throw new OstreeException(OstreeErrorCode.StaterootInvalid, $"No stateroot '{osName}' in {Path} (run admin os-init {osName})");
        }

        return osName;
    }

    private static KernelArgs? ComposeKargs(DeployOptions o, Deployment? merge)
    {
        KernelArgs? k = null;
        if (o.KargNone)
        {
            k = new KernelArgs();
        }
        else if (o.KargBase is not null)
        {
            k = KernelArgs.Parse(o.KargBase);
            k.RemoveKey("BOOT_IMAGE");
            k.RemoveKey("initrd");
        }
        else if (merge is not null && (o.Kargs.Count > 0 || o.KargsAppend.Count > 0 || o.KargsDelete.Count > 0))
        {
            k = KernelArgs.Parse(merge.Options);
        }

        if (k is null && (o.Kargs.Count > 0 || o.KargsAppend.Count > 0 || o.KargsDelete.Count > 0))
        {
            k = new KernelArgs();
        }

        if (k is null)
        {
            return null;
        }

        foreach (var a in o.Kargs)
        {
            k.Replace(a);
        }

        foreach (var a in o.KargsAppend)
        {
            k.Append(a);
        }

        foreach (var a in o.KargsDelete)
        {
            k.Delete(a);
        }

        return k;
    }

    /// <summary>Serial, checkout, boot checksum and the initial /etc (spec 4.2 step 5).</summary>
    private Deployment InitDeployment(string osName, Checksum commit, CancellationToken ct)
    {
        var deployDir = Combine($"ostree/deploy/{osName}/deploy");
        Directory.CreateDirectory(deployDir);
        int serial = 0;
        foreach (var dir in Directory.EnumerateDirectories(deployDir))
        {
            var m = DeployNameRegex().Match(System.IO.Path.GetFileName(dir));
            if (m.Success && m.Groups[1].Value == commit.ToHex())
            {
                serial = Math.Max(serial, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) + 1);
            }
        }

        var path = System.IO.Path.Combine(deployDir, $"{commit}.{serial}");
        if (Directory.Exists(path))
        {
            DeleteDeploymentDirectory(path);
        }

        new Checkout(Repo, new CheckoutOptions { ForceCopyZeroSized = true, ProcessWhiteouts = true, BuildInSibling = false }).Run(commit, path, ct);
        FaultPoint.Hit("after-checkout");
        WriteComposefsImage(commit, path);
        var varDir = System.IO.Path.Combine(path, "var");
        if (Directory.Exists(varDir))
        {
            foreach (var e in Directory.EnumerateFileSystemEntries(varDir).Order(StringComparer.Ordinal))
            {
                Note($"note: Deploying commit {commit} which contains content in /var/{System.IO.Path.GetFileName(e)} that will be ignored.");
            }
        }

        PrepareEtc(commit, path, ct);
        var layout = KernelLayout.Find(path);
        return new Deployment(osName, commit, serial, layout.BootChecksum, 0);
    }

    /// <summary>
    /// The deployment's <c>.ostree.cfs</c>, when its prepare-root.conf turns composefs on (or the
    /// repository's <c>ex-integrity.composefs</c> does): with the fs-verity digests the object files
    /// have, or, when the configuration requires verity, with all of them and checked against the
    /// commit's <c>ostree.composefs.digest.v0</c>. (ostree 2026.4 writes one for every deployment.)
    /// </summary>
    private void WriteComposefsImage(Checksum commit, string root)
    {
        PrepareRootConfig config;
        try
        {
            config = PrepareRootConfig.Load(root);
        }
        catch (OstreeFormatException e)
        {
            throw new OstreeException(OstreeErrorCode.InvalidData, $"Parsing prepare-root config of commit {commit}: {e.Message}", e);
        }

        if (config.Composefs == Tristate.No && Repo.ComposefsWanted != Tristate.Yes)
        {
            return;
        }

        var verity = config.RequireVerity ? Composefs.ComposefsVerity.Required : Composefs.ComposefsVerity.IfPresent;
        Composefs.OstreeComposefs.WriteImageFile(Repo, commit, verity, System.IO.Path.Combine(root, Composefs.OstreeComposefs.DeploymentImageName));
    }

    private void PrepareEtc(Checksum commit, string root, CancellationToken ct)
    {
        string etc = System.IO.Path.Combine(root, "etc"), usrEtc = System.IO.Path.Combine(root, "usr/etc");
        bool hasEtc = Directory.Exists(etc), hasUsrEtc = Directory.Exists(usrEtc);
        if (hasEtc && hasUsrEtc)
        {
            throw new OstreeException(OstreeErrorCode.EtcMergeFailed, "Preparing /etc: Tree contains both /etc and /usr/etc");
        }

        if (hasEtc)
        {
            // Compatibility path: the tree's /etc becomes the defaults, and /etc a copy of them.
            Native.Rename(etc, usrEtc);
            EtcMerge.CopyTree(usrEtc, etc);
            return;
        }

        if (hasUsrEtc)
        {
            new Checkout(Repo, new CheckoutOptions { ForceCopy = true, Subpath = "/usr/etc" }).Run(commit, etc, ct);
        }
    }

    /// <summary>/etc merge, var stamps, origin and sealing (spec 3.2-3.3).</summary>
    private void FinalizeDeployment(Deployment d, Deployment? merge, KeyFile origin)
    {
        var root = DeploymentPath(d);
        var etc = System.IO.Path.Combine(root, "etc");
        if (merge is not null && Directory.Exists(etc))
        {
            var mroot = DeploymentPath(merge);
            var c = EtcMerge.Merge(System.IO.Path.Combine(mroot, "usr/etc"), System.IO.Path.Combine(mroot, "etc"), etc, Note);
            Log($"Copying /etc changes: {c.Modified.Count} modified, {c.Removed.Count} removed, {c.Added.Count} added");
            FaultPoint.Hit("after-etc-merge");
            File.Delete(System.IO.Path.Combine(etc, ".updated"));
            File.Delete(Combine($"ostree/deploy/{d.OsName}/var/.updated"));
        }

        var stamp = Combine($"ostree/deploy/{d.OsName}/var/.ostree-selabeled");
        if (!File.Exists(stamp))
        {
            Log("Relabeling /var (no stamp file 'var/.ostree-selabeled' found)");
            File.WriteAllBytes(stamp, []);
        }

        WriteOrigin(d, origin);
        FaultPoint.Hit("after-origin");
        if (!MutableDeployments)
        {
            Native.SetImmutable(root, true);
        }
    }

    /// <summary>The new list (libostree's <c>simple_write_deployment</c>, spec 4.4).</summary>
    private List<Deployment> ComposeList(Deployment d, Deployment? merge, DeployOptions o, string osName)
    {
        var result = new List<Deployment>();
        bool added = false;
        if (!o.NotAsDefault)
        {
            result.Add(d);
            added = true;
        }

        var crossover = Booted ?? merge;
        bool retainAll = o.Retain || (Booted is null && merge is null && (o.RetainPending || o.RetainRollback));
        bool passed = false;
        foreach (var x in Deployments)
        {
            if (x.SameAs(crossover))
            {
                passed = true;
            }

            bool keep = retainAll || x.IsPinned || x.OsName != osName || x.SameAs(Booted) || x.SameAs(merge)
                || (o.RetainPending && !passed) || (o.RetainRollback && passed);
            if (keep)
            {
                result.Add(x);
            }

            if (!added && passed)
            {
                result.Add(d);
                added = true;
            }
        }

        if (!added)
        {
            result.Add(d);
        }

        return result;
    }

    /// <summary><c>ostree admin undeploy INDEX</c>.</summary>
    public Deployment Undeploy(int index)
    {
        if (index < 0 || index >= Deployments.Count)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Out of range deployment index {index}, expected < {Deployments.Count}");
        }

        var target = Deployments[index];
        if (target.SameAs(Booted))
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, $"Cannot undeploy currently booted deployment {index}");
        }

        WriteDeployments(Deployments.Where((_, i) => i != index).ToList());
        Cleanup(prune: true);
        return target;
    }

    /// <summary><c>ostree admin pin [--unpin] INDEX</c>; true when something changed.</summary>
    public bool SetPinned(int index, bool pinned)
    {
        if (index < 0 || index >= Deployments.Count)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Invalid index {index}");
        }

        var d = Deployments[index];
        if (d.IsPinned == pinned)
        {
            return false;
        }

        var origin = d.Origin is null ? KeyFile.Parse(string.Empty, "origin") : KeyFile.Parse(d.Origin.ToString(), OriginPath(d));
        if (pinned)
        {
            origin.Set("libostree-transient", "pinned", "true");
        }
        else
        {
            origin.Remove("libostree-transient", "pinned");
            if (!origin.Keys("libostree-transient").Any())
            {
                origin.RemoveGroup("libostree-transient");
            }
        }

        WriteOrigin(d, origin, fsync: true);
        Native.Touch(Combine("ostree/deploy"));
        return true;
    }

    /// <summary>
    /// Gives deployment <paramref name="d"/> a new kernel command line (<c>admin instutil set-kargs</c>): the
    /// deployment list is written again, which swaps the boot version.
    /// </summary>
    public void SetKargs(Deployment d, string options)
    {
        var list = Deployments.Select(x =>
        {
            if (!x.SameAs(d))
            {
                return x;
            }

            var copy = new Deployment(x.OsName, x.Commit, x.DeploySerial, x.BootChecksum, x.BootSerial) { Entry = x.Entry.Clone(), Origin = x.Origin, IsBooted = x.IsBooted };
            copy.Entry["options"] = options;
            return copy;
        }).ToList();
        WriteDeployments(list);
    }

    /// <summary>
    /// Rewrites the boot entry of <paramref name="d"/> in the current boot version with a new kernel command line,
    /// without a swap (<c>admin kargs edit-in-place</c>).
    /// </summary>
    public void SetKargsInPlace(Deployment d, string options)
    {
        var file = Combine("boot/loader/entries/" + (d.Entry.FileName ?? EntryName(Deployments.Count, d.Index, d.OsName) + ".conf"));
        if (!File.Exists(file))
        {
            throw new OstreeException(OstreeErrorCode.BootloaderFailed, $"No boot entry {file} for deployment {d}");
        }

        var entry = d.Entry.Clone();
        entry["options"] = options;
        FileUtil.WriteAtomic(file, System.Text.Encoding.UTF8.GetBytes(entry.Serialize()), fsync: !Opt("skip-sync"));
        d.Entry = entry;
    }

    /// <summary>Replaces a deployment's origin (<c>admin set-origin</c>), dropping transient state.</summary>
    public void SetOrigin(Deployment d, KeyFile origin)
    {
        WriteOrigin(d, origin);
        Native.Touch(Combine("ostree/deploy"));
    }

    /// <summary>
    /// Makes the rollback deployment the default: the first deployment of the default's stateroot after the
    /// booted one (or, unbooted, after index 0) moves to index 0.
    /// </summary>
    public Deployment Rollback()
    {
        if (Deployments.Count == 0)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No deployments");
        }

        var reference = Booted ?? Deployments[0];
        var (pending, _) = PendingAndRollback();
        Deployment target;
        if (Booted is not null && pending is not null)
        {
            target = Booted; // a pending update exists: go back to what runs now
        }
        else
        {
            target = Deployments.Skip(reference.Index + 1).FirstOrDefault(x => x.OsName == reference.OsName)
                ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No rollback deployment found");
        }

        var list = new List<Deployment> { target };
        list.AddRange(Deployments.Where(x => !x.SameAs(target)));
        WriteDeployments(list);
        Cleanup(prune: false);
        return Deployments[0];
    }

    /// <summary>Removes transient origin state, as tools do when deriving a new origin from an old one.</summary>
    public static KeyFile WithoutTransientState(KeyFile? origin)
    {
        var k = origin is null ? KeyFile.Parse(string.Empty, "origin") : KeyFile.Parse(origin.ToString(), "origin");
        k.RemoveGroup("libostree-transient");
        k.Remove("origin", "override-commit");
        k.Remove("origin", "unlocked");
        return k;
    }
}
