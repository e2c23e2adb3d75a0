using System.CommandLine;
using OstreeSharp.Cli;
using OstreeSharp.Internal;
using OstreeSharp.Operations;

// Called as `bootc` (a symlink to this binary, as busybox is called), it is `ostree-sharp bootc`.
bool asBootc = CliSupport.InvokedAs() == "bootc";
if (asBootc)
{
    args = ["bootc", .. args];
}

if (BootedHost.RunInMountNamespaceIfNeeded(args) is { } code)
{
    return code;
}

// `--version` anywhere before `--`, as ostree accepts it on every verb: ostree's YAML, which scripts parse for the
// features (libostree's test suite greps "- gpgme", "- libarchive", "- sign-ed25519").
if (args.TakeWhile(a => a != "--").Contains("--version"))
{
    if (asBootc)
    {
        // The bootc release whose commands and output these follow, as clap prints it, then ours.
        Console.Out.Write(CliSupport.BootcVersionText());
        return 0;
    }

    Console.Out.Write(CliSupport.VersionText());
    return 0;
}

var root = new RootCommand("ostree-sharp: ostree repositories, OS images as containers, in managed code");
root.Options.Add(CliSupport.Repo);
root.Options.Add(CliSupport.Progress);
root.Options.Add(CliSupport.Verbose);
// (as `bootc`, the root command has that name and bootc's verbs only)
foreach (var c in asBootc ? BootcCommands.Verbs() : new[]
{
    RepoCommands.Init(), CommitCommand.Create(), RepoCommands.Checkout(), RepoCommands.Log(), RepoCommands.Show(),
    LsCommand.Create(), RepoCommands.Cat(), RepoCommands.Refs(), RepoCommands.RevParse(), RepoCommands.Reset(),
    RepoCommands.ChecksumVerb(), RepoCommands.Config(), RepoCommands.Diff(), RepoCommands.FsckVerb(),
    RepoCommands.PruneVerb(), RepoCommands.SummaryVerb(), StaticDeltaCommand.Create(), RepoCommands.PullLocalVerb(), PullCommand.Create(), CollectionCommands.FindRemotes(), CollectionCommands.CreateUsb(), TarCommands.Create(), TarCommands.PlainExport(), SignCommand.Create(), GpgSignCommand.Create(), RemoteCommand.Create(), ImageCommands.Create(), ContainerCommands.Create(), AdminCommands.Create(), InstallCommands.Create(), SelinuxCommand.Create(), ServeCommand.Create(), BootcCommands.Create(), OperatingSystem.IsLinux() ? DemoCommand.Create() : new Command("demo"),
})
{
    root.Subcommands.Add(c);
}

if (!asBootc)
{
    // Written from the definitions above, so they come last.
    root.Subcommands.Add(CompletionCommand.Create(root));
    root.Subcommands.Add(ManCommand.Create(root));
}

CliHelp.Install(root);
if (asBootc)
{
    args = args[1..];
}

// As ostree: a verb we do not have runs `ostree-VERB` from PATH (a CLI extension) when there is one.
if (CliSupport.Extension(root, args) is { } extension)
{
    return extension;
}

args = CliSupport.LastSingleValueWins(root, CliSupport.HoistVerbs(root, args));
if (CliSupport.UnknownOption(root, args) is { } unknown)
{
    return CliErrors.Report(OstreeSharp.OstreeErrorCode.InvalidArgument, $"Unknown option {unknown}");
}

CliSupport.VerboseRequested = args.TakeWhile(a => a != "--").Any(a => a is "-v" or "--verbose");

// An unexpected exception is a bug, but still one line on stderr and exit 1: System.CommandLine's own handler
// resets console colours, which needs a terminfo database and a home folder (absent in an initramfs or a
// minimal guest) and then crashes the process with a second exception.
try
{
    var parsed = root.Parse(args);
    if (!asBootc && CliSupport.TopVerb(parsed) is "container" or "image")
    {
        // Memory: see docs/memory.md.
        Native.ReturnLargeAllocations();
    }

    return CliHelp.UnknownSubcommand(parsed) ?? CliHelp.UsageError(parsed) ?? parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (CliSupport.IsStop(e))
{
    return CliSupport.Stopped();
}
catch (Exception e)
{
    return CliSupport.Fail(e);
}
