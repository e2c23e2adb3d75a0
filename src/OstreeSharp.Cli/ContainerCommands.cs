using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;
using OstreeSharp.Internal;

namespace OstreeSharp.Cli;

/// <summary><c>container encapsulate|unencapsulate</c>: ostree commits as OCI images and back (ostree-ext's verbs).</summary>
internal static class ContainerCommands
{
    public static Command Create()
    {
        var cmd = new Command("container", "ostree commits as container images: encapsulate, unencapsulate, the image store, info, compare");
        cmd.Subcommands.Add(Encapsulate());
        cmd.Subcommands.Add(Unencapsulate());
        cmd.Subcommands.Add(ImageGroup());
        cmd.Subcommands.Add(Info());
        cmd.Subcommands.Add(Compare());
        cmd.Subcommands.Add(ContainerDeltaCommand.Create());
        cmd.Subcommands.Add(ContainerRechunkCommand.Create());
        return cmd;
    }

    private static Command Info()
    {
        var cmd = new Command("info", "Print an image's manifest digest");
        var image = new Argument<string>("OSTREE_IMGREF");
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(image);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var imgref = OstreeImageReference.Parse(pr.GetValue(image)!);
            var source = ContainerPolicy.OpenSource(imgref, registry.Build(pr));
            try
            {
                var layout = Unencapsulator.FetchLayoutAsync(source, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                Console.WriteLine($"{imgref} digest: {layout.Manifest.Digest}");
            }
            finally
            {
                source.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return 0;
        });
        return cmd;
    }

