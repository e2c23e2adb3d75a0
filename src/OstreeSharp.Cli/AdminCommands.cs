// `admin`: sysroot verbs as `ostree admin` has them (init-fs, os-init, deploy, status, undeploy, ...).
using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static class AdminCommands
{
    public static Option<string?> SysrootOption() => new("--sysroot") { Description = "Use system root PATH (default: $OSTREE_SYSROOT, else /)" };

    public static OstreeSysroot Open(ParseResult pr, Option<string?> sysroot)
    {
        var s = OstreeSysroot.Open(OstreeSysroot.DefaultPath(pr.GetValue(sysroot)));
        s.Log = Console.WriteLine;
        s.Note = Console.Error.WriteLine;
        return s;
    }

    /// <summary>Runs <paramref name="body"/> with the sysroot opened, locked and loaded (ostree's mutating verbs).</summary>
    private static int Locked(ParseResult pr, Option<string?> sysroot, Func<OstreeSysroot, int> body)
    {
        var s = Open(pr, sysroot);
        using var _ = s.Lock();
        s.Load();
        return body(s);
    }

    /// <summary>The merge deployment of <c>--os</c>, else of the booted or first deployment's stateroot.</summary>
    private static Deployment MergeFor(OstreeSysroot s, string? os)
    {
        var name = os ?? s.Booted?.OsName ?? s.Deployments.FirstOrDefault()?.OsName ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No deployments; use admin deploy first");
        return s.MergeDeployment(name) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"No deployments for stateroot '{name}'");
    }

    public static Command Create()
    {
        var admin = new Command("admin", "Manage a sysroot: deployments, boot entries, /etc merge (as `ostree admin`)");
        foreach (var c in new[] { InitFs(), OsInit(), Deploy(), Status(), Undeploy(), Cleanup(), PostCopy(), Pin(), SetOrigin(), Rollback(), ConfigDiff(), Upgrade(), Switch(), Kargs(), Instutil(), SetDefault(), OsInit("stateroot-init"), FinalizeStaged(), LockFinalization(), Unlock() })
        {
            admin.Subcommands.Add(c);
        }

        // `ostree admin --print-current-dir`: the folder of the first deployment, for scripts.
        var sysroot = SysrootOption();
        var printCurrentDir = new Option<bool>("--print-current-dir") { Description = "Print the folder of the first deployment and exit" };
        admin.Options.Add(sysroot);
        admin.Options.Add(printCurrentDir);
        CliSupport.SetRun(admin, pr =>
        {
            if (!pr.GetValue(printCurrentDir))
            {
                return CliHelp.NoSubcommand(admin);
            }

            var s = Open(pr, sysroot);
            s.Load();
            var first = s.Deployments.FirstOrDefault() ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "Unable to find a deployment in sysroot");
            Console.WriteLine(Path.GetFullPath(s.DeploymentPath(first)));
            return 0;
        });
        return admin;
    }

    private static Command InitFs()
    {
        var cmd = new Command("init-fs", "Initialize a root filesystem");
        var path = new Argument<string>("PATH");
        var modern = new Option<bool>("--modern") { Description = "Only boot/ and ostree/ (no dev, proc, ...)" };
        cmd.Arguments.Add(path);
        cmd.Options.Add(modern);
        CliSupport.SetRun(cmd, pr =>
        {
            OstreeSysroot.InitFs(pr.GetValue(path)!, pr.GetValue(modern));
            return 0;
        });
        return cmd;
    }

    private static Command OsInit() => OsInit("os-init");

    private static Command SetDefault()
    {
        var cmd = new Command("set-default", "Make deployment INDEX the default");
        var sysroot = SysrootOption();
        var index = new Argument<int>("INDEX");
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(index);
        CliSupport.SetRun(cmd, pr => Locked(pr, sysroot, s =>
        {
            int i = pr.GetValue(index);
            if (i < 0 || i >= s.Deployments.Count)
            {
                throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Out of range deployment index {i}, expected < {s.Deployments.Count}");
            }

            var list = s.Deployments.ToList();
            var target = list[i];
            list.RemoveAt(i);
            list.Insert(0, target);
            s.WriteDeployments(list);
            s.Cleanup(prune: true); // as ostree's final cleanup, which prunes
            return 0;
        }));
        return cmd;
    }

    private static Command OsInit(string name)
    {
        var cmd = new Command(name, "Initialize empty state for the given operating system (stateroot)");
        var sysroot = SysrootOption();
        var os = new Argument<string>("OSNAME");
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(os);
        CliSupport.SetRun(cmd, pr =>
        {
            var s = Open(pr, sysroot);
            using var _ = s.Lock();
            s.InitOs(pr.GetValue(os)!);
            return 0;
        });
        return cmd;
    }

    internal sealed class KargOptions
    {
        public readonly Option<string[]> Karg = new("--karg") { Description = "Set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name" };
        public readonly Option<string[]> Append = new("--karg-append") { Description = "Append kernel argument; useful with e.g. console= that can be used multiple times" };
        public readonly Option<string[]> Delete = new("--karg-delete") { Description = "Delete kernel argument if exists" };
        public readonly Option<bool> None = new("--karg-none") { Description = "Do not import kernel arguments" };
        public readonly Option<bool> ProcCmdline = new("--karg-proc-cmdline") { Description = "Import current /proc/cmdline" };

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { Karg, Append, Delete, None, ProcCmdline })
            {
                cmd.Options.Add(o);
            }
        }

        public string? Base(ParseResult pr, OstreeSysroot s)
        {
            if (!pr.GetValue(ProcCmdline))
            {
                return null;
            }

            return ProcCmdline();
        }
    }

    /// <summary>As ostree: the running kernel's command line, without what the boot loader adds (BOOT_IMAGE=, initrd=).</summary>
    private static string ProcCmdline() =>
        string.Join(' ', File.ReadAllText("/proc/cmdline").Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Where(a => !a.StartsWith("BOOT_IMAGE=", StringComparison.Ordinal) && !a.StartsWith("initrd=", StringComparison.Ordinal)));

    private static Command Deploy()
    {
        var cmd = new Command("deploy", "Check out a revision as a new deployment and make it the default boot entry");
        var sysroot = SysrootOption();
        var refspec = new Argument<string>("REFSPEC");
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        var originFile = new Option<string?>("--origin-file") { Description = "Specify origin file" };
        var noPrune = new Option<bool>("--no-prune") { Description = "Don't prune the repo when done" };
        var noMerge = new Option<bool>("--no-merge") { Description = "Do not apply configuration (/etc and kernel arguments) from booted deployment" };
        var retain = new Option<bool>("--retain") { Description = "Do not delete previous deployments" };
        var retainPending = new Option<bool>("--retain-pending") { Description = "Do not delete pending deployments" };
        var retainRollback = new Option<bool>("--retain-rollback") { Description = "Do not delete rollback deployments" };
        var notDefault = new Option<bool>("--not-as-default") { Description = "Append rather than prepend new deployment" };
        var stage = new Option<bool>("--stage") { Description = "Complete deployment at OS shutdown" };
        var lockFinalization = new Option<bool>("--lock-finalization") { Description = "Prevent automatic deployment finalization on shutdown" };
        var json = new Option<bool>("--json") { Description = "Print the new deployment as JSON" };
        var kargs = new KargOptions();
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(refspec);
        foreach (var o in new Option[] { os, originFile, noPrune, noMerge, retain, retainPending, retainRollback, notDefault, stage, lockFinalization, json })
        {
            cmd.Options.Add(o);
        }

        kargs.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            // ostree's own checks of the flags, in its words and order: the first three are usage errors (the help,
            // then the error) before the sysroot is looked at; the --stage ones come once the refspec is resolved. (ostree
            // lets --stage --retain through and ignores --retain; we refuse it.)
            bool deleting = pr.GetValue(kargs.Delete) is { Length: > 0 };
            var usage = pr.GetValue(kargs.ProcCmdline) && pr.GetValue(kargs.None) ? "Can't specify both --karg-proc-cmdline and --karg-none"
                : pr.GetValue(kargs.None) && deleting ? "Can't specify both --karg-none and --karg-delete"
                : pr.GetValue(noMerge) && deleting ? "Can't specify both --no-merge and --karg-delete"
                : null;
            if (usage is not null)
            {
                return CliHelp.Usage(cmd, usage);
            }

            var s = Open(pr, sysroot);
            using var _ = s.Lock();
            s.Load();
            var rs = pr.GetValue(refspec)!;
            var commit = s.Repo.Resolve(rs);
            if (pr.GetValue(stage) && (pr.GetValue(retain) || pr.GetValue(retainPending) || pr.GetValue(retainRollback)))
            {
                throw new ArgumentException("--stage cannot currently be combined with --retain arguments");
            }

            if (pr.GetValue(stage) && pr.GetValue(notDefault))
            {
                throw new ArgumentException("--stage cannot currently be combined with --not-as-default");
            }

            var origin = pr.GetValue(originFile) is { } of ? KeyFile.Parse(File.ReadAllText(of), of) : OstreeSysroot.RefspecOrigin(rs);
            var d = s.Deploy(commit, BuildOptions(pr, s, kargs, origin, pr.GetValue(os)) with
            {
                NoPrune = pr.GetValue(noPrune),
                NoMerge = pr.GetValue(noMerge),
                Retain = pr.GetValue(retain),
                RetainPending = pr.GetValue(retainPending),
                RetainRollback = pr.GetValue(retainRollback),
                NotAsDefault = pr.GetValue(notDefault),
                Stage = pr.GetValue(stage) || pr.GetValue(lockFinalization),
                LockFinalization = pr.GetValue(lockFinalization),
            });
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(ToJson(s, d), CliJsonContext.Default.DeploymentJson));
            }

            return 0;
        });
        return cmd;
    }

    internal static DeployOptions BuildOptions(ParseResult pr, OstreeSysroot s, KargOptions kargs, KeyFile origin, string? os) => new()
    {
        OsName = os,
        Origin = origin,
        KargNone = pr.GetValue(kargs.None),
        KargBase = kargs.Base(pr, s),
        Kargs = pr.GetValue(kargs.Karg) ?? [],
        KargsAppend = pr.GetValue(kargs.Append) ?? [],
        KargsDelete = pr.GetValue(kargs.Delete) ?? [],
    };

    // `ostree admin finalize-staged`, run by ostree-finalize-staged.service when it stops at shutdown; with --hold (the
    // hold unit), it keeps /boot busy until stopped, so that /boot stays mounted until the finalization is done.
    private static Command FinalizeStaged()
    {
        var cmd = new Command("finalize-staged", "Internal command to run at shutdown time");
        var sysroot = SysrootOption();
        var hold = new Option<bool>("--hold") { Description = "Hold /boot open during finalization" };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(hold);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree: nothing to do on a host ostree did not boot.
            if (!File.Exists("/run/ostree-booted"))
            {
                return 0;
            }

            if (pr.GetValue(hold))
            {
                Directory.SetCurrentDirectory(Path.Combine(OstreeSysroot.DefaultPath(pr.GetValue(sysroot)), "boot"));
                Thread.Sleep(Timeout.Infinite); // until systemd stops the unit (SIGTERM)
            }

            return Locked(pr, sysroot, s =>
            {
                s.FinalizeStaged();
                return 0;
            });
        });
        return cmd;
    }

    // `ostree admin lock-finalization [--unlock]` (2026.4): whether shutdown finalizes the staged deployment.
    private static Command LockFinalization()
    {
        var cmd = new Command("lock-finalization", "Prevent (or with --unlock, allow again) finalization of the staged deployment at shutdown");
        var sysroot = SysrootOption();
        var unlock = new Option<bool>("--unlock", "-u") { Description = "Unlock finalization" };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(unlock);
        CliSupport.SetRun(cmd, pr => Locked(pr, sysroot, s =>
        {
            var staged = s.Staged ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No staged deployment");
            bool lockIt = !pr.GetValue(unlock);
            if (staged.FinalizationLocked == lockIt)
            {
                Console.WriteLine(lockIt ? "Staged deployment is already finalization locked" : "Staged deployment is already prepared for finalization");
                return 0;
            }

            s.SetFinalizationLocked(lockIt);
            Console.WriteLine(lockIt ? "Staged deployment is now finalization locked" : "Staged deployment is now queued to apply on shutdown");
            return 0;
        }));
        return cmd;
    }

    private static Command Status()
    {
        var cmd = new Command("status", "List deployments");
        var sysroot = SysrootOption();
        var json = new Option<bool>("--json", "-J") { Description = "Print the deployments as JSON" };
        var verify = new Option<bool>("--verify", "-V") { Description = "Print the commit verification status" };
        var skipSignatures = new Option<bool>("--skip-signatures", "-S") { Description = "Skip signatures in output" };
        var isDefault = new Option<bool>("--is-default", "-D") { Description = "Output \"default\" if booted into the default deployment, otherwise \"not-default\"" };
        foreach (var o in new Option[] { sysroot, json, verify, skipSignatures, isDefault })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var s = Open(pr, sysroot);
            if (pr.GetValue(isDefault))
            {
                var booted = s.Booted ?? throw new OstreeException(OstreeErrorCode.NotBooted, "Not currently booted into an OSTree system");
                Console.WriteLine(s.Deployments.Count > 0 && s.Deployments[0].SameAs(booted) ? "default" : "not-default");
                return 0;
            }

            if (pr.GetValue(json))
            {
                var status = new SysrootStatusJson(s.BootVersion, s.SubBootVersion, s.Deployments.Select(d => ToJson(s, d)).ToList());
                Console.WriteLine(JsonSerializer.Serialize(status, CliJsonContext.Default.SysrootStatusJson));
                return 0;
            }

            Console.Write(SysrootStatus.Format(s, signatures: pr.GetValue(verify) || !pr.GetValue(skipSignatures)));
            return 0;
        });
        return cmd;
    }

    internal static DeploymentJson ToJson(OstreeSysroot s, Deployment d)
    {
        var (pending, rollback) = s.PendingAndRollback();
        return new DeploymentJson(d.Index, d.OsName, d.Commit.ToHex(), d.DeploySerial, d.BootChecksum, d.BootSerial, s.CommitVersion(d.Commit),
            d.IsBooted, d.SameAs(pending), d.SameAs(rollback), d.IsPinned, d.Refspec, d.ContainerImageReference, d.Options, s.DeploymentPath(d));
    }

    private static Command Undeploy()
    {
        var cmd = new Command("undeploy", "Delete deployment INDEX");
        var sysroot = SysrootOption();
        var index = new Argument<int>("INDEX");
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(index);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var d = s.Undeploy(pr.GetValue(index));
                Console.WriteLine($"Deleted deployment {d.DirectoryName}");
                s.Cleanup(prune: true);
                return 0;
            });
        });
        return cmd;
    }

    private static Command Cleanup()
    {
        var cmd = new Command("cleanup", "Delete untagged deployments and repository objects");
        var sysroot = SysrootOption();
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                s.Cleanup(prune: true);
                return 0;
            });
        });
        return cmd;
    }

    private static Command PostCopy()
    {
        var cmd = new Command("post-copy", "Update the sysroot after a copy with file-level tools (fs-verity on objects and composefs images)");
        var sysroot = SysrootOption();
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr => Locked(pr, sysroot, s =>
        {
            s.UpdatePostCopy();
            return 0;
        }));
        return cmd;
    }

    private static Command Pin()
    {
        var cmd = new Command("pin", "Change the \"pinning\" state of a deployment");
        var sysroot = SysrootOption();
        var unpin = new Option<bool>("--unpin", "-u") { Description = "Unset pin" };
        var indexes = new Argument<int[]>("INDEX") { Arity = ArgumentArity.OneOrMore };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(unpin);
        cmd.Arguments.Add(indexes);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                bool pin = !pr.GetValue(unpin);
                foreach (var i in pr.GetValue(indexes)!)
                {
                    bool changed = s.SetPinned(i, pin);
                    Console.WriteLine(changed ? $"Deployment {i} is now {(pin ? "pinned" : "unpinned")}" : $"Deployment {i} is already {(pin ? "pinned" : "unpinned")}");
                }

                return 0;
            });
        });
        return cmd;
    }

    private static Command SetOrigin()
    {
        var cmd = new Command("set-origin", "Change the origin (remote and ref, or container image) of the merge deployment");
        var sysroot = SysrootOption();
        var remote = new Argument<string>("REMOTE") { Description = "A remote name, or an ostree container image reference" };
        var url = new Argument<string?>("URL") { Arity = ArgumentArity.ZeroOrOne };
        var branch = new Argument<string?>("BRANCH") { Arity = ArgumentArity.ZeroOrOne };
        var index = new Option<int?>("--index") { Description = "Change the origin of deployment INDEX" };
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        var setOpts = new Option<string[]>("--set") { Description = "Set config option KEY=VALUE for the remote" };
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(remote);
        cmd.Arguments.Add(url);
        cmd.Arguments.Add(branch);
        cmd.Options.Add(index);
        cmd.Options.Add(os);
        cmd.Options.Add(setOpts);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var d = pr.GetValue(index) is { } i ? s.Deployments.ElementAtOrDefault(i) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Invalid index {i}")
                    : (pr.GetValue(os) is { } o ? s.MergeDeployment(o) : s.Booted ?? s.Deployments.FirstOrDefault()) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No deployment to change");
                var origin = OstreeSysroot.WithoutTransientState(d.Origin);
                var first = pr.GetValue(remote)!;
                if (OstreeImageReference.TryParse(first, out var imgref))
                {
                    origin.Remove("origin", "refspec");
                    origin.Set("origin", "container-image-reference", imgref.ToString());
                }
                else
                {
                    var u = pr.GetValue(url) ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, "set-origin REMOTE needs a URL (or give an ostree container image reference)");
                    var opts = (pr.GetValue(setOpts) ?? []).Select(kv => CliSupport.SplitKeyValue(kv, "--set")).ToList();
                    s.Repo.DeleteRemote(first, ifExists: true);
                    s.Repo.AddRemote(first, u, [], opts.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)));
                    var oldRef = OstreeRepo.ParseRefspec(d.Refspec ?? throw new OstreeException(OstreeErrorCode.DeploymentState, $"Deployment {d} has no refspec origin; give BRANCH")).Ref;
                    origin.Remove("origin", "container-image-reference");
                    origin.Set("origin", "refspec", $"{first}:{pr.GetValue(branch) ?? oldRef}");
                }

                s.SetOrigin(d, origin);
                return 0;
            });
        });
        return cmd;
    }

    private static Command Unlock()
    {
        var cmd = new Command("unlock", "Make the current deployment mutable (as a hotfix or development)");
        var sysroot = SysrootOption();
        var hotfix = new Option<bool>("--hotfix") { Description = "Retain changes across reboots" };
        var transient = new Option<bool>("--transient") { Description = "Mount overlayfs read-only by default" };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(hotfix);
        cmd.Options.Add(transient);
        CliSupport.SetRun(cmd, pr =>
        {
            // (both at once is refused once the booted deployment is found, as ostree checks them)
            UnlockMode? mode = pr.GetValue(hotfix) && pr.GetValue(transient) ? null
                : pr.GetValue(hotfix) ? UnlockMode.Hotfix : pr.GetValue(transient) ? UnlockMode.Transient : UnlockMode.Development;
            return UnlockBooted(mode, OstreeSysroot.DefaultPath(pr.GetValue(sysroot)));
        });
        return cmd;
    }

    /// <summary><c>admin unlock</c> and <c>bootc usr-overlay</c>: the booted deployment gets an overlay on /usr.</summary>
    public static int UnlockBooted(UnlockMode? mode, string sysrootPath = "/")
    {
        var s = OstreeSysroot.Open(sysrootPath);
        s.Log = Console.WriteLine;
        s.Note = Console.Error.WriteLine;
        using (s.Lock())
        {
            s.Load();
            var booted = s.Booted ?? throw new OstreeException(OstreeErrorCode.NotBooted, "Not currently booted into an OSTree system");
            s.Unlock(booted, mode ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, "Cannot specify both --hotfix and --transient"));
        }

        Console.Write(mode switch
        {
            UnlockMode.Hotfix => "Hotfix mode enabled.  A writable overlayfs is now mounted on /usr\nfor this booted deployment.  A non-hotfixed clone has been created\nas the non-default rollback target.\n",
            UnlockMode.Development => "Development mode enabled.  A writable overlayfs is now mounted on /usr.\nAll changes there will be discarded on reboot.\n",
            _ => "A writable overlayfs is prepared for /usr, but is mounted read-only by default.\nAll changes there will be discarded on reboot.\n",
        });
        return 0;
    }

    private static Command Rollback()
    {
        var cmd = new Command("rollback", "Make the previous deployment the default boot entry");
        var sysroot = SysrootOption();
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var d = s.Rollback();
                Console.WriteLine($"Moving '{d.DirectoryName}' to be first deployment");
                return 0;
            });
        });
        return cmd;
    }

    private static Command ConfigDiff()
    {
        var cmd = new Command("config-diff", "Diff the current /etc configuration against the defaults");
        var sysroot = SysrootOption();
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        cmd.Options.Add(sysroot);
        cmd.Options.Add(os);
        CliSupport.SetRun(cmd, pr =>
        {
            var s = Open(pr, sysroot);
            var name = pr.GetValue(os) ?? s.Booted?.OsName ?? throw new OstreeException(OstreeErrorCode.NotBooted, "Not currently booted into an OSTree system and no --os= argument given");
            var d = s.MergeDeployment(name) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"No deployments for stateroot '{name}'");
            var root = s.DeploymentPath(d);
            var c = EtcMerge.Diff(Path.Combine(root, "usr/etc"), Path.Combine(root, "etc"));
            foreach (var p in c.Modified)
            {
                Console.WriteLine($"M    {p}");
            }

            foreach (var p in c.Removed)
            {
                Console.WriteLine($"D    {p}");
            }

            foreach (var p in c.Added)
            {
                Console.WriteLine($"A    {p}");
            }

            return 0;
        });
        return cmd;
    }

    private static Command Kargs()
    {
        var kargs = new Command("kargs", "Change kernel arguments");
        var edit = new Command("edit-in-place", "Set new kernel command line arguments in place (applies to all deployments)");
        var sysroot = SysrootOption();
        var appendIfMissing = new Option<string[]>("--append-if-missing") { Description = "Append kernel arguments if they do not exist" };
        // ostree takes ARGS and does not read them; so do we, so that its scripts run.
        var args = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Description = "Not read (as by ostree)" };
        edit.Options.Add(sysroot);
        edit.Options.Add(appendIfMissing);
        edit.Arguments.Add(args);
        CliSupport.SetRun(edit, pr => Locked(pr, sysroot, s =>
        {
            if (s.Deployments.Count == 0)
            {
                throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "Unable to find a deployment in sysroot");
            }

            foreach (var d in s.Deployments)
            {
                var k = KernelArgs.Parse(d.Options);
                foreach (var arg in pr.GetValue(appendIfMissing) ?? [])
                {
                    var key = arg.Split('=', 2)[0];
                    if (!k.Contains(key))
                    {
                        k.Append(arg);
                    }
                }

                s.SetKargsInPlace(d, k.ToString());
            }

            return 0;
        }));
        kargs.Subcommands.Add(edit);
        return kargs;
    }

    private static Command Instutil()
    {
        var instutil = new Command("instutil", "Utilities for installers");
        var set = new Command("set-kargs", "Set new kernel command line arguments of the first deployment");
        var sysroot = SysrootOption();
        var importProc = new Option<bool>("--import-proc-cmdline") { Description = "Import current /proc/cmdline" };
        var merge = new Option<bool>("--merge") { Description = "Merge with previous command line" };
        var replace = new Option<string[]>("--replace") { Description = "Set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name" };
        var append = new Option<string[]>("--append") { Description = "Append kernel argument; useful with e.g. console= that can be used multiple times" };
        var args = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Description = "Kernel arguments to append" };
        foreach (var o in new Option[] { sysroot, importProc, merge, replace, append })
        {
            set.Options.Add(o);
        }

        set.Arguments.Add(args);
        CliSupport.SetRun(set, pr => Locked(pr, sysroot, s =>
        {
            var first = s.Deployments.FirstOrDefault() ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "Unable to find a deployment in sysroot");
            var k = new KernelArgs();
            if (pr.GetValue(importProc))
            {
                foreach (var a in ProcCmdline().Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    k.Append(a);
                }
            }
            else if (pr.GetValue(merge))
            {
                foreach (var a in (first.Options ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    k.Append(a);
                }
            }

            foreach (var a in pr.GetValue(replace) ?? [])
            {
                k.Replace(a);
            }

            foreach (var a in (pr.GetValue(append) ?? []).Concat(pr.GetValue(args) ?? []))
            {
                k.Append(a);
            }

            s.SetKargs(first, k.ToString());
            return 0;
        }));
        instutil.Subcommands.Add(set);
        return instutil;
    }

    private static Command Upgrade()
    {
        var cmd = new Command("upgrade", "Fetch the merge deployment's origin (refspec or container image) and deploy it when it changed");
        var sysroot = SysrootOption();
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        var check = new Option<bool>("--check") { Description = "Only report whether an update is available (exit 77 when none)" };
        var allowDowngrade = new Option<bool>("--allow-downgrade") { Description = "Permit deployment of chronologically older trees" };
        var overrideCommit = new Option<string?>("--override-commit") { Description = "Deploy CHECKSUM instead of the latest tree" };
        var pullOnly = new Option<bool>("--pull-only") { Description = "Do not create a deployment, just download" };
        var deployOnly = new Option<bool>("--deploy-only") { Description = "Do not pull, only deploy" };
        var stage = new Option<bool>("--stage") { Description = "Complete deployment at OS shutdown" };
        var registry = new RegistryCliOptions(policy: true);
        cmd.Options.Add(sysroot);
        cmd.Options.Add(os);
        cmd.Options.Add(stage);
        cmd.Options.Add(check);
        cmd.Options.Add(allowDowngrade);
        cmd.Options.Add(overrideCommit);
        cmd.Options.Add(pullOnly);
        cmd.Options.Add(deployOnly);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            if (pr.GetValue(pullOnly) && pr.GetValue(deployOnly))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Cannot simultaneously specify --pull-only and --deploy-only");
            }

            return Locked(pr, sysroot, s =>
            {
                var merge = MergeFor(s, pr.GetValue(os));
                var origin = OstreeSysroot.WithoutTransientState(merge.Origin);

                // As ostree: --override-commit pins the commit in the origin; a plain upgrade drops a pin.
                if (pr.GetValue(overrideCommit) is { } pin)
                {
                    origin.Set("origin", "override-commit", Objects.Checksum.Parse(pin).ToHex());
                }
                else
                {
                    origin.Remove("origin", "override-commit");
                }

                var request = new UpgradeRequest
                {
                    CheckOnly = pr.GetValue(check),
                    AllowDowngrade = pr.GetValue(allowDowngrade),
                    PullOnly = pr.GetValue(pullOnly),
                    DeployOnly = pr.GetValue(deployOnly),
                    // (libostree's upgrader also stages when OSTREE_EX_STAGE_DEPLOYMENTS is set, as before --stage existed)
                    Stage = pr.GetValue(stage) || Environment.GetEnvironmentVariable("OSTREE_EX_STAGE_DEPLOYMENTS") is not null,
                };
                var outcome = SysrootImages.UpgradeAsync(s, merge, origin, registry.Build(pr), request, Console.WriteLine, CliSupport.MakeByteProgress(pr, "pull"), cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                return request.CheckOnly && outcome == UpgradeOutcome.NoUpdate ? 77 : 0;
            });
        });
        return cmd;
    }

    private static Command Switch()
    {
        var cmd = new Command("switch", "Change the origin to a new refspec or container image, fetch it and deploy it");
        var sysroot = SysrootOption();
        var target = new Argument<string>("REF") { Description = "A ref, remote:ref, remote: (the same ref from another remote), or an ostree container image reference" };
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        var registry = new RegistryCliOptions(policy: true);
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(target);
        cmd.Options.Add(os);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var merge = MergeFor(s, pr.GetValue(os));
                var origin = OstreeSysroot.WithoutTransientState(merge.Origin);
                var t = pr.GetValue(target)!;
                string? oldRefspec = null;
                if (OstreeImageReference.TryParse(t, out var imgref))
                {
                    origin.Remove("origin", "refspec");
                    origin.Set("origin", "container-image-reference", imgref.ToString());
                }
                else
                {
                    // As ostree: a ref without a remote keeps the origin's remote, "remote:" keeps its ref; the new
                    // origin holds the refspec only, and switching to the same one is an error.
                    oldRefspec = origin.Get("origin", "refspec");
                    var (oldRemote, oldRef) = oldRefspec is null ? (null, null) : OstreeRepo.ParseRefspec(oldRefspec);
                    var (newRemote, newRef) = t.EndsWith(':') ? (t[..^1], oldRef ?? throw new OstreeException(OstreeErrorCode.DeploymentState, $"{merge} has no origin refspec whose ref '{t}' could keep")) : OstreeRepo.ParseRefspec(t);
                    var remote = newRemote ?? oldRemote;
                    var refspec = remote is null ? newRef : $"{remote}:{newRef}";
                    if (refspec == oldRefspec)
                    {
                        throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Old and new refs are equal: {refspec}");
                    }

                    origin = KeyFile.Parse(string.Empty, "origin");
                    origin.Set("origin", "refspec", refspec);
                }

                var request = new UpgradeRequest { Force = true, AllowDowngrade = true, IgnoreUnconfigured = true };
                SysrootImages.UpgradeAsync(s, merge, origin, registry.Build(pr), request, Console.WriteLine, CliSupport.MakeByteProgress(pr, "pull"), cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                if (oldRefspec is not null)
                {
                    var (oldRemote, oldRef) = OstreeRepo.ParseRefspec(oldRefspec);
                    Console.WriteLine($"Deleting ref '{oldRemote ?? "(null)"}:{oldRef}'");
                    try
                    {
                        s.Repo.SetRefImmediate(oldRefspec, null);
                    }
                    catch (ObjectNotFoundException)
                    {
                        // Already gone, which is what was asked.
                    }
                }

                return 0;
            });
        });
        return cmd;
    }
}
