using System.CommandLine;
using System.CommandLine.Completions;
using System.Text;

namespace OstreeSharp.Cli;

/// <summary>
/// <c>completion bash|zsh|fish</c>: a shell completion script written from the command definitions, so it offers
/// exactly the verbs and options this build has. Sub-verbs after their verb, options (those that take a value end in
/// <c>=</c>) after <c>-</c>, an option's fixed choices after it, files everywhere else.
/// </summary>
internal static class CompletionCommand
{
    private const string Function = "_ostree_sharp";

    public static Command Create(RootCommand root)
    {
        var cmd = new Command("completion", "Print a shell completion script (bash, zsh or fish)");
        var shell = new Argument<string>("SHELL") { Description = "bash, zsh or fish" };
        shell.AcceptOnlyFromAmong("bash", "zsh", "fish");
        cmd.Arguments.Add(shell);
        cmd.SetAction(pr =>
        {
            var name = CliHelp.ProgramName is "ostree" or "ostree-sharp" ? CliHelp.ProgramName : "ostree-sharp";
            Console.Out.Write(pr.GetValue(shell) switch
            {
                "bash" => Bash(root, name),
                "zsh" => Zsh(root, name),
                _ => Fish(root, name),
            });
            return 0;
        });
        return cmd;
    }

    /// <summary>What a completion offers at one command: its sub-verbs, its options, the options' choices.</summary>
    private sealed record Level(string Path, Command Command, IReadOnlyList<Command> Verbs, IReadOnlyList<Option> Options);

    private static List<Level> Levels(RootCommand root) =>
        CliHelp.Commands(root)
            .Select(c => new Level(c.Path, c.Command, c.Command.Subcommands.Where(s => !s.Hidden).ToList(), CliHelp.VisibleOptions(c.Command).ToList()))
            .ToList();

    private static bool TakesValue(Option o) => o.Arity.MaximumNumberOfValues > 0 && o.ValueType != typeof(bool);

    private static IEnumerable<string> Names(Option o) => o.Aliases.Prepend(o.Name).Distinct().Order(StringComparer.Ordinal);

    // The values an option accepts when it names them (a list, an enum, true/false), as typed on a command line.
    private static List<string> Choices(Option o) =>
        [.. o.GetCompletions(CompletionContext.Empty)
            .Select(c => o.ValueType == typeof(bool?) ? c.Label.ToLowerInvariant() : c.Label)
            .Where(l => l.Length > 0 && !l.Contains(' ', StringComparison.Ordinal))];

    // A word as a shell single-quoted string.
    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// bash: one function finds the command path in the words before the cursor (skipping options and the values of
    /// those that take one, also after "=", which bash splits off), then completes against that command's lists.
    /// </summary>
    private static string Bash(RootCommand root, string name)
    {
        var levels = Levels(root);
        var sb = new StringBuilder();
        sb.Append("# bash completion for ").Append(name).Append(", written by `").Append(name).Append(" completion bash`\n");
        sb.Append("# from its command definitions. Install: ").Append(name).Append(" completion bash > /etc/bash_completion.d/").Append(name).Append('\n');
        sb.Append(Function).Append("_level() {\n    case \"$1\" in\n");
        foreach (var l in levels)
        {
            var opts = l.Options.SelectMany(o => Names(o).Select(n => TakesValue(o) && n.StartsWith("--", StringComparison.Ordinal) ? n + "=" : n)).Append("--help").Append("--version");
            var valued = l.Options.Where(TakesValue).SelectMany(Names);
            sb.Append("    ").Append(Quote(l.Path)).Append(")\n");
            sb.Append("        verbs=").Append(Quote(string.Join(' ', l.Verbs.Select(v => v.Name)))).Append('\n');
            sb.Append("        opts=").Append(Quote(string.Join(' ', opts.Distinct()))).Append('\n');
            sb.Append("        valued=").Append(Quote(" " + string.Join(' ', valued) + " ")).Append(" ;;\n");
        }

        sb.Append("    *) verbs='' opts='--help' valued=' ' ;;\n    esac\n}\n\n");
        sb.Append(Function).Append("_choices() {\n    case \"$1\" in\n");
        // Keyed by the verb path and the option: verbs give options of the same name other meanings.
        var cases = levels.SelectMany(l => l.Options.Where(TakesValue), (l, o) => (l.Path, Option: o))
            .Select(x => (Pattern: string.Join('|', Names(x.Option).Select(n => Quote(x.Path + " " + n))), Choices: Choices(x.Option)))
            .Where(c => c.Choices.Count > 0);
        foreach (var (pattern, choices) in cases)
        {
            sb.Append("    ").Append(pattern).Append(") choices=").Append(Quote(string.Join(' ', choices))).Append(" ;;\n");
        }

        sb.Append("    *) return 1 ;;\n    esac\n}\n\n");
        sb.Append(Function).Append("() {\n");
        sb.Append("""
                local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path='' verbs opts valued choices i w
                _ostree_sharp_level ''
                for ((i = 1; i < COMP_CWORD; i++)); do
                    w=${COMP_WORDS[i]}
                    case "$w" in
                    --) break ;;
                    -*=*) ;;
                    -*)
                        if [[ ${COMP_WORDS[i+1]-} == = ]]; then
                            ((i += 2))
                        elif [[ $valued == *" $w "* ]]; then
                            ((i++))
                        fi
                        ;;
                    *)
                        if [[ " $verbs " == *" $w "* ]]; then
                            path=${path:+$path }$w
                            _ostree_sharp_level "$path"
                        fi
                        ;;
                    esac
                done
                # The value of an option: after "--opt=" (bash makes "=" a word of its own) or after "--opt" that takes one.
                local option=''
                if [[ $cur == = ]]; then
                    option=$prev cur=''
                elif [[ $prev == = && COMP_CWORD -ge 2 ]]; then
                    option=${COMP_WORDS[COMP_CWORD-2]}
                elif [[ $prev == -* && $valued == *" $prev "* ]]; then
                    option=$prev
                fi
                if [[ -n $option ]]; then
                    if _ostree_sharp_choices "$path $option"; then
                        COMPREPLY=($(compgen -W "$choices" -- "$cur"))
                    else
                        COMPREPLY=($(compgen -f -- "$cur"))
                    fi
                elif [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
                    [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
                elif [[ -n $verbs ]]; then
                    COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
            }

            """.Replace("_ostree_sharp", Function, StringComparison.Ordinal));
        sb.Append("complete -o filenames -F ").Append(Function).Append(' ').Append(name).Append('\n');
        return sb.ToString();
    }

