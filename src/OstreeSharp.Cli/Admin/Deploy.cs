using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
            using var _ = s.Lock(CliSupport.WaitingForSysrootLock);
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
}
