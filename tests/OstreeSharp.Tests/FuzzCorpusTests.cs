using OstreeSharp.Fuzz;

namespace OstreeSharp.Tests;

/// <summary>
/// Replays the fuzzing corpus (fuzz/corpus: the seeds) and the inputs fuzzing found (fuzz/regressions) through every
/// target, as the AFL++ harness runs them: each input parses or ends with a typed error, within a time limit.
/// </summary>
public class FuzzCorpusTests
{
    private static readonly string Fuzz = FindFuzzFolder();

    private static string FindFuzzFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OstreeSharp.slnx")))
            {
                return Path.Combine(dir.FullName, "fuzz");
            }
        }

        throw new DirectoryNotFoundException("the repository root (OstreeSharp.slnx) above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Keys];

    [Fact]
    public void Every_target_has_a_seed_corpus_and_every_corpus_a_target()
    {
        var folders = Directory.GetDirectories(Path.Combine(Fuzz, "corpus")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.All.Keys, folders);
        var regressions = Path.Combine(Fuzz, "regressions");
        Assert.All(Directory.GetDirectories(regressions).Select(Path.GetFileName), t => Assert.Contains(t!, FuzzTargets.All.Keys));
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeds_parse(string target)
    {
        var seeds = Directory.GetFiles(Path.Combine(Fuzz, "corpus", target)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(seeds);
        foreach (var file in seeds)
        {
            Assert.True(RunBounded(target, file), $"{file} is refused: a seed must be a valid input");
        }
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Inputs_found_by_fuzzing_get_a_typed_error_or_parse(string target)
    {
        var dir = Path.Combine(Fuzz, "regressions", target);
        foreach (var file in (Directory.Exists(dir) ? Directory.GetFiles(dir) : []).Order(StringComparer.Ordinal))
        {
            _ = RunBounded(target, file);
        }
    }

    // A hang is a finding too: each input gets 20 seconds (the slowest takes milliseconds).
    private static bool RunBounded(string target, string file)
    {
        var bytes = File.ReadAllBytes(file);
        var run = Task.Run(() => FuzzTargets.Run(target, bytes));
        Assert.True(run.Wait(TimeSpan.FromSeconds(20)), $"{target}: {file} did not finish in 20 s");
        return run.Result;
    }
}
