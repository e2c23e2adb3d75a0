using System.CommandLine;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command ListImages()
    {
        var cmd = new Command("list", "List the stored images");
        CliSupport.SetRun(cmd, pr =>
        {
            foreach (var i in new ImageStore(CliSupport.OpenRepo(pr)).List())
            {
                Console.WriteLine(i);
            }

            return 0;
        });
        return cmd;
    }

    private static StoredImage Stored(ParseResult pr, Argument<string> image)
    {
        var reference = ImageReference.Parse(pr.GetValue(image)!);
        return new ImageStore(CliSupport.OpenRepo(pr)).Query(reference) ?? throw new Containers.ContainerException($"No such image: {reference}");
    }
}
