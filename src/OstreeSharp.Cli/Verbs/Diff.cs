using System.CommandLine;
using System.Text;
using System.Text.Json;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Diff()
    {
        var cmd = new Command("diff", "Compare directory TARGETDIR against revision REV");
        var json = new Option<bool>("--json") { Description = "Print the changes as JSON" };
        var noXattrs = new Option<bool>("--no-xattrs") { Description = "Skip output of extended attributes" };
        var ownerUid = new Option<uint?>("--owner-uid") { Description = "Use file ownership user id for local files" };
        var ownerGid = new Option<uint?>("--owner-gid") { Description = "Use file ownership group id for local files" };
        cmd.Options.Add(noXattrs);
        cmd.Options.Add(ownerUid);
        cmd.Options.Add(ownerGid);
        var a = new Argument<string>("REV");
        var b = new Argument<string>("TARGET");
        cmd.Options.Add(json);
        cmd.Arguments.Add(a);
        cmd.Arguments.Add(b);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree, an argument starting with / or ./ is a folder, anything else a revision.
            static bool IsPath(string arg) => arg.StartsWith('/') || arg.StartsWith("./", StringComparison.Ordinal);
            var source = pr.GetValue(a)!;
            var target = pr.GetValue(b)!;
            var owner = new DiffOwner(pr.GetValue(ownerUid), pr.GetValue(ownerGid));
            TreeDiffResult result;
            if (IsPath(source))
            {
                result = IsPath(target)
                    ? TreeDiff.Compare(source, target, pr.GetValue(noXattrs), owner)
                    : throw new ArgumentException($"Cannot compare folder {source} with revision {target}: give the revision first");
            }
            else
            {
                var repo = CliSupport.OpenRepo(pr);
                var ca = repo.LoadCommit(repo.Resolve(source));
                result = IsPath(target)
                    ? TreeDiff.Compare(repo, ca, target, pr.GetValue(noXattrs), owner)
                    : TreeDiff.Compare(repo, ca, repo.LoadCommit(repo.Resolve(target)));
            }

            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new DiffJson([.. result.Modified], [.. result.Removed], [.. result.Added]), CliJsonContext.Default.DiffJson));
                return 0;
            }

            var sb = new StringBuilder();
            foreach (var p in result.Modified)
            {
                sb.Append("M    ").Append(p).Append('\n');
            }

            foreach (var p in result.Removed)
            {
                sb.Append("D    ").Append(p).Append('\n');
            }

            foreach (var p in result.Added)
            {
                sb.Append("A    ").Append(p).Append('\n');
            }

            Console.Out.Write(sb.ToString());
            return 0;
        });
        return cmd;
    }
}
