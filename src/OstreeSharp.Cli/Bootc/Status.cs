using System.CommandLine;
using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
    private static Command Status()
    {
        var cmd = new Command("status", "Display status: the staged, booted and rollback images (bootc's BootcHost object)");
        var format = new Option<string?>("--format") { Description = "The output format: humanreadable, yaml or json (default: humanreadable on a terminal, else yaml)" };
        format.AcceptOnlyFromAmong("humanreadable", "yaml", "json");
        var formatVersion = new Option<uint?>("--format-version") { Description = "The format version: 0 and 1 both mean version 1, the only one" };
        var booted = new Option<bool>("--booted") { Description = "Only display the booted deployment" };
        var json = new Option<bool>("--json") { Description = "Output in JSON (superseded by --format)", Hidden = true };
        foreach (var o in new Option[] { format, formatVersion, booted, json })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            if (pr.GetValue(formatVersion) is { } v && v > 1)
            {
                throw new OstreeException(OstreeErrorCode.NotSupported, $"Unsupported format version: {v}");
            }

            JsonObject host;
            if (File.Exists("/run/ostree-booted") && Directory.Exists("/sysroot/ostree/repo"))
            {
                var s = OstreeSysroot.Open("/");
                s.Load();
                host = BootcHost.Build(s);
            }
            else
            {
                host = BootcHost.Empty();
            }

            if (pr.GetValue(booted))
            {
                BootcHost.FilterToSlot(host, BootcSlot.Booted);
            }

            var f = pr.GetValue(format) ?? (pr.GetValue(json) ? "json" : Console.IsOutputRedirected ? "yaml" : "humanreadable");
            Console.Out.Write(f switch
            {
                "json" => BootcHost.ToCanonicalJson(host),
                "yaml" => BootcYaml.Write(host),
                // (-v, --verbose: the global option) include more fields
                _ => BootcHuman.Render(host, CliSupport.VerboseRequested),
            });
            return 0;
        });
        return cmd;
    }

    private static Option<int?> ProgressFdOption() => new("--progress-fd") { Description = "File descriptor (an open pipe) to write progress to, as JSON Lines", Hidden = true };

    private static Option<string?> SoftRebootOption() => new("--soft-reboot") { Description = "Soft reboot: refused (systemd soft-reboot of a staged deployment is not supported)" };

    private static void RefuseSoftReboot(ParseResult pr, Option<string?> softReboot)
    {
        if (pr.GetValue(softReboot) is { } mode)
        {
            throw new OstreeException(OstreeErrorCode.NotSupported, $"--soft-reboot={mode}: soft reboots are not supported by ostree-sharp; reboot with --apply or later");
        }
    }
}
