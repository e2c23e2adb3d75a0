using System.CommandLine;
using OstreeSharp.Cli;

if (BootedHost.RunInMountNamespaceIfNeeded(args) is { } code)
{
    return code;
}

var root = new RootCommand("ostree-sharp: ostree repositories, OS images as containers, in managed code");
root.Options.Add(CliSupport.Repo);
root.Options.Add(CliSupport.Progress);
foreach (var c in new[]
{
    RepoCommands.Init(), CommitCommand.Create(), RepoCommands.Checkout(), RepoCommands.Log(), RepoCommands.Show(),
    LsCommand.Create(), RepoCommands.Cat(), RepoCommands.Refs(), RepoCommands.RevParse(), RepoCommands.Reset(),
    RepoCommands.ChecksumVerb(), RepoCommands.Config(), RepoCommands.Diff(), RepoCommands.FsckVerb(),
    RepoCommands.PruneVerb(), RepoCommands.SummaryVerb(), StaticDeltaCommand.Create(), RepoCommands.PullLocalVerb(), PullCommand.Create(), TarCommands.Create(), SignCommand.Create(), GpgSignCommand.Create(), RemoteCommand.Create(), ImageCommands.Create(), ContainerCommands.Create(), AdminCommands.Create(), InstallCommands.Create(), SelinuxCommand.Create(), ServeCommand.Create(), OperatingSystem.IsLinux() ? DemoCommand.Create() : new Command("demo"),
})
{
    root.Subcommands.Add(c);
}

return root.Parse(args).Invoke();
