using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Pull()
    {
        var cmd = new Command("pull", "Pull an image into the repository's image store (only missing layers are fetched)");
        var repoArg = new Argument<string>("REPO") { Description = "The ostree repository" };
        var image = new Argument<string>("OSTREE_IMGREF");
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress" };
        var check = new Option<string?>("--check") { Description = "Only compare manifests: when the image changed, write its new manifest to FILE" };
        var noDeltas = new Option<bool>("--disable-deltas") { Description = "Fetch changed layers whole, even where the registry has a delta from the stored image" };
        var json = new Option<bool>("--json") { Description = "Print what was pulled as JSON" };
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(repoArg);
        cmd.Arguments.Add(image);
        cmd.Options.Add(quiet);
        cmd.Options.Add(check);
        cmd.Options.Add(noDeltas);
        cmd.Options.Add(json);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var store = new ImageStore(Repository.OstreeRepo.Open(pr.GetValue(repoArg)!), new ImageStoreOptions { Registry = registry.Build(pr), UseDeltas = !pr.GetValue(noDeltas) });
            var imgref = OstreeImageReference.Parse(pr.GetValue(image)!);
            bool q = pr.GetValue(quiet) || pr.GetValue(json);
            await using var prepared = await store.PrepareAsync(imgref, ct);
            if (pr.GetValue(check) is { } checkFile && !prepared.AlreadyPresent)
            {
                // ostree-ext's --check: the manifest of the changed image, nothing fetched.
                if (!q && prepared.Diff is { } diff)
                {
                    Console.WriteLine(diff.ToString().TrimEnd('\n'));
                }

                FileUtil.WriteAtomic(checkFile, prepared.Layout.Manifest.Bytes, fsync: false);
                return 0;
            }

            var report = await store.ImportAsync(prepared, q ? null : CliSupport.MakePullProgress(pr, "pull"), ct);
            if (pr.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(
                    new ImagePullJson(imgref.Image.ToString(), report.Image.MergeCommit.ToHex(), report.Image.ManifestDigest.ToString(), report.AlreadyPresent, report.LayersPresent, report.LayersFetched, report.LayersFromDeltas, report.BytesFetched),
                    CliJsonContext.Writer.ImagePullJson));
                return 0;
            }

            Console.WriteLine(report.AlreadyPresent
                ? $"No changes in {imgref.Image} => {report.Image.MergeCommit.ToHex()}"
                : $"Wrote: {imgref.Image} => {report.Image.MergeCommit.ToHex()}");
            return 0;
        });
        return cmd;
    }
}
