using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
}
