using System.CommandLine;
using OstreeSharp.Cli;

var root = new RootCommand("ostree-sharp: ostree repositories, OS images as containers, in managed code");
root.Options.Add(CliSupport.Repo);
root.Options.Add(CliSupport.Progress);
foreach (var c in new[]
{
    RepoCommands.Init(), CommitCommand.Create(), RepoCommands.Checkout(), RepoCommands.Log(), RepoCommands.Show(),
    LsCommand.Create(), RepoCommands.Cat(), RepoCommands.Refs(), RepoCommands.RevParse(), RepoCommands.Reset(),
    RepoCommands.ChecksumVerb(), RepoCommands.Config(), RepoCommands.Diff(), RepoCommands.FsckVerb(),
    RepoCommands.PruneVerb(), RepoCommands.SummaryVerb(), RepoCommands.PullLocalVerb(), OperatingSystem.IsLinux() ? DemoCommand.Create() : new Command("demo"),
})
{
    root.Subcommands.Add(c);
}

int rc = root.Parse(args).Invoke();
if (Environment.GetEnvironmentVariable("OSTREE_SHARP_DEBUG_MEMORY") is not null)
{
    var info = GC.GetGCMemoryInfo();
    Console.Error.WriteLine($"gc heap {info.HeapSizeBytes >> 20} MB, committed {info.TotalCommittedBytes >> 20} MB, peak working set {Environment.WorkingSet >> 20} MB, gen0 collections {GC.CollectionCount(0)}, gen2 {GC.CollectionCount(2)}, allocated {GC.GetTotalAllocatedBytes() >> 20} MB");
}

return rc;
