using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Compression;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Rechunk;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

/// <summary>
/// <c>container rechunk</c>: rpm-ostree's <c>compose build-chunked-oci</c> for any image or root folder, as an
/// ordinary user: layers by package, the previous build's layout kept.
/// </summary>
internal static class ContainerRechunkCommand
{
    public static Command Create()
    {
        var cmd = new Command("rechunk", "Rewrite an image (or a root folder) as an image whose layers hold whole packages (rpm-ostree's compose build-chunked-oci)");
        var args = new Argument<string[]>("SRC DEST") { Description = "The image to read (any TRANSPORT:NAME we read) and the image to write; only DEST with --rootfs or --from", Arity = new ArgumentArity(0, 2) };
        var rootfs = new Option<string?>("--rootfs") { Description = "Read this root folder instead of an image" };
        var from = new Option<string?>("--from") { Description = "The image to read (rpm-ostree's spelling of SRC)" };
        var output = new Option<string?>("--output") { Description = "The image to write (rpm-ostree's spelling of DEST)" };
        var bootc = new Option<bool>("--bootc") { Description = "Mark the image as a bootc image (label containers.bootc=1)" };
        var format = new Option<int>("--format-version") { Description = "1: a chunked ostree image (the ostree layer, then package chunks); 2: plain layers without an ostree commit", DefaultValueFactory = _ => 1 };
        var maxLayers = new Option<int>("--max-layers") { Description = "The most layers the image gets (default 64)", DefaultValueFactory = _ => 64 };
        var reference = new Option<string?>("--reference") { Description = "The tag DEST gets when it names none (default: latest)" };
        var previous = new Option<string?>("--previous-build-manifest") { Description = "The OCI manifest (JSON) of the previous build: its layout is kept, so unchanged packages keep their layer digests" };
        var label = new Option<string[]>("--label", "-l") { Description = "Add a label KEY=VALUE to the image" };
        var compression = new Option<string>("--compression") { Description = "Layer compression: gzip (default) or zstd", DefaultValueFactory = _ => "gzip" };
        var fast = new Option<bool>("--compression-fast") { Description = "Compress with the fastest level" };
        var arch = new Option<string?>("--arch") { Description = "The architecture: of the instance read from a multi-platform SRC, and in the config written for --rootfs (default: this machine's)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress lines" };
        var registry = new RegistryCliOptions(policy: true);
        cmd.Arguments.Add(args);
        foreach (var o in new Option[] { rootfs, from, output, bootc, format, maxLayers, reference, previous, label, compression, fast, arch, json, quiet })
        {
            cmd.Options.Add(o);
        }

        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var positional = new Queue<string>(pr.GetValue(args) ?? []);
            string? rootDir = pr.GetValue(rootfs);
            string? src = pr.GetValue(from);
            if (rootDir is not null && src is not null)
            {
                throw new ArgumentException("--rootfs and --from cannot be combined");
            }

            if (rootDir is null && src is null)
            {
                src = positional.Count == 2 || (positional.Count == 1 && pr.GetValue(output) is not null)
                    ? positional.Dequeue()
                    : throw new ArgumentException("Give the image to read (SRC or --from) or a root folder (--rootfs)");
            }

            var dest = pr.GetValue(output) ?? (positional.Count == 1 ? positional.Dequeue() : throw new ArgumentException("Give the image to write (DEST or --output)"));
            if (positional.Count > 0)
            {
                throw new ArgumentException($"Unexpected argument: {positional.Peek()}");
            }

            var destRef = WithTag(ImageReference.Parse(dest), pr.GetValue(reference));
            var options = new RechunkOptions
            {
                Bootc = pr.GetValue(bootc),
                FormatVersion = pr.GetValue(format),
                MaxLayers = pr.GetValue(maxLayers),
                CompressionFast = pr.GetValue(fast),
                Architecture = pr.GetValue(arch),
                Compression = pr.GetValue(compression) switch
                {
                    "gzip" => LayerCompression.Gzip,
                    "zstd" => LayerCompression.Zstd,
                    var other => throw new ArgumentException($"--compression: unknown compression '{other}' (gzip or zstd)"),
                },
                Log = pr.GetValue(quiet) || pr.GetValue(json) ? null : line => Console.Error.WriteLine(line),
            };
            foreach (var l in pr.GetValue(label) ?? [])
            {
                var (k, v) = Encapsulator.ParseLabel(l);
                options.Labels[k] = v;
            }

            if (pr.GetValue(previous) is { } prev)
            {
                options = options with { PreviousBuild = new ManifestBlob(File.ReadAllBytes(prev), null, prev).AsManifest() };
            }

            if (options.FormatVersion is 1 or 2 && (options.MaxLayers < options.MinLayers || options.MaxLayers > RechunkOptions.MaxLayersLimit))
            {
                throw new ArgumentException($"--max-layers must be between {options.MinLayers} and {RechunkOptions.MaxLayersLimit} for format version {options.FormatVersion}, got {options.MaxLayers}");
            }

            var registryOptions = registry.Build(pr);
            RechunkResult result;
            var destination = ImageTransports.OpenDestination(destRef, registryOptions);
            try
            {
                if (rootDir is not null)
                {
                    result = await Rechunker.RechunkDirectoryAsync(rootDir, destination, options, cancellationToken: CliSupport.Stopping);
                }
                else
                {
                    // As ostree-ext's image proxy: containers-policy.json is consulted when there is one.
                    var source = ContainerPolicy.OpenSource(new OstreeImageReference(SignaturePolicy.AllowInsecure, null, ImageReference.Parse(src!)), registryOptions);
                    try
                    {
                        result = await Rechunker.RechunkAsync(source, destination, options, cancellationToken: CliSupport.Stopping);
                    }
                    finally
                    {
                        await source.DisposeAsync();
                    }
                }
            }
            finally
            {
                await destination.DisposeAsync();
            }

            if (pr.GetValue(json))
            {
                var layers = result.Layers.Select(l => new RechunkLayerJson(l.Digest.ToString(), l.DiffId.ToString(), l.Size, l.Name, l.Components)).ToList();
                Console.WriteLine(JsonSerializer.Serialize(new RechunkJson(result.ManifestDigest.ToString(), result.Components, result.Packages, result.Database, layers), CliJsonContext.Writer.RechunkJson));
            }
            else
            {
                Console.WriteLine(result.ManifestDigest);
            }

            return 0;
        });
        return cmd;
    }

    private static ImageReference WithTag(ImageReference image, string? tag)
    {
        if (tag is null)
        {
            return image;
        }

        if (image.Transport is Transport.OciDir or Transport.OciArchive)
        {
            return image.Tag is null ? ImageReference.Parse($"{image}:{tag}") : throw new ArgumentException($"--reference {tag}: {image} already names a tag");
        }

        if (image.Transport == Transport.Registry)
        {
            var d = image.Docker;
            return d.Tag is null && d.Digest is null ? ImageReference.Parse("docker://" + d.WithTag(tag)) : throw new ArgumentException($"--reference {tag}: {image} already names a tag or digest");
        }

        throw new ArgumentException($"--reference: {image.TransportToken}: images have no tags");
    }
}
