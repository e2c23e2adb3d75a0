using System.CommandLine;
using OstreeSharp.Containers.Store;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
    private static Command Rollback()
    {
        var cmd = new Command("rollback", "Make the rollback deployment the next boot (or, when it already is, the booted one again)");
        var apply = new Option<bool>("--apply") { Description = "Reboot into the rollback image" };
        var softReboot = SoftRebootOption();
        cmd.Options.Add(apply);
        cmd.Options.Add(softReboot);
        CliSupport.SetRun(cmd, pr =>
        {
            RefuseSoftReboot(pr, softReboot);
            var (s, l, booted) = OpenBooted();
            using (l)
            {
                RollbackLocked(s, booted);
            }

            return Reboot(pr.GetValue(apply));
        });
        return cmd;
    }

    // As bootc: the rollback (the first other deployment of the booted stateroot) goes before the booted one, or, when
    // it is already queued there, after it again; a staged deployment is dropped.
    private static void RollbackLocked(OstreeSysroot s, Deployment booted)
    {
        var related = s.Deployments.Where(d => d.OsName == booted.OsName && !d.SameAs(booted)).ToList();
        var rollback = related.FirstOrDefault() ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No rollback available");
        if (rollback.ContainerImageReference is null)
        {
            throw new OstreeException(OstreeErrorCode.DeploymentState, "Rollback is not container image based");
        }

        bool reverting = rollback.Index < booted.Index;
        if (reverting)
        {
            Console.WriteLine("notice: Reverting queued rollback state");
        }

        var list = (reverting ? new[] { booted, rollback } : [rollback, booted])
            .Concat(related.Skip(1))
            .Concat(s.Deployments.Where(d => d.OsName != booted.OsName))
            .ToList();
        s.WriteDeployments(list);
        Console.WriteLine(reverting ? "Next boot: current deployment" : "Next boot: rollback deployment");
        WriteRebootRequired(new ImageStore(s.Repo).QueryCommit(rollback.Commit, rollback.ContainerImageReference)?.ManifestDigest.ToString() ?? rollback.Commit.ToHex());
    }
}
