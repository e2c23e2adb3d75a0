using System.CommandLine;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Remove()
    {
        var cmd = new Command("remove", "Remove stored images (and layers nothing else uses, unless --skip-gc)");
        var images = new Argument<string[]>("IMGREF") { Arity = ArgumentArity.OneOrMore };
        var skipGc = new Option<bool>("--skip-gc") { Description = "Keep the layers" };
        cmd.Arguments.Add(images);
        cmd.Options.Add(skipGc);
        CliSupport.SetRun(cmd, pr =>
        {
            var (n, layers) = ImageStore.Remove(CliSupport.OpenRepo(pr), [.. pr.GetValue(images)!.Select(ImageReference.Parse)], pr.GetValue(skipGc));
            Console.WriteLine(pr.GetValue(skipGc) ? $"Removed images: {n}" : $"Removed images: {n} layers: {layers}");
            return 0;
        });
        return cmd;
    }
}
