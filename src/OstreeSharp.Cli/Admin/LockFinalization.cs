using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
}
