using System.CommandLine;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Unencapsulate()
    {
        var cmd = new Command("unencapsulate", "Import the ostree commit of an image without derived layers (no image store refs) and print it");
        cmd.Aliases.Add("import");
        var image = new Argument<string>("OSTREE_IMGREF") { Description = "ostree-unverified-registry:NAME, ostree-unverified-image:TRANSPORT:NAME, ostree-image-signed:..., ostree-remote-image:REMOTE:..." };
        var writeRef = new Option<string?>("--write-ref") { Description = "Point REF at the imported commit" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress" };
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(image);
        cmd.Options.Add(writeRef);
        cmd.Options.Add(quiet);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var imgref = OstreeImageReference.Parse(pr.GetValue(image)!);
            var progress = pr.GetValue(quiet) ? null : CliSupport.MakeByteProgress(pr, "unencapsulate");
            var result = await Unencapsulator.UnencapsulateAsync(repo, imgref, registry.Build(pr), pr.GetValue(writeRef), progress, cancellationToken: CliSupport.Stopping);
            Console.WriteLine(pr.GetValue(writeRef) is { } r ? $"Imported: {r} => {result.Commit.ToHex()}" : $"Imported: {result.Commit.ToHex()}");
            return 0;
        });
        return cmd;
    }
}
