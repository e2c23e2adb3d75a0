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
            var store = new ImageStore(CliSupport.OpenRepo(pr));
            var removal = store.Remove([.. pr.GetValue(images)!.Select(ImageReference.Parse)]);
            int layers = pr.GetValue(skipGc) ? 0 : store.PruneLayers();
            if (removal.Missing.Count > 0)
            {
                throw new Containers.ContainerException(OstreeErrorCode.ImageNotFound, $"Missing images: {string.Join(", ", removal.Missing)}");
            }

            int n = removal.Removed;
            Console.WriteLine(pr.GetValue(skipGc) ? $"Removed images: {n}" : $"Removed images: {n} layers: {layers}");
            return 0;
        });
        return cmd;
    }
}
