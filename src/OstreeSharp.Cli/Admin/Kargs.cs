using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Kargs()
    {
        var kargs = new Command("kargs", "Change kernel arguments");
        var edit = new Command("edit-in-place", "Set new kernel command line arguments in place (applies to all deployments)");
        var sysroot = SysrootOption();
        var appendIfMissing = new Option<string[]>("--append-if-missing") { Description = "Append kernel arguments if they do not exist" };
        // ostree takes ARGS and does not read them; so do we, so that its scripts run.
        var args = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Description = "Not read (as by ostree)" };
        edit.Options.Add(sysroot);
        edit.Options.Add(appendIfMissing);
        edit.Arguments.Add(args);
        CliSupport.SetRun(edit, pr => Locked(pr, sysroot, s =>
        {
            if (s.Deployments.Count == 0)
            {
                throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "Unable to find a deployment in sysroot");
            }

            foreach (var d in s.Deployments)
            {
                var k = KernelArgs.Parse(d.Options);
                foreach (var arg in pr.GetValue(appendIfMissing) ?? [])
                {
                    var key = arg.Split('=', 2)[0];
                    if (!k.Contains(key))
                    {
                        k.Append(arg);
                    }
                }

                s.SetKargsInPlace(d, k.ToString());
            }

            return 0;
        }));
        kargs.Subcommands.Add(edit);
        return kargs;
    }
}
