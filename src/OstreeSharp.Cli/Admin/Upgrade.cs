using System.CommandLine;
using OstreeSharp.Containers.Host;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
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
                    Registry = registry.Build(pr),
                };
                var outcome = SysrootImages.UpgradeAsync(s, merge, origin, request, CliSupport.MakePullProgress(pr, "pull"), CliSupport.Stopping).GetAwaiter().GetResult();
                return request.CheckOnly && outcome == UpgradeOutcome.NoUpdate ? 77 : 0;
            });
        });
        return cmd;
    }
}
