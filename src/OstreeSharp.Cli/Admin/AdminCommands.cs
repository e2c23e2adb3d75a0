// `admin`: sysroot verbs as `ostree admin` has them (init-fs, os-init, deploy, status, undeploy, ...).
using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
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
        using var _ = s.Lock(CliSupport.WaitingForSysrootLock);
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
}
