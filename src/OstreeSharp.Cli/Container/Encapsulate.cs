using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
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
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
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
                options = options with { ContentMeta = ContentMeta.Parse(File.ReadAllBytes(cm), cm) };
            }

            if (pr.GetValue(previous) is { } prev)
            {
                options = options with { PreviousBuild = new ManifestBlob(File.ReadAllBytes(prev), null, prev).AsManifest() };
            }

            options.CopyMeta.AddRange(pr.GetValue(copymeta) ?? []);
            options.CopyMetaOptional.AddRange(pr.GetValue(copymetaOpt) ?? []);
            if (pr.GetValue(cmdArgs) is { Length: > 0 } c)
            {
                options = options with { Cmd = [.. c] };
            }

            if (pr.GetValue(config) is { } cfgFile)
            {
                try
                {
                    options = options with { BaseConfig = ContainerConfig.Parse(File.ReadAllBytes(cfgFile)) };
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
                result = await Encapsulator.EncapsulateAsync(repo, commit, destination, options, cancellationToken: CliSupport.Stopping);
                if (sign is not null)
                {
                    await sign(destination, result.ManifestDigest);
                }
            }
            finally
            {
                await destination.DisposeAsync();
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
}
