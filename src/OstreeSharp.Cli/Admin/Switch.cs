using System.CommandLine;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Repository;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

internal static partial class AdminCommands
{
    private static Command Switch()
    {
        var cmd = new Command("switch", "Change the origin to a new refspec or container image, fetch it and deploy it");
        var sysroot = SysrootOption();
        var target = new Argument<string>("REF") { Description = "A ref, remote:ref, remote: (the same ref from another remote), or an ostree container image reference" };
        var os = new Option<string?>("--os") { Description = "Use a different operating system root than the current one" };
        var registry = new RegistryCliOptions(policy: true);
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(target);
        cmd.Options.Add(os);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            return Locked(pr, sysroot, s =>
            {
                var merge = MergeFor(s, pr.GetValue(os));
                var origin = OstreeSysroot.WithoutTransientState(merge.Origin);
                var t = pr.GetValue(target)!;
                string? oldRefspec = null;
                if (OstreeImageReference.TryParse(t, out var imgref))
                {
                    origin.Remove("origin", "refspec");
                    origin.Set("origin", "container-image-reference", imgref.ToString());
                }
                else
                {
                    // As ostree: a ref without a remote keeps the origin's remote, "remote:" keeps its ref; the new
                    // origin holds the refspec only, and switching to the same one is an error.
                    oldRefspec = origin.Get("origin", "refspec");
                    var (oldRemote, oldRef) = oldRefspec is null ? (null, null) : OstreeRepo.ParseRefspec(oldRefspec);
                    var (newRemote, newRef) = t.EndsWith(':') ? (t[..^1], oldRef ?? throw new OstreeException(OstreeErrorCode.DeploymentState, $"{merge} has no origin refspec whose ref '{t}' could keep")) : OstreeRepo.ParseRefspec(t);
                    var remote = newRemote ?? oldRemote;
                    var refspec = remote is null ? newRef : $"{remote}:{newRef}";
                    if (refspec == oldRefspec)
                    {
                        throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Old and new refs are equal: {refspec}");
                    }

                    origin = KeyFile.Parse(string.Empty, "origin");
                    origin.Set("origin", "refspec", refspec);
                }

                var request = new UpgradeRequest { Force = true, AllowDowngrade = true, IgnoreUnconfigured = true, Registry = registry.Build(pr) };
                SysrootImages.UpgradeAsync(s, merge, origin, request, CliSupport.MakePullProgress(pr, "pull"), CliSupport.Stopping).GetAwaiter().GetResult();
                if (oldRefspec is not null)
                {
                    var (oldRemote, oldRef) = OstreeRepo.ParseRefspec(oldRefspec);
                    Console.WriteLine($"Deleting ref '{oldRemote ?? "(null)"}:{oldRef}'");
                    try
                    {
                        s.Repo.SetRefImmediate(oldRefspec, null);
                    }
                    catch (ObjectNotFoundException)
                    {
                        // Already gone, which is what was asked.
                    }
                }

                return 0;
            });
        });
        return cmd;
    }
}
