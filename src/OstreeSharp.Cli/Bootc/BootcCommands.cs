// bootc's command set on an ostree host: `ostree-sharp bootc VERB`, or the binary called as `bootc` (a symlink).
using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
    public static Command Create()
    {
        var bootc = new Command("bootc", "Manage a host booted from a container image, as bootc does (also: this binary called as `bootc`)");
        foreach (var c in Verbs())
        {
            bootc.Subcommands.Add(c);
        }

        return bootc;
    }

    /// <summary>bootc's verbs: under <c>ostree-sharp bootc</c>, or the root's own when called as <c>bootc</c>.</summary>
    public static Command[] Verbs()
    {
        var container = new Command("container", "Operations for container images, run at build time");
        container.Subcommands.Add(BootcLintCommand.Create());
        var usrOverlay = UsrOverlay();
        usrOverlay.Aliases.Add("usroverlay");
        return [Status(), Upgrade(), Switch(), Rollback(), Edit(), usrOverlay, container];
    }

    /// <summary>The running host's sysroot, locked and loaded; bootc works on nothing else.</summary>
    private static (OstreeSysroot Sysroot, IDisposable Lock, Deployment Booted) OpenBooted()
    {
        var s = OstreeSysroot.Open("/");
        var l = s.Lock(CliSupport.WaitingForSysrootLockOnStderr);
        try
        {
            s.Load();
            return (s, l, s.Booted ?? throw new OstreeException(OstreeErrorCode.NotBooted, "Not currently booted into an OSTree system"));
        }
        catch
        {
            l.Dispose();
            throw;
        }
    }
}
