using System.CommandLine;
using OstreeSharp.Containers.References;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command SetOrigin()
    {
        var cmd = new Command("set-origin", "Change the origin (remote and ref, or container image) of the merge deployment");
        var sysroot = SysrootOption();
        var remote = new Argument<string>("REMOTE") { Description = "A remote name, or an ostree container image reference" };
        var url = new Argument<string?>("URL") { Arity = ArgumentArity.ZeroOrOne };
        var branch = new Argument<string?>("BRANCH") { Arity = ArgumentArity.ZeroOrOne };
        var index = new Option<int?>("--index") { Description = "Change the origin of deployment INDEX" };
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        var setOpts = new Option<string[]>("--set") { Description = "Set config option KEY=VALUE for the remote" };
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(remote);
        cmd.Arguments.Add(url);
        cmd.Arguments.Add(branch);
        cmd.Options.Add(index);
        cmd.Options.Add(os);
        cmd.Options.Add(setOpts);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var d = pr.GetValue(index) is { } i ? s.Deployments.ElementAtOrDefault(i) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, $"Invalid index {i}")
                    : (pr.GetValue(os) is { } o ? s.MergeDeployment(o) : s.Booted ?? s.Deployments.FirstOrDefault()) ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "No deployment to change");
                var origin = OstreeSysroot.WithoutTransientState(d.Origin);
                var first = pr.GetValue(remote)!;
                if (OstreeImageReference.TryParse(first, out var imgref))
                {
                    origin.Remove("origin", "refspec");
                    origin.Set("origin", "container-image-reference", imgref.ToString());
                }
                else
                {
                    var u = pr.GetValue(url) ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, "set-origin REMOTE needs a URL (or give an ostree container image reference)");
                    var opts = (pr.GetValue(setOpts) ?? []).Select(kv => CliSupport.SplitKeyValue(kv, "--set")).ToList();
                    s.Repo.DeleteRemote(first, ifExists: true);
                    s.Repo.AddRemote(first, u, [], opts.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)));
                    var oldRef = OstreeRepo.ParseRefspec(d.Refspec ?? throw new OstreeException(OstreeErrorCode.DeploymentState, $"Deployment {d} has no refspec origin; give BRANCH")).Ref;
                    origin.Remove("origin", "container-image-reference");
                    origin.Set("origin", "refspec", $"{first}:{pr.GetValue(branch) ?? oldRef}");
                }

                s.SetOrigin(d, origin);
                return 0;
            });
        });
        return cmd;
    }
}
