// `bootc container lint` (bootc 1.16): checks of an image's root filesystem at the end of its build.
using System.CommandLine;
using System.Text;
using OstreeSharp.Containers.Bootc;

namespace OstreeSharp.Cli;

internal static class BootcLintCommand
{
    public static Command Create()
    {
        var cmd = new Command("lint", "Run inexpensive static checks of a root filesystem, as the last step of a container build; fails when a check does");
        var rootfs = new Option<string>("--rootfs") { Description = "The root filesystem to check (the running root, /, by default)", DefaultValueFactory = _ => "/" };
        var fatalWarnings = new Option<bool>("--fatal-warnings") { Description = "Fail on warnings too" };
        var list = new Option<bool>("--list") { Description = "Print the lints (as YAML, a format for people rather than scripts) instead of running them" };
        var skip = new Option<string[]>("--skip") { Description = "Do not run this lint (repeatable; --list names them)", AllowMultipleArgumentsPerToken = false };
        var noTruncate = new Option<bool>("--no-truncate") { Description = "Show every entry a lint found, not only the first five and a count of the rest" };
        foreach (var o in new Option[] { rootfs, fatalWarnings, list, skip, noTruncate })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            if (pr.GetValue(list))
            {
                output.Write(ContainerLint.ListYaml());
                return 0;
            }

            var root = pr.GetValue(rootfs) ?? "/";
            // As bootc: only the literal / is the running root (var-tmpfiles runs there, buildah-injected elsewhere).
            var rootType = root == "/" ? LintRootType.Running : LintRootType.Alternative;
            using var cts = CliSupport.CancelOnCtrlC();
            var report = ContainerLint.Run(root, rootType, pr.GetValue(skip) ?? [], cts.Token);
            var error = report.Write(output, pr.GetValue(fatalWarnings), pr.GetValue(noTruncate));
            output.Flush();
            if (error is null)
            {
                return 0;
            }

            Console.Error.WriteLine("error: Linting: " + error.TrimEnd('\n'));
            return 1;
        });
        return cmd;
    }
}