    /// <summary>zsh: the bash script through zsh's bashcompinit.</summary>
    private static string Zsh(RootCommand root, string name) =>
        $"#compdef {name}\n# zsh completion for {name}, written by `{name} completion zsh`: the bash completion through bashcompinit.\n" +
        "autoload -U +X bashcompinit && bashcompinit\n" + Bash(root, name);

    /// <summary>
    /// fish: a function tells the command path of the line so far; each verb and option is offered where its command
    /// is that path (root options everywhere, as they are recursive).
    /// </summary>
    private static string Fish(RootCommand root, string name)
    {
        var levels = Levels(root);
        var fn = "__" + name.Replace('-', '_') + "_path";
        var sb = new StringBuilder();
        sb.Append("# fish completion for ").Append(name).Append(", written by `").Append(name).Append(" completion fish` from its command definitions.\n");
        sb.Append("function ").Append(fn).Append("_verbs\n    switch \"$argv[1]\"\n");
        foreach (var l in levels.Where(l => l.Verbs.Count > 0))
        {
            sb.Append("        case ").Append(Quote(l.Path)).Append("\n            printf '%s\\n' ").Append(string.Join(' ', l.Verbs.Select(v => Quote(v.Name)))).Append('\n');
        }

        sb.Append("    end\nend\n\n");
        sb.Append("function ").Append(fn).Append("_valued\n    switch \"$argv[1]\"\n");
        var valued = levels.SelectMany(l => l.Options.Where(TakesValue)).SelectMany(Names).Distinct().Order(StringComparer.Ordinal).ToList();
        if (valued.Count > 0)
        {
            sb.Append("        case ").Append(string.Join(' ', valued.Select(Quote))).Append("\n            return 0\n");
        }

        sb.Append("    end\n    return 1\nend\n\n");
        sb.Append("function ").Append(fn).Append("\n");
        sb.Append($$"""
                set -l words (commandline -opc)
                set -l path ''
                set -l skip 0
                for w in $words[2..-1]
                    if test $skip -eq 1
                        set skip 0
                        continue
                    end
                    switch $w
                        case --
                            break
                        case '-*=*'
                        case '-*'
                            {{fn}}_valued $w; and set skip 1
                        case '*'
                            if contains -- $w ({{fn}}_verbs "$path")
                                set path (string trim -- "$path $w")
                            end
                    end
                end
                echo $path
            end

            """);
        sb.Append("complete -c ").Append(name).Append(" -e\n");
        foreach (var l in levels)
        {
            var at = $"-n {Quote($"test \"$({fn})\" = {Quote(l.Path)}")}";
            foreach (var v in l.Verbs)
            {
                sb.Append("complete -c ").Append(name).Append(" -f ").Append(at).Append(" -a ").Append(Quote(v.Name)).Append(" -d ").Append(Quote(Short(v.Description))).Append('\n');
            }

            foreach (var o in l.Options.Where(o => !o.Recursive || l.Command == root))
            {
                sb.Append("complete -c ").Append(name).Append(' ').Append(o.Recursive ? string.Empty : at + " ");
                foreach (var n in Names(o))
                {
                    sb.Append(n.StartsWith("--", StringComparison.Ordinal) ? " -l " + Quote(n[2..]) : " -s " + Quote(n[1..]));
                }

                if (TakesValue(o))
                {
                    sb.Append(" -r");
                    if (Choices(o) is { Count: > 0 } choices)
                    {
                        sb.Append(" -f -a ").Append(Quote(string.Join(' ', choices)));
                    }
                }

                sb.Append(" -d ").Append(Quote(Short(o.Description))).Append('\n');
            }
        }

        return sb.ToString();
    }

    // fish shows descriptions beside the candidates: the first sentence, short.
    private static string Short(string? description)
    {
        var s = CliHelp.OneLine(description ?? string.Empty);
        int cut = s.IndexOfAny(['.', ';', '(']);
        s = cut > 0 ? s[..cut].TrimEnd() : s;
        return s.Length > 70 ? s[..67] + "..." : s;
    }
}
