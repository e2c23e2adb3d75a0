// Staged deployments, compatible with libostree (2018.x to 2026.4) both ways: `admin deploy --stage` writes the
// deployment (checkout, initial /etc, origin) while the host runs, and records it in /run/ostree/staged-deployment (an
// a{sv}: target, merge-deployment, kargs, locked); ostree-finalize-staged.service runs `admin finalize-staged` when it
// stops at shutdown, which merges /etc from the merge deployment and writes the boot entries then, so that nothing
// written to /etc after staging is lost and the boot loader changes only once the system is done with it.
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

public sealed partial class OstreeSysroot
{
    /// <summary>Where a booted host records its staged deployment (an absolute path, as libostree's).</summary>
    public const string StagedStatePath = "/run/ostree/staged-deployment";

    /// <summary>The older way (still written and honoured) to keep shutdown from finalizing the staged deployment.</summary>
    public const string StagedLockedPath = "/run/ostree/staged-deployment-locked";

    /// <summary>The unit that finalizes a staged deployment when it stops; staging starts it.</summary>
    public const string FinalizeService = "ostree-finalize-staged.service";

    /// <summary>Written under the sysroot's /boot with the error when finalization fails, as libostree does.</summary>
    public const string FinalizeFailureStamp = "boot/ostree/finalize-failure.stamp";

    private GVariantValue? _stagedState;

    /// <summary>The staged deployment of a booted host (not part of <see cref="Deployments"/>), or null.</summary>
    public Deployment? Staged { get; private set; }

    // The staged deployment, read as libostree reads it: only on the booted host.
    private void LoadStaged()
    {
        Staged = null;
        _stagedState = null;
        if (Booted is null || !File.Exists(StagedStatePath))
        {
            return;
        }

        GVariantValue state;
        try
        {
            state = GVariantValue.Parse(GVariantType.VarDict, File.ReadAllBytes(StagedStatePath));
        }
        catch (OstreeFormatException e)
        {
            throw new OstreeFormatException($"Loading staged deployment: {StagedStatePath}: {e.Message}", e);
        }

        if (state.Lookup("target") is not { } target)
        {
            return;
        }

        var d = DeserializeDeployment(target);
        if (state.Lookup("kargs") is { Type.Text: "as" } kargs)
        {
            d.Entry["options"] = string.Join(' ', kargs.GetChildren().Select(k => k.GetString()));
        }

        LoadOrigin(d);
        d.IsStaged = true;
        d.FinalizationLocked = state.Lookup("locked") is { Type.Text: "b" } locked && locked.GetBoolean();
        Staged = d;
        _stagedState = state;
    }

    // libostree's form of a deployment in the state file: {name: CSUM.SERIAL, osname, bootcsum}.
    private static GVariantValue SerializeDeployment(Deployment d) => GVariantValue.FromVarDict(
    [
        new("name", GVariantValue.FromString(d.DirectoryName)),
        new("osname", GVariantValue.FromString(d.OsName)),
        new("bootcsum", GVariantValue.FromString(d.BootChecksum)),
    ]);

