using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
        using (s.Lock(CliSupport.WaitingForSysrootLock))
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
}
