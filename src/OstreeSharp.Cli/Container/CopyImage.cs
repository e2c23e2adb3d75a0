using System.CommandLine;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command CopyImage()
    {
        var cmd = new Command("copy", "Copy a stored image (its layer commits and merge commit) to another repository");
        var srcRepo = new Option<string>("--src-repo") { Description = "Repository holding the image", Required = true };
        var destRepo = new Option<string>("--dest-repo") { Description = "Repository to copy it to", Required = true };
        var image = new Argument<string>("IMGREF") { Description = "The stored image (TRANSPORT:NAME, or an ostree image reference)" };
        var destImage = new Option<string?>("--dest-imgref") { Description = "Store it under this reference in the destination" };
        cmd.Options.Add(srcRepo);
        cmd.Options.Add(destRepo);
        cmd.Options.Add(destImage);
        cmd.Arguments.Add(image);
        CliSupport.SetRun(cmd, pr =>
        {
            static ImageReference Parse(string text) => text.StartsWith("ostree-", StringComparison.Ordinal) ? OstreeImageReference.Parse(text).Image : ImageReference.Parse(text);
            new ImageStore(Repository.OstreeRepo.Open(pr.GetValue(srcRepo)!)).CopyTo(new ImageStore(Repository.OstreeRepo.Open(pr.GetValue(destRepo)!)), Parse(pr.GetValue(image)!), pr.GetValue(destImage) is { } d ? Parse(d) : null);
            return 0;
        });
        return cmd;
    }
}