    private static Deployment DeserializeDeployment(GVariantValue v)
    {
        string Require(string key) => v.Lookup(key) is { Type.Text: "s" } s ? s.GetString()
            : throw new OstreeFormatException($"Loading staged deployment: {StagedStatePath}: Missing key: {key}");
        var name = Require("name");
        var m = DeployNameRegex().Match(name);
        if (!m.Success || !Checksum.TryParse(m.Groups[1].Value, out var commit))
        {
            throw new OstreeFormatException($"Loading staged deployment: {StagedStatePath}: Invalid deployment name '{name}'");
        }

        var osName = Require("osname");
        ValidateOsName(osName);
        return new Deployment(osName, commit, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), Require("bootcsum"), 0);
    }

    // libostree's ostree_sysroot_stage_tree_with_options.
    private Deployment StageDeployment(Checksum commit, DeployOptions options, CancellationToken ct)
    {
        if (Booted is null)
        {
            throw new OstreeException(OstreeErrorCode.NotBooted, "Cannot stage deployment: Not currently booted into an OSTree system"); // ostree 2022.7's words (2026.4 puts "Staging deployment: " first)
        }

        if (options.Retain || options.RetainPending || options.RetainRollback)
        {
            throw new ArgumentException($"a staged deployment cannot be combined with {nameof(DeployOptions.Retain)}, {nameof(DeployOptions.RetainPending)} or {nameof(DeployOptions.RetainRollback)}", nameof(options));
        }

        if (options.NotAsDefault)
        {
            throw new ArgumentException($"a staged deployment cannot be combined with {nameof(DeployOptions.NotAsDefault)}", nameof(options));
        }

        string osName = StaterootFor(options);
        CheckBootloader();
        StartFinalizeService();
        var merge = options.NoMerge ? null : MergeDeployment(osName);
        var kargs = ComposeKargs(options, merge);
        var previous = Staged;
        Cleanup(prune: false);

        // libostree 2026.x, which may finalize what we stage, keeps per-deployment state under the stateroot's
        // backing folder and expects that folder to exist.
        var backing = Combine($"ostree/deploy/{osName}/backing");
        if (!Directory.Exists(backing))
        {
            Directory.CreateDirectory(backing);
            Native.Chmod(backing, 0x1C0);
        }

        Deployment d;
        try
        {
            d = InitDeployment(osName, commit, ct);
            WriteOrigin(d, options.Origin ?? KeyFile.Parse(string.Empty, "origin"));
        }
        catch
        {
            Cleanup(prune: false);
            throw;
        }

        // The lock of older releases too, as ostree's CLI still writes it.
        if (options.LockFinalization)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(StagedLockedPath)!);
            File.WriteAllBytes(StagedLockedPath, []);
        }

        var entries = new List<KeyValuePair<string, GVariantValue>> { new("target", SerializeDeployment(d)) };
        if (options.LockFinalization)
        {
            entries.Add(new("locked", GVariantValue.FromBoolean(true)));
        }

        if (merge is not null)
        {
            entries.Add(new("merge-deployment", SerializeDeployment(merge)));
        }

        if (kargs is not null)
        {
            entries.Add(new("kargs", GVariantValue.FromStringArray(kargs.Items.Select(a => a.Value is null ? a.Key : a.Key + "=" + a.Value))));
        }

        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(StagedStatePath)!);
        FileUtil.WriteAtomic(StagedStatePath, GVariantValue.FromVarDict(entries).ToBytes(), fsync: false);

        // A deployment staged before is replaced: its folder goes (with its lock, unless this one is locked).
        if (previous is not null && !previous.SameAs(d))
        {
            DeleteDeploymentDirectory(DeploymentPath(previous));
            File.Delete(OriginPath(previous));
            if (!options.LockFinalization)
            {
                File.Delete(StagedLockedPath);
            }
        }

        Native.Touch(Combine("ostree/deploy"));
        Load();
        WriteDeploymentRefs();
        Log($"Staged deployment {d} (finalized at shutdown by {FinalizeService})");
        return Staged ?? throw new OstreeException(OstreeErrorCode.IOFailed, $"{StagedStatePath} was written but does not read back");
    }

    // As libostree: the unit whose stop finalizes must be running, or shutdown would not finalize.
    private static void StartFinalizeService()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("systemctl") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { "start", "--quiet", FinalizeService })
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            using var p = System.Diagnostics.Process.Start(psi) ?? throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, "systemctl: could not start");
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
            {
                throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"Failed to start {FinalizeService}: systemctl exited with status {p.ExitCode}: {err.Trim()}");
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"Failed to start {FinalizeService}: systemctl: {e.Message}");
        }
    }

    /// <summary>
    /// <c>admin lock-finalization</c>: locks (or, <paramref name="locked"/> false, unlocks) the staged deployment, so
    /// that shutdown does not finalize it; as libostree, the state file says it and the older lock file follows.
    /// </summary>
    public void SetFinalizationLocked(bool locked)
    {
        if (Staged is null || _stagedState is null)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No staged deployment");
        }

        var entries = _stagedState.GetVarDictEntries().Where(e => e.Key != "locked").ToList();
        entries.Add(new("locked", GVariantValue.FromBoolean(locked)));
        FileUtil.WriteAtomic(StagedStatePath, GVariantValue.FromVarDict(entries).ToBytes(), fsync: false);
        if (locked)
        {
            File.WriteAllBytes(StagedLockedPath, []);
        }
        else
        {
            File.Delete(StagedLockedPath);
        }

        LoadStaged();
    }

    /// <summary>
    /// <c>admin finalize-staged</c>, run by <see cref="FinalizeService"/> when it stops at shutdown: the staged
    /// deployment gets the /etc of the merge deployment as it is now and becomes the default boot entry. Returns false
    /// when there was nothing to do (none staged, or its finalization locked). A failure is also written to
    /// <see cref="FinalizeFailureStamp"/>.
    /// </summary>
    public bool FinalizeStaged()
    {
        if (Staged is not { } staged || _stagedState is null)
        {
            Log("No deployment staged for finalization");
            return false;
        }

        if (staged.FinalizationLocked || File.Exists(StagedLockedPath))
        {
            Log("Not finalizing; deployment is locked for finalization");
            return false;
        }

        Log($"Finalizing staged deployment {staged}");
        try
        {
            Deployment? merge = null;
            if (_stagedState.Lookup("merge-deployment") is { } mv)
            {
                var stub = DeserializeDeployment(mv);
                merge = Deployments.FirstOrDefault(x => x.SameAs(stub))
                    ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Failed to find merge deployment {stub.DirectoryName} for staged");
            }

            // Gone first: a finalization cut short is not tried again on a half-merged /etc.
            File.Delete(StagedStatePath);
            staged.IsStaged = false;
            var options = staged.Options ?? merge?.Options;
            staged.Entry = new BootEntry();
            staged.Entry["options"] = options;
            FinalizeDeployment(staged, merge, staged.Origin ?? KeyFile.Parse(string.Empty, "origin"));
            Log("Finalized deployment");
            Staged = null;
            _stagedState = null;
            WriteDeployments(ComposeList(staged, merge, new DeployOptions(), staged.OsName));
            Log("Finished writing deployment");
            Cleanup(prune: false);
            Log("Cleanup complete");
            return true;
        }
        catch (Exception e) when (e is OstreeException or IOException or UnauthorizedAccessException)
        {
            try
            {
                Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Combine(FinalizeFailureStamp))!);
                File.WriteAllText(Combine(FinalizeFailureStamp), e.Message);
            }
            catch (Exception stampError) when (stampError is IOException or UnauthorizedAccessException)
            {
                // the stamp is best effort: the error itself is what the caller sees
            }

            throw;
        }
    }
}
