using System.CommandLine;
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

/// <summary>
/// <c>man DIR</c>: a manual page (section 1, roff with the man macros) for the command and one for each verb and
/// sub-verb, written from the command definitions: name, synopsis, description, sub-verbs, options. No date in them:
/// the same build writes the same pages.
/// </summary>
internal static class ManCommand
{
    public static Command Create(RootCommand root)
    {
        var cmd = new Command("man", "Write the manual pages (section 1) into a folder, one per command and verb");
        var dir = new Argument<string>("DIR") { Description = "Folder to write the pages into (for example /usr/local/share/man/man1)" };
        cmd.Arguments.Add(dir);
        cmd.SetAction(pr =>
        {
            var output = Directory.CreateDirectory(pr.GetValue(dir)!).FullName;
            int n = 0;
            foreach (var (name, text) in Pages(root, "ostree-sharp"))
            {
                FileUtil.WriteAtomic(Path.Combine(output, name), System.Text.Encoding.UTF8.GetBytes(text), fsync: false);
                n++;
            }

            Console.WriteLine($"wrote {n} manual pages to {output}");
            return 0;
        });
        return cmd;
    }

    /// <summary>Each page's file name and text.</summary>
    public static IEnumerable<(string FileName, string Text)> Pages(RootCommand root, string program)
    {
        foreach (var (path, c) in CliHelp.Commands(root))
        {
            yield return (PageName(program, path) + ".1", Page(program, path, c));
        }
    }

    private static string PageName(string program, string path) => path.Length == 0 ? program : program + "-" + path.Replace(' ', '-');

    private static string Page(string program, string path, Command c)
    {
        var name = PageName(program, path);
        var invocation = path.Length == 0 ? program : program + " " + path;
        var description = CliHelp.OneLine(c.Description ?? string.Empty);
        var sb = new StringBuilder();
        sb.Append(".TH \"").Append(Escape(name.ToUpperInvariant())).Append("\" \"1\" \"\" \"").Append(Escape(program + " " + CliSupport.Version.Split('+')[0]))
            .Append("\" \"User Commands\"\n");
        sb.Append(".SH NAME\n").Append(Escape(name)).Append(" \\- ").Append(Escape(description.Length > 0 ? description : invocation)).Append('\n');
        sb.Append(".SH SYNOPSIS\n.B ").Append(Escape(invocation)).Append("\n[\\fIOPTION\\fR...]");
        if (CliHelp.Synopsis(c) is { Length: > 0 } synopsis)
        {
            sb.Append(" \\fI").Append(Escape(synopsis)).Append("\\fR");
        }

        sb.Append('\n');
        if (description.Length > 0)
        {
            sb.Append(".SH DESCRIPTION\n").Append(Escape(description)).Append('\n');
        }

        var verbs = c.Subcommands.Where(s => !s.Hidden).ToList();
        if (verbs.Count > 0)
        {
            sb.Append(".SH COMMANDS\n");
            foreach (var v in verbs)
            {
                var sub = path.Length == 0 ? v.Name : path + " " + v.Name;
                sb.Append(".TP\n.B ").Append(Escape(v.Name)).Append('\n')
                    .Append(Escape(CliHelp.OneLine(v.Description ?? string.Empty))).Append(" See \\fB").Append(Escape(PageName(program, sub))).Append("\\fR(1).\n");
            }
        }

        var arguments = c.Arguments.Where(a => !a.Hidden && !string.IsNullOrEmpty(a.Description)).ToList();
        if (arguments.Count > 0)
        {
            sb.Append(".SH ARGUMENTS\n");
            foreach (var a in arguments)
            {
                sb.Append(".TP\n.I ").Append(Escape(a.HelpName ?? a.Name)).Append('\n').Append(Escape(CliHelp.OneLine(a.Description!))).Append('\n');
            }
        }

        sb.Append(".SH OPTIONS\n");
        foreach (var o in CliHelp.VisibleOptions(c))
        {
            sb.Append(".TP\n.B ").Append(Escape(CliHelp.Left(o))).Append('\n').Append(Escape(CliHelp.OneLine(o.Description ?? string.Empty))).Append('\n');
        }

        sb.Append(".TP\n.B \\-h, \\-\\-help\nShow help options\n.TP\n.B \\-\\-version\nPrint version information and exit\n");
        sb.Append(".SH SEE ALSO\n");
        var parent = path.Contains(' ', StringComparison.Ordinal) ? PageName(program, path[..path.LastIndexOf(' ')]) : path.Length > 0 ? program : null;
        if (parent is not null)
        {
            sb.Append("\\fB").Append(Escape(parent)).Append("\\fR(1), ");
        }

        sb.Append("\\fBostree\\fR(1)\n");
        return sb.ToString();
    }

    // Text for roff: backslashes and minus signs escaped, and no line may start with a control character.
    private static string Escape(string s)
    {
        s = s.Replace("\\", "\\e", StringComparison.Ordinal).Replace("-", "\\-", StringComparison.Ordinal);
        return s.StartsWith('.') || s.StartsWith('\'') ? "\\&" + s : s;
    }
}
