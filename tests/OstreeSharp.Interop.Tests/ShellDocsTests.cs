using System.Text.RegularExpressions;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// The shell completions and manual pages the command writes from its definitions, run in the real shells (bash, zsh
/// through bashcompinit, fish) and checked by groff.
/// </summary>
public sealed class ShellDocsTests
{
    private static string Script(TempDir dir, string shell)
    {
        var path = Path.Combine(dir.Path, "completion." + shell);
        File.WriteAllText(path, Tools.Ours("completion", shell).Ok($"completion {shell}"));
        return path;
    }

    // What bash's completion function offers for the words of a command line (the last one being completed).
    private static string[] BashCompletes(string script, params string[] words)
    {
        var quoted = string.Join(' ', words.Select(w => "'" + w + "'"));
        var driver = $"source '{script}'\nCOMP_WORDS=({quoted})\nCOMP_CWORD={words.Length - 1}\n_ostree_sharp\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n";
        var r = Tools.Run("bash", ["--norc", "-c", driver]).Ok("bash completion");
        return r.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public void Bash_completes_verbs_by_path_options_and_their_choices()
    {
        using var dir = new TempDir();
        var script = Script(dir, "bash");
        Assert.Equal(["config", "container"], BashCompletes(script, "ostree-sharp", "con"));
        Assert.Equal(["image"], BashCompletes(script, "ostree-sharp", "container", "im"));
        // Options before and between verbs, with values after "=" (a word of its own in bash) or after a space.
        Assert.Equal(["pull"], BashCompletes(script, "ostree-sharp", "--repo", "=", "/tmp", "container", "image", "pu"));
        Assert.Equal(["deploy"], BashCompletes(script, "ostree-sharp", "admin", "--sysroot", "/tmp", "dep"));
        Assert.Equal(["--branch="], BashCompletes(script, "ostree-sharp", "commit", "--bra"));
        Assert.Contains("--karg-delete=", BashCompletes(script, "ostree-sharp", "install", "to-disk", "--karg"));
        Assert.Equal(["humanreadable", "json", "yaml"], BashCompletes(script, "ostree-sharp", "bootc", "status", "--format", string.Empty));
        Assert.Equal(["json"], BashCompletes(script, "ostree-sharp", "bootc", "status", "--format", "=", "j"));
        Assert.Equal(["false", "true"], BashCompletes(script, "ostree-sharp", "image", "copy", "--src-tls-verify", "=", string.Empty));

        // A verb without sub-verbs completes files; so does an option's value without choices.
        File.WriteAllText(Path.Combine(dir.Path, "rootfs.tar"), string.Empty);
        var prefix = Path.Combine(dir.Path, "rootfs");
        Assert.Equal([prefix + ".tar"], BashCompletes(script, "ostree-sharp", "commit", "-b", "os", "--tree", "=", prefix));
        Assert.Equal([prefix + ".tar"], BashCompletes(script, "ostree-sharp", "checkout", prefix));
    }

    [Fact]
    public void Zsh_loads_the_completion_through_bashcompinit()
    {
        using var dir = new TempDir();
        var script = Script(dir, "zsh");
        // zsh runs the function from bashcompinit's compgen, in sh emulation (arrays from 0); its compadd filters.
        var driver = $"autoload -U +X compinit && compinit -u -d '{dir.Path}/zcompdump' && source '{script}' && print -r -- \"${{_comps[ostree-sharp]}}\" && "
            + "emulate sh -c 'COMP_WORDS=(ostree-sharp container im); COMP_CWORD=2; _ostree_sharp; echo \"${COMPREPLY[*]}\"; "
            + "COMP_WORDS=(ostree-sharp --repo=/r bootc status --format \"\"); COMP_CWORD=5; _ostree_sharp; echo \"${COMPREPLY[*]}\"'";
        var lines = Tools.Run("zsh", ["-f", "-c", driver], cwd: dir.Path).Ok("zsh").Split('\n');
        Assert.Equal("_bash_complete -o filenames -F _ostree_sharp", lines[0]);
        Assert.Equal("encapsulate unencapsulate image info compare delta rechunk", lines[1]);
        Assert.Equal("humanreadable json yaml", lines[2]);
    }

    [Fact]
    public void Fish_completes_verbs_options_and_choices_where_they_belong()
    {
        using var dir = new TempDir();
        var script = Script(dir, "fish");
        string[] Complete(string line) =>
            Tools.Run("fish", ["--no-config", "-c", $"source '{script}'; complete -C '{line}'"]).Ok("fish")
                .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]).ToArray();

