using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
}
