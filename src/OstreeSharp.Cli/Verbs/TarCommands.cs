using System.CommandLine;
using OstreeSharp.Operations;
using OstreeSharp.Tar;

namespace OstreeSharp.Cli;

internal static class TarCommands
{
    public static Command Create()
    {
        var cmd = new Command("tar", "Export and import commits as ostree-ext tar streams");
        cmd.Subcommands.Add(Export());
        cmd.Subcommands.Add(Import());
        return cmd;
    }

    private static Command Export()
    {
        var cmd = new Command("export", "Write a commit as an ostree-ext tar stream (format version 1)");
        var version = new Option<int>("--format-version") { Description = "Tar format version (only 1 is written)", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--output", "-o") { Description = "Write to FILE instead of standard output" };
        var rev = new Argument<string>("REV");
        cmd.Options.Add(version);
        cmd.Options.Add(output);
        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            if (pr.GetValue(version) != 1)
            {
                throw new ArgumentException($"--format-version={pr.GetValue(version)} is not supported: only version 1 is written (version 0 is read)");
            }

            var repo = CliSupport.OpenRepo(pr);
            var commit = repo.Resolve(pr.GetValue(rev)!);
            var exporter = new OstreeTarExporter(repo);
            WriteOutput(pr.GetValue(output), s => exporter.Export(commit, s, CliSupport.Stopping));
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// <c>ostree export</c>: the commit's tree as a plain tarball (not the ostree-ext stream of <c>tar export</c>).
    /// </summary>
    public static Command PlainExport()
    {
        var cmd = new Command("export", "Stream COMMIT to stdout in tar format");
        var noXattrs = new Option<bool>("--no-xattrs") { Description = "Skip output of extended attributes" };
        var subpath = new Option<string?>("--subpath") { Description = "Checkout sub-directory PATH" };
        var prefix = new Option<string?>("--prefix") { Description = "Add PATH as prefix to archive pathnames" };
        var output = new Option<string?>("--output", "-o") { Description = "Output to PATH" };
        var rev = new Argument<string>("COMMIT");
        foreach (var o in new Option[] { noXattrs, subpath, prefix, output })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var commit = repo.Resolve(pr.GetValue(rev)!);
            var options = new PlainExportOptions { Subpath = pr.GetValue(subpath), Prefix = pr.GetValue(prefix) ?? string.Empty, Xattrs = !pr.GetValue(noXattrs), RootEntry = true, CommitTime = true };
            WriteOutput(pr.GetValue(output), s => new OstreeTarExporter(repo).ExportPlain(commit, s, options, CliSupport.Stopping));
            return 0;
        });
        return cmd;
    }

    // To FILE through a temporary name (nothing half-written is left under FILE), or to standard output.
    private static void WriteOutput(string? file, Action<Stream> write)
    {
        if (file is null)
        {
            using var stdout = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
            write(stdout);
            return;
        }

        var full = Path.GetFullPath(file);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".tmp-" + Environment.ProcessId);
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
            }

            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private static Command Import()
    {
        var cmd = new Command("import", "Import an ostree-ext tar stream (format version 0 or 1) and print the commit");
        var writeRef = new Option<string?>("--write-ref") { Description = "Point REF at the imported commit" };
        var file = new Argument<string?>("FILE") { Arity = ArgumentArity.ZeroOrOne, Description = "Tar file, or - (default) for standard input" };
        cmd.Options.Add(writeRef);
        cmd.Arguments.Add(file);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var f = pr.GetValue(file) ?? "-";
            using var input = f == "-" ? new BufferedStream(Console.OpenStandardInput(), 1 << 16) : (Stream)new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var result = new OstreeTarImporter(repo).Import(input, pr.GetValue(writeRef));
            Console.WriteLine(result.Commit.ToHex());
            return 0;
        });
        return cmd;
    }
}