        Assert.Equal(["image"], Complete("ostree-sharp container im"));
        Assert.Equal(["pull"], Complete("ostree-sharp --repo=/tmp container image pu"));
        Assert.Equal(["--branch"], Complete("ostree-sharp commit --bra"));
        Assert.Equal(["--body", "--body-file"], Complete("ostree-sharp -v commit --bod"));
        Assert.Equal(["--format=humanreadable", "--format=json", "--format=yaml"], Complete("ostree-sharp bootc status --format="));
        // commit's options are not offered to another verb; the root's are offered to all.
        Assert.Empty(Complete("ostree-sharp checkout --bra"));
        Assert.Equal(["--repo"], Complete("ostree-sharp container image pull --rep"));
    }

    [Fact]
    public void Manual_pages_cover_every_verb_pass_groff_and_do_not_change()
    {
        using var dir = new TempDir();
        var first = Path.Combine(dir.Path, "a");
        var second = Path.Combine(dir.Path, "b");
        Assert.Matches(@"^wrote \d+ manual pages to ", Tools.Ours("man", first).Ok("man"));
        Tools.Ours("man", second).Ok("man again");
        var pages = Directory.GetFiles(first).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(pages, Directory.GetFiles(second).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        foreach (var p in pages)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, p!)), File.ReadAllBytes(Path.Combine(second, p!)));
        }

        // Every verb a page lists has its page, from the command's own page down.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>(["ostree-sharp"]);
        while (queue.Count > 0)
        {
            var name = queue.Dequeue();
            Assert.True(seen.Add(name), name);
            var text = File.ReadAllText(Path.Combine(first, name + ".1"));
            foreach (Match m in Regex.Matches(text, @"See \\fB([^\\]+(?:\\-[^\\]+)*)\\fR\(1\)"))
            {
                queue.Enqueue(m.Groups[1].Value.Replace("\\-", "-", StringComparison.Ordinal));
            }
        }

        Assert.Equal(pages.Count, seen.Count);
        Assert.Contains("ostree-sharp-container-image-pull", seen);
        Assert.Contains("ostree-sharp-bootc-status", seen);

        // groff reads each without a warning.
        foreach (var p in pages)
        {
            var r = Tools.Run("groff", ["-man", "-Tutf8", "-ww", "-z", Path.Combine(first, p!)]);
            Assert.True(r.ExitCode == 0 && r.Stderr.Length == 0, $"{p}: {r.Stderr}");
        }

        var commit = File.ReadAllText(Path.Combine(first, "ostree-sharp-commit.1"));
        Assert.Contains(".SH NAME\nostree\\-sharp\\-commit \\- Commit a new revision\n", commit, StringComparison.Ordinal);
        Assert.Contains(".B \\-b, \\-\\-branch=BRANCH\n", commit, StringComparison.Ordinal);
        Assert.Contains(".B \\-\\-repo=REPO\n", commit, StringComparison.Ordinal);
        var rendered = Tools.Run("groff", ["-man", "-Tutf8", Path.Combine(first, "ostree-sharp-commit.1")]).Ok("groff");
        Assert.Contains("ostree-sharp commit [OPTION...]", Regex.Replace(rendered, ".\b", string.Empty), StringComparison.Ordinal);
    }
}
