using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Log()
    {
        var cmd = new Command("log", "Show log starting at commit or ref");
        var raw = new Option<bool>("--raw") { Description = "Show raw variant data" };
        var json = new Option<bool>("--json") { Description = "Print the log as JSON" };
        var rev = new Argument<string>("REF");
        cmd.Options.Add(raw);
        cmd.Options.Add(json);
        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            Checksum? c = repo.Resolve(pr.GetValue(rev)!);
            repo.LoadCommit(c.Value);
            var entries = new List<LogEntryJson>();
            var sb = new StringBuilder();
            while (c is { } cc)
            {
                if (!repo.HasObject(cc, ObjectType.Commit))
                {
                    if (!pr.GetValue(json))
                    {
                        sb.Append("<< History beyond this commit not fetched >>\n");
                    }

                    break;
                }

                var commit = repo.LoadCommit(cc);
                if (pr.GetValue(json))
                {
                    entries.Add(ToJson(cc, commit));
                }
                else
                {
                    DumpCommit(sb, repo, cc, commit, pr.GetValue(raw));
                }

                c = commit.Parent;
            }

            Console.Out.Write(pr.GetValue(json) ? JsonSerializer.Serialize(entries, CliJsonContext.Default.ListLogEntryJson) + "\n" : sb.ToString());
            return 0;
        });
        return cmd;
    }

    private static LogEntryJson ToJson(Checksum id, Commit c) => new(
        id.ToHex(),
        c.Parent?.ToHex(),
        c.ContentChecksum.ToHex(),
        c.Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        c.Version,
        c.Subject,
        c.Body,
        c.Metadata.GetVarDictEntries().ToDictionary(kv => kv.Key, kv => kv.Value.Print(), StringComparer.Ordinal));

    internal static void DumpCommit(StringBuilder sb, OstreeRepo repo, Checksum id, Commit c, bool raw)
    {
        if (raw)
        {
            sb.Append("commit ").Append(id.ToHex()).Append('\n');
            sb.Append(GVariantValue.Parse(Commit.Type, repo.ReadMetadataBytes(ObjectType.Commit, id)).Byteswap().Print()).Append('\n');
            return;
        }

        sb.Append("commit ").Append(id.ToHex()).Append('\n');
        if (c.Parent is { } p)
        {
            sb.Append("Parent:  ").Append(p.ToHex()).Append('\n');
        }

        sb.Append("ContentChecksum:  ").Append(c.ContentChecksum.ToHex()).Append('\n');
        sb.Append("Date:  ").Append(CliSupport.FormatDate(c.Time)).Append('\n');
        if (c.Version is { } v)
        {
            sb.Append("Version: ").Append(v).Append('\n');
        }

        if (c.Subject.Length > 0)
        {
            sb.Append('\n');
            AppendIndented(sb, c.Subject);
        }
        else
        {
            sb.Append("(no subject)\n");
        }

        if (c.Body.Length > 0)
        {
            sb.Append('\n');
            AppendIndented(sb, c.Body);
        }

        sb.Append('\n');
    }

    private static void AppendIndented(StringBuilder sb, string text)
    {
        foreach (var line in text.Split('\n'))
        {
            sb.Append("    ").Append(line).Append('\n');
        }
    }
}
