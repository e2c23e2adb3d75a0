using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
}
