using System.CommandLine;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command OsInit() => OsInit("os-init");

    private static Command OsInit(string name)
    {
        var cmd = new Command(name, "Initialize empty state for the given operating system (stateroot)");
        var sysroot = SysrootOption();
        var os = new Argument<string>("OSNAME");
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(os);
        CliSupport.SetRun(cmd, pr =>
        {
            var s = Open(pr, sysroot);
            using var _ = s.Lock(CliSupport.WaitingForSysrootLock);
            s.InitOs(pr.GetValue(os)!);
            return 0;
        });
        return cmd;
    }

    internal sealed class KargOptions
    {
        public readonly Option<string[]> Karg = new("--karg") { Description = "Set kernel argument, like root=/dev/sda1; this overrides any earlier argument with the same name" };
        public readonly Option<string[]> Append = new("--karg-append") { Description = "Append kernel argument; useful with e.g. console= that can be used multiple times" };
        public readonly Option<string[]> Delete = new("--karg-delete") { Description = "Delete kernel argument if exists" };
        public readonly Option<bool> None = new("--karg-none") { Description = "Do not import kernel arguments" };
        public readonly Option<bool> ProcCmdline = new("--karg-proc-cmdline") { Description = "Import current /proc/cmdline" };

        public void AddTo(Command cmd)
        {
            foreach (var o in new Option[] { Karg, Append, Delete, None, ProcCmdline })
            {
                cmd.Options.Add(o);
            }
        }

        public string? Base(ParseResult pr, OstreeSysroot s)
        {
            if (!pr.GetValue(ProcCmdline))
            {
                return null;
            }

            return ProcCmdline();
        }
    }

    /// <summary>As ostree: the running kernel's command line, without what the boot loader adds (BOOT_IMAGE=, initrd=).</summary>
    private static string ProcCmdline() =>
        string.Join(' ', File.ReadAllText("/proc/cmdline").Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Where(a => !a.StartsWith("BOOT_IMAGE=", StringComparison.Ordinal) && !a.StartsWith("initrd=", StringComparison.Ordinal)));
}
