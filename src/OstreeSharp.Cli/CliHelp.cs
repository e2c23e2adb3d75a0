using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text;

namespace OstreeSharp.Cli;

/// <summary>
/// Help in the layout GLib gives ostree's (which scripts and libostree's test-help.sh read): "Usage:" once, the
/// command's path as invoked ("ostree admin deploy"), a "Builtin Commands:" list for verbs with sub-verbs, then the
/// options. --help prints it on stdout; a missing or unknown sub-verb prints it on stderr with ostree's error line.
/// </summary>
internal static class CliHelp
{
    /// <summary>The name the program was run as (<c>ostree</c> through a link, else <c>ostree-sharp</c>).</summary>
    public static string ProgramName
    {
        get
        {
            // argv[0] as given (the runtime reports the file a link points to); through `dotnet`, the assembly.
            string? argv0 = null;
            try
            {
                argv0 = File.ReadAllText("/proc/self/cmdline").Split('\0')[0];
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            if (string.IsNullOrEmpty(argv0) || Path.GetFileName(argv0) == "dotnet")
            {
                argv0 = Environment.GetCommandLineArgs().FirstOrDefault() ?? "ostree-sharp";
            }

            var name = Path.GetFileName(argv0);
            return name.EndsWith(".dll", StringComparison.Ordinal) ? name[..^4] : name;
        }
    }

    /// <summary>Makes --help, a missing sub-verb and every verb's help follow ostree's layout.</summary>
    public static void Install(RootCommand root)
    {
        foreach (var h in root.Options.OfType<HelpOption>())
        {
            h.Action = new PrintHelp();
            h.Description = "Show help options";
        }

        var stack = new Stack<Command>([root]);
        while (stack.Count > 0)
        {
            var c = stack.Pop();
            if (c.Subcommands.Count > 0 && c.Action is null)
            {
                c.SetAction(_ => NoSubcommand(c));
            }

            foreach (var s in c.Subcommands)
            {
                stack.Push(s);
            }
        }
    }

    /// <summary>ostree's error for a verb with sub-verbs run without one: its usage and the error, on stderr.</summary>
    public static int NoSubcommand(Command c) =>
        Usage(c, c.Parents.Any() ? $"No \"{VerbPath(c)}\" subcommand specified" : "No command specified");

    /// <summary>
    /// ostree's error for an unknown sub-verb: when <paramref name="result"/> failed on a word where a sub-verb was
    /// expected, its usage and the error on stderr, and exit status 1; else null.
    /// </summary>
    public static int? UnknownSubcommand(ParseResult result)
    {
        var c = result.CommandResult.Command;
        if (result.Errors.Count == 0 || result.Action is PrintHelp || c.Subcommands.Count == 0 || c.Arguments.Count > 0 || result.UnmatchedTokens.FirstOrDefault(t => !t.StartsWith('-')) is not { } word)
        {
            return null;
        }

        return Usage(c, c.Parents.Any() ? $"Unknown \"{VerbPath(c)}\" subcommand '{word}'" : $"Unknown command '{word}'");
    }

    /// <summary>A usage error a verb finds itself (ostree's <c>ot_util_usage_error</c>): the usage and the error on stderr, exit status 1.</summary>
    public static int Usage(Command c, string message)
    {
        Console.Out.Flush();
        Console.Error.Write(Render(c));
        Console.Error.WriteLine();
        return CliErrors.Report(OstreeErrorCode.InvalidArgument, message);
    }

    /// <summary>Any other parse error, as GLib reports one: the usage and the error on stderr, exit status 1; else null.</summary>
    public static int? UsageError(ParseResult result)
    {
        if (result.Errors.Count == 0 || result.Action is PrintHelp)
        {
            return null;
        }

        return Usage(result.CommandResult.Command, result.Errors[0].Message);
    }

    /// <summary>
    /// Every visible command under <paramref name="root"/> (and itself first), each with its verb path, in the order of
    /// the definitions, parents before their sub-verbs (a walk with its own stack).
    /// </summary>
    public static IEnumerable<(string Path, Command Command)> Commands(Command root)
    {
        var stack = new Stack<Command>([root]);
        while (stack.Count > 0)
        {
            var c = stack.Pop();
            yield return (VerbPath(c), c);
            foreach (var s in c.Subcommands.Where(s => !s.Hidden).Reverse())
            {
                stack.Push(s);
            }
        }
    }

    /// <summary>The options <paramref name="c"/> takes and shows: its own and its ancestors' recursive ones.</summary>
    public static IEnumerable<Option> VisibleOptions(Command c) =>
        c.Options.Concat(Ancestors(c).SelectMany(a => a.Options.Where(o => o.Recursive)))
            .Where(o => !o.Hidden && o is not HelpOption && o is not VersionOption);

    // "admin instutil" for `ostree admin instutil`; empty for the root.
    public static string VerbPath(Command c)
    {
        var names = new List<string>();
        for (Symbol? s = c; s is Command cmd && cmd.Parents.Any(); s = cmd.Parents.FirstOrDefault())
        {
            names.Insert(0, cmd.Name);
        }

        return string.Join(' ', names);
    }

    /// <summary>The help text of <paramref name="c"/>.</summary>
    public static string Render(Command c)
    {
        var path = VerbPath(c) is { Length: > 0 } verbs ? ProgramName + " " + verbs : ProgramName;
        var synopsis = Synopsis(c);
        var sb = new StringBuilder();
        sb.Append("Usage:\n  ").Append(path).Append(" [OPTION…]");
        if (synopsis.Length > 0)
        {
            sb.Append(' ').Append(synopsis);
        }

        sb.Append("\n\n");
        if (c.Parents.Any() && !string.IsNullOrEmpty(c.Description))
        {
            sb.Append(OneLine(c.Description)).Append("\n\n");
        }

        var subs = c.Subcommands.Where(s => !s.Hidden).Select(s => (s.Name, OneLine(s.Description ?? string.Empty))).ToList();
        (string, string)[] help = [("-h, --help", "Show help options")];
        var options = VisibleOptions(c)
            .Select(o => (Left(o), OneLine(o.Description ?? string.Empty)))
            .Append(("--version", "Print version information and exit"))
            .ToList();
        int width = subs.Concat(help).Concat(options).Max(r => r.Item1.Length) + 2;
        if (subs.Count > 0)
        {
            sb.Append(c.Parents.Any() ? $"Builtin \"{VerbPath(c)}\" Commands:\n" : "Builtin Commands:\n");
            Table(sb, subs, width);
            sb.Append('\n');
        }

        sb.Append("Help Options:\n");
        Table(sb, help, width);
        sb.Append('\n');
        sb.Append("Application Options:\n");
        Table(sb, options, width);
        sb.Append('\n');
        return sb.ToString();
    }

    /// <summary>What follows the options in a usage line: "COMMAND" for a verb with sub-verbs, else its arguments.</summary>
    public static string Synopsis(Command c) => c.Subcommands.Count > 0
        ? "COMMAND"
        : string.Join(' ', c.Arguments.Where(a => !a.Hidden).Select(a =>
        {
            var n = a.HelpName ?? a.Name;
            n = a.Arity.MaximumNumberOfValues > 1 ? n + "..." : n;
            return a.Arity.MinimumNumberOfValues == 0 ? $"[{n}]" : n;
        }));

    private static IEnumerable<Command> Ancestors(Command c)
    {
        for (var p = c.Parents.OfType<Command>().FirstOrDefault(); p is not null; p = p.Parents.OfType<Command>().FirstOrDefault())
        {
            yield return p;
        }
    }

    // "-s, --sign-type=SIGN-TYPE" as GLib shows an option and its value.
    public static string Left(Option o)
    {
        var shorts = o.Aliases.Where(a => a.Length == 2 && a[0] == '-' && a[1] != '-').Order(StringComparer.Ordinal);
        var left = string.Join(", ", shorts.Append(o.Name));
        if (o.Arity.MaximumNumberOfValues > 0 && o.ValueType != typeof(bool))
        {
            left += "=" + (o.HelpName ?? o.Name.TrimStart('-').ToUpperInvariant());
        }

        return left;
    }

    private static void Table(StringBuilder sb, IReadOnlyList<(string Left, string Right)> rows, int width)
    {
        foreach (var (left, right) in rows)
        {
            sb.Append("  ").Append(left.PadRight(width)).Append(right).Append('\n');
        }
    }

    // A description on one line: no line of it may start with "Usage".
    public static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

    private sealed class PrintHelp : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Console.Out.Write(Render(parseResult.CommandResult.Command));
            return 0;
        }
    }
}
