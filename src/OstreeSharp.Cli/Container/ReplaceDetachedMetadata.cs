using System.CommandLine;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command ReplaceDetachedMetadata()
    {
        var cmd = new Command("replace-detached-metadata", "Copy an image with the detached metadata (signatures) of its commit replaced by CONTENTS (a serialized a{sv}), or removed");
        var src = new Option<string>("--src") { Description = "Source image reference", Required = true };
        var dest = new Option<string>("--dest") { Description = "Destination image reference", Required = true };
        var contents = new Argument<string?>("CONTENTS") { Arity = ArgumentArity.ZeroOrOne, Description = "File with the new detached metadata (e.g. a .commitmeta object); omitted: remove it" };
        var registry = new RegistryCliOptions();
        cmd.Options.Add(src);
        cmd.Options.Add(dest);
        cmd.Arguments.Add(contents);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            byte[]? meta = null;
            if (pr.GetValue(contents) is { } file)
            {
                meta = File.ReadAllBytes(file);
                GVariant.GVariantValue.Parse(GVariant.GVariantType.VarDict, meta); // refuse what is not an a{sv}
            }

            var digest = await DetachedMetadataReplacer.ReplaceAsync(ImageReference.Parse(pr.GetValue(src)!), ImageReference.Parse(pr.GetValue(dest)!), meta, registry.Build(pr), cancellationToken: CliSupport.Stopping);
            Console.WriteLine($"Pushed: {digest}");
            return 0;
        });
        return cmd;
    }
}
