using System.CommandLine;
using OstreeSharp.Objects;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command ChecksumVerb()
    {
        var cmd = new Command("checksum", "Checksum a file or directory");
        var ignoreX = new Option<bool>("--ignore-xattrs") { Description = "Don't include xattrs in checksum" };
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        cmd.Options.Add(ignoreX);
        cmd.Arguments.Add(paths);
        CliSupport.SetRun(cmd, pr =>
        {
            var list = pr.GetValue(paths)!;
            foreach (var p in list)
            {
                var c = FileChecksum.Compute(p, pr.GetValue(ignoreX));
                Console.WriteLine(list.Length > 1 ? $"{c.ToHex()}  {p}" : c.ToHex());
            }

            return 0;
        });
        return cmd;
    }
}
