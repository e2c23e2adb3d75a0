using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
}
