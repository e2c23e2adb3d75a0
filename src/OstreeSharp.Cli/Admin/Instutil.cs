using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Instutil()
    {
        var instutil = new Command("instutil", "Utilities for installers");
        var set = new Command("set-kargs", "Set new kernel command line arguments of the first deployment");
        var sysroot = SysrootOption();
        var importProc = new Option<bool>("--import-proc-cmdline") { Description = "Import current /proc/cmdline" };
        var merge = new Option<bool>("--merge") { Description = "Merge with previous command line" };
        var replace = new Option<string[]>("--replace") { Description = "Set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name" };
        var append = new Option<string[]>("--append") { Description = "Append kernel argument; useful with e.g. console= that can be used multiple times" };
        var args = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Description = "Kernel arguments to append" };
        foreach (var o in new Option[] { sysroot, importProc, merge, replace, append })
        {
            set.Options.Add(o);
        }

        set.Arguments.Add(args);
        CliSupport.SetRun(set, pr => Locked(pr, sysroot, s =>
        {
            var first = s.Deployments.FirstOrDefault() ?? throw new OstreeException(OstreeErrorCode.DeploymentNotFound, "Unable to find a deployment in sysroot");
            var k = new KernelArgs();
            if (pr.GetValue(importProc))
            {
                foreach (var a in ProcCmdline().Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    k.Append(a);
                }
            }
            else if (pr.GetValue(merge))
            {
                foreach (var a in (first.Options ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    k.Append(a);
                }
            }

            foreach (var a in pr.GetValue(replace) ?? [])
            {
                k.Replace(a);
            }

            foreach (var a in (pr.GetValue(append) ?? []).Concat(pr.GetValue(args) ?? []))
            {
                k.Append(a);
            }

            s.SetKargs(first, k.ToString());
            return 0;
        }));
        instutil.Subcommands.Add(set);
        return instutil;
    }
}