    private static Command Compare()
    {
        var cmd = new Command("compare", "Compare the layers of two images");
        var oldImage = new Argument<string>("OSTREE_IMGREF_OLD");
        var newImage = new Argument<string>("OSTREE_IMGREF_NEW");
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(oldImage);
        cmd.Arguments.Add(newImage);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            ImageManifest Fetch(string text)
            {
                var imgref = OstreeImageReference.Parse(text);
                var source = ContainerPolicy.OpenSource(imgref, registry.Build(pr));
                try
                {
                    var top = source.GetManifestAsync(null, CliSupport.Stopping).GetAwaiter().GetResult();
                    return Containers.Copy.PlatformSelector.ResolveAsync(source, top, "linux", Containers.Copy.PlatformSelector.HostArchitecture, null, CliSupport.Stopping).GetAwaiter().GetResult().AsManifest();
                }
                finally
                {
                    source.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }

            Console.Write(ManifestDiff.Compute(Fetch(pr.GetValue(oldImage)!), Fetch(pr.GetValue(newImage)!)).ToString());
            return 0;
        });
        return cmd;
    }

    private static Command ImageGroup()
    {
        var cmd = new Command("image", "The image store in an ostree repository: pull, list, history, metadata, remove, prune-layers, prune-images, copy, reexport, replace-detached-metadata, deploy");
        cmd.Subcommands.Add(Pull());
        cmd.Subcommands.Add(ListImages());
        cmd.Subcommands.Add(History());
        cmd.Subcommands.Add(Metadata());
        cmd.Subcommands.Add(Remove());
        cmd.Subcommands.Add(PruneLayers());
        cmd.Subcommands.Add(CopyImage());
        cmd.Subcommands.Add(ReplaceDetachedMetadata());
        cmd.Subcommands.Add(Reexport());
        cmd.Subcommands.Add(ContainerDeployCommands.Deploy());
        cmd.Subcommands.Add(ContainerDeployCommands.PruneImages());
        return cmd;
    }

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
        CliSupport.SetRun(cmd, pr =>
        {
            byte[]? meta = null;
            if (pr.GetValue(contents) is { } file)
            {
                meta = File.ReadAllBytes(file);
                GVariant.GVariantValue.Parse(GVariant.GVariantType.VarDict, meta); // refuse what is not an a{sv}
            }

            var digest = DetachedMetadataReplacer.ReplaceAsync(ImageReference.Parse(pr.GetValue(src)!), ImageReference.Parse(pr.GetValue(dest)!), meta, registry.Build(pr), cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
            Console.WriteLine($"Pushed: {digest}");
            return 0;
        });
        return cmd;
    }

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
            ImageStore.Copy(Repository.OstreeRepo.Open(pr.GetValue(srcRepo)!), Repository.OstreeRepo.Open(pr.GetValue(destRepo)!), Parse(pr.GetValue(image)!), pr.GetValue(destImage) is { } d ? Parse(d) : null);
            return 0;
        });
        return cmd;
    }

    private static Command Reexport()
    {
        var cmd = new Command("reexport", "Write a stored image out again as an OCI image, regenerated from the commits in the repository");
        var repo = new Option<string>("--repo") { Description = "Repository holding the image", Required = true };
        var src = new Argument<string>("SRC_IMGREF") { Description = "The stored image (TRANSPORT:NAME, or an ostree image reference)" };
        var dest = new Argument<string>("DEST_IMGREF") { Description = "Where to write it (oci:, oci-archive:, dir:, docker://)" };
        var fast = new Option<bool>("--compression-fast") { Description = "Compress with the fastest level" };
        var compression = new Option<string>("--compression") { Description = "Layer compression: gzip (default) or zstd", DefaultValueFactory = _ => "gzip" };
        var registry = new RegistryCliOptions();
        cmd.Options.Add(repo);
        cmd.Arguments.Add(src);
        cmd.Arguments.Add(dest);
        cmd.Options.Add(fast);
        cmd.Options.Add(compression);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var text = pr.GetValue(src)!;
            var image = text.StartsWith("ostree-", StringComparison.Ordinal) ? OstreeImageReference.Parse(text).Image : ImageReference.Parse(text);
            var options = new EncapsulateOptions
            {
                CompressionFast = pr.GetValue(fast),
                Compression = pr.GetValue(compression) switch
                {
                    "gzip" => LayerCompression.Gzip,
                    "zstd" => LayerCompression.Zstd,
                    var other => throw new ArgumentException($"--compression: unknown compression '{other}' (gzip or zstd)"),
                },
            };
            var destRef = ImageReference.Parse(pr.GetValue(dest)!);
            var destination = Containers.Transports.ImageTransports.OpenDestination(destRef, registry.Build(pr));
            try
            {
                var digest = Reexporter.ReexportAsync(Repository.OstreeRepo.Open(pr.GetValue(repo)!), image, destination, options, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                Console.WriteLine($"Exported: {digest}");
            }
            finally
            {
                destination.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return 0;
        });
        return cmd;
    }

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
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = Repository.OstreeRepo.Open(pr.GetValue(repoArg)!);
            var imgref = OstreeImageReference.Parse(pr.GetValue(image)!);
            bool q = pr.GetValue(quiet) || pr.GetValue(json);
            var report = ImageStore.PullAsync(repo, imgref, registry.Build(pr), q ? null : line => Console.WriteLine(line), q ? null : CliSupport.MakeByteProgress(pr, "pull"), pr.GetValue(check), !pr.GetValue(noDeltas), cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
            if (report is null)
            {
                return 0;
            }

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

    private static Command ListImages()
    {
        var cmd = new Command("list", "List the stored images");
        CliSupport.SetRun(cmd, pr =>
        {
            foreach (var i in ImageStore.List(CliSupport.OpenRepo(pr)))
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
        return ImageStore.Query(CliSupport.OpenRepo(pr), reference) ?? throw new Containers.ContainerException($"No such image: {reference}");
    }

    private static Command History()
    {
        var cmd = new Command("history", "Show a stored image's layers: ID, SIZE, CREATED BY");
        var image = new Argument<string>("IMGREF");
        cmd.Arguments.Add(image);
        CliSupport.SetRun(cmd, pr =>
        {
            var stored = Stored(pr, image);
            var layers = stored.Manifest.AsManifest().Layers;
            var history = stored.ConfigJson is { } cj ? ImageConfig.Parse(System.Text.Encoding.UTF8.GetBytes(cj), "of " + pr.GetValue(image)).History ?? [] : [];
            Console.WriteLine($"{"ID",-20}  {"SIZE",-10}  CREATED BY");
            for (int i = 0; i < layers.Count; i++)
            {
                var id = layers[i].Digest.StartsWith("sha256:", StringComparison.Ordinal) ? layers[i].Digest[7..] : layers[i].Digest;
                Console.WriteLine($"{id[..Math.Min(20, id.Length)],-20}  {SizeFormat.Format(layers[i].Size),-10}  {(i < history.Count ? history[i].CreatedBy : string.Empty)}");
            }

            return 0;
        });
        return cmd;
    }

    private static Command Metadata()
    {
        var cmd = new Command("metadata", "Print a stored image's manifest (or --config) as JSON");
        var image = new Argument<string>("IMGREF");
        var config = new Option<bool>("--config") { Description = "Print the image config instead" };
        cmd.Arguments.Add(image);
        cmd.Options.Add(config);
        CliSupport.SetRun(cmd, pr =>
        {
            var stored = Stored(pr, image);
            Console.Write(pr.GetValue(config) ? stored.ConfigJson ?? "null" : System.Text.Encoding.UTF8.GetString(stored.Manifest.Bytes));
            return 0;
        });
        return cmd;
    }

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

    private static Command PruneLayers()
    {
        var cmd = new Command("prune-layers", "Remove layer refs that no stored image or deployment uses");
        CliSupport.SetRun(cmd, pr =>
        {
            Console.WriteLine($"Removed layers: {ImageStore.PruneLayers(CliSupport.OpenRepo(pr))}");
            return 0;
        });
        return cmd;
    }

    private static Command Encapsulate()
    {
        var cmd = new Command("encapsulate", "Write a commit as an OCI image (oci:DIR[:TAG], oci-archive:FILE, dir:DIR or docker://...)");
        cmd.Aliases.Add("export");
        var rev = new Argument<string>("REV") { Description = "Commit or ref to encapsulate" };
        var image = new Argument<string>("IMGREF") { Description = "Destination image reference (TRANSPORT:NAME)" };
        var label = new Option<string[]>("--label", "-l") { Description = "Add a label KEY=VALUE to the image" };
        var copymeta = new Option<string[]>("--copymeta") { Description = "Copy this commit metadata string to a label (required)" };
        var copymetaOpt = new Option<string[]>("--copymeta-opt") { Description = "Copy this commit metadata string to a label if present" };
        var cmdArgs = new Option<string[]>("--cmd") { Description = "The image's command (repeat for each argument); default: commit metadata ostree.container-cmd" };
        var config = new Option<string?>("--config") { Description = "JSON file with a runtime config (Env, Cmd, Labels, ...) to start from" };
        var fast = new Option<bool>("--compression-fast") { Description = "Compress with the fastest level" };
        var compression = new Option<string>("--compression") { Description = "Layer compression: gzip (default) or zstd", DefaultValueFactory = _ => "gzip" };
        var wallClock = new Option<bool>("--wall-clock-history") { Description = "Stamp the history with the export time (as ostree-ext does) instead of the commit time; the digest then changes every run" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var contentmeta = new Option<string?>("--contentmeta") { Description = "JSON content metadata (version 1): one chunk layer per key of 'layers', objects assigned by 'mapping'" };
        var previous = new Option<string?>("--previous-build-manifest") { Description = "The OCI manifest (JSON) of the previous build: with --contentmeta, its chunk layout is kept so unchanged layers keep their digests" };
        var maxLayers = new Option<int>("--max-layers") { Description = "Split the content over up to N layers (the ostree layer plus N-1 chunks, packed by folder); default 1: a single layer" };
        var exposePort = new Option<int?>("--expose-repo-port") { Description = "Record PORT/tcp in the config's ExposedPorts (as EXPOSE does): the port a container serving this image's repository (serve --image) listens on" };
        var registry = new RegistryCliOptions(registriesD: true);
        var signing = new SigningCliOptions();
        cmd.Arguments.Add(rev);
        cmd.Arguments.Add(image);
        foreach (var o in new Option[] { label, copymeta, copymetaOpt, cmdArgs, config, fast, compression, wallClock, json, maxLayers, contentmeta, previous, exposePort })
        {
            cmd.Options.Add(o);
        }

        registry.AddTo(cmd);
        signing.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var commit = repo.Resolve(pr.GetValue(rev)!);
            var options = new EncapsulateOptions
            {
                CompressionFast = pr.GetValue(fast),
                ChunkLayers = Math.Max(0, pr.GetValue(maxLayers) - 1),
                ExposeRepoPort = pr.GetValue(exposePort) is { } port and (< 1 or > 65535) ? throw new ArgumentException($"--expose-repo-port: {port} is not a TCP port") : pr.GetValue(exposePort),
                WallClockHistory = pr.GetValue(wallClock),
                Compression = pr.GetValue(compression) switch
                {
                    "gzip" => LayerCompression.Gzip,
                    "zstd" => LayerCompression.Zstd,
                    var other => throw new ArgumentException($"--compression: unknown compression '{other}' (gzip or zstd)"),
                },
            };
            foreach (var l in pr.GetValue(label) ?? [])
            {
                var (k, v) = Encapsulator.ParseLabel(l);
                options.Labels[k] = v;
            }

            if (pr.GetValue(contentmeta) is { } cm)
            {
                options.ContentMeta = ContentMeta.Parse(File.ReadAllBytes(cm), cm);
            }

            if (pr.GetValue(previous) is { } prev)
            {
                options.PreviousBuild = new ManifestBlob(File.ReadAllBytes(prev), null, prev).AsManifest();
            }

            options.CopyMeta.AddRange(pr.GetValue(copymeta) ?? []);
            options.CopyMetaOptional.AddRange(pr.GetValue(copymetaOpt) ?? []);
            if (pr.GetValue(cmdArgs) is { Length: > 0 } c)
            {
                options.Cmd = [.. c];
            }

            if (pr.GetValue(config) is { } cfgFile)
            {
                try
                {
                    options.BaseConfig = ContainerConfig.Parse(File.ReadAllBytes(cfgFile));
                }
                catch (JsonException e)
                {
                    throw new ArgumentException($"--config {cfgFile}: {e.Message}");
                }
            }

            var destRef = ImageReference.Parse(pr.GetValue(image)!);
            var registryOptions = registry.Build(pr);
            var sign = signing.Prepare(pr, destRef, registryOptions);
            var destination = ImageTransports.OpenDestination(destRef, registryOptions);
            EncapsulateResult result;
            try
            {
                result = Encapsulator.EncapsulateAsync(repo, commit, destination, options, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                sign?.Invoke(destination, result.ManifestDigest).GetAwaiter().GetResult();
            }
            finally
            {
                destination.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new EncapsulateJson(result.ManifestDigest.ToString(), result.LayerDigest.ToString(), result.DiffId.ToString(), result.LayerSize), CliJsonContext.Writer.EncapsulateJson));
            }
            else
            {
                Console.WriteLine(result.ManifestDigest);
            }

            return 0;
        });
        return cmd;
    }

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
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var imgref = OstreeImageReference.Parse(pr.GetValue(image)!);
            var progress = pr.GetValue(quiet) ? null : CliSupport.MakeByteProgress(pr, "unencapsulate");
            var result = Unencapsulator.UnencapsulateAsync(repo, imgref, registry.Build(pr), pr.GetValue(writeRef), progress, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
            Console.WriteLine(pr.GetValue(writeRef) is { } r ? $"Imported: {r} => {result.Commit.ToHex()}" : $"Imported: {result.Commit.ToHex()}");
            return 0;
        });
        return cmd;
    }
}
