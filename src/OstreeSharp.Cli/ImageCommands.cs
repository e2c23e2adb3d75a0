using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

/// <summary><c>image copy|inspect|tags|delete</c>: container images between transports, like skopeo.</summary>
internal static class ImageCommands
{
    public static Command Create()
    {
        var cmd = new Command("image", "Copy, inspect, list and delete container images (oci:, oci-archive:, dir:, docker-archive:, docker://)");
        cmd.Subcommands.Add(Copy());
        cmd.Subcommands.Add(Inspect());
        cmd.Subcommands.Add(Tags());
        cmd.Subcommands.Add(Delete());
        return cmd;
    }

    private static Command Copy()
    {
        var cmd = new Command("copy", "Copy an image from SRC to DST, e.g. oci:./layout:v1 docker://host:5000/os:v1");
        var src = new Argument<string>("SRC") { Description = "Source image reference (TRANSPORT:NAME)" };
        var dst = new Argument<string>("DST") { Description = "Destination image reference (TRANSPORT:NAME)" };
        var registry = new RegistryCliOptions(policy: true);
        var signing = new SigningCliOptions();
        var insecurePolicy = new Option<bool>("--insecure-policy") { Description = "Copy without consulting the signature policy (skopeo's --insecure-policy)" };
        var srcCreds = new Option<string?>("--src-creds") { Description = "Credentials USER[:PASSWORD] for the source registry" };
        var dstCreds = new Option<string?>("--dest-creds") { Description = "Credentials USER[:PASSWORD] for the destination registry" };
        var srcTls = new Option<bool?>("--src-tls-verify") { Description = "TLS verification for the source registry" };
        var dstTls = new Option<bool?>("--dest-tls-verify") { Description = "TLS verification for the destination registry" };
        var srcCert = new Option<string?>("--src-cert-dir") { Description = "Certificate directory for the source registry" };
        var dstCert = new Option<string?>("--dest-cert-dir") { Description = "Certificate directory for the destination registry" };
        var all = new Option<bool>("--all", "-a") { Description = "Copy every image of an index, not just the one for this platform" };
        var arch = new Option<string?>("--override-arch") { Description = "Architecture to pick from an index (default: this machine's)" };
        var os = new Option<string?>("--override-os") { Description = "OS to pick from an index (default: linux)" };
        var variant = new Option<string?>("--override-variant") { Description = "Variant to pick from an index" };
        var chunk = new Option<string?>("--chunk-size") { Description = "Upload blobs to registries in chunks of this size (e.g. 64M); default: one request per blob" };
        var digestFile = new Option<string?>("--digestfile") { Description = "Write the digest of the copied manifest to FILE" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Print nothing but errors" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON on standard output" };
        cmd.Arguments.Add(src);
        cmd.Arguments.Add(dst);
        registry.AddTo(cmd);
        signing.AddTo(cmd);
        foreach (var o in new Option[] { insecurePolicy, srcCreds, dstCreds, srcTls, dstTls, srcCert, dstCert, all, arch, os, variant, chunk, digestFile, quiet, json })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var srcRef = ImageReference.Parse(pr.GetValue(src)!);
            var dstRef = ImageReference.Parse(pr.GetValue(dst)!);
            var srcOptions = registry.Build(pr, srcCreds, srcTls, srcCert);
            var dstOptions = registry.Build(pr, dstCreds, dstTls, dstCert);
            if (pr.GetValue(chunk) is { } cs)
            {
                dstOptions.ChunkSize = RegistryCliOptions.ParseSize(cs, "--chunk-size");
            }

            var options = new CopyOptions { All = pr.GetValue(all) };
            if (pr.GetValue(arch) is { } a)
            {
                options.Architecture = a;
            }

            if (pr.GetValue(os) is { } o)
            {
                options.Os = o;
            }

            options.Variant = pr.GetValue(variant);
            var reporter = new CopyReporter(pr.GetValue(CliSupport.Progress) ?? "auto", pr.GetValue(quiet) || pr.GetValue(json));
            options.Progress = reporter;
            CopyResult result;

            var sign = signing.Prepare(pr, dstRef, dstOptions);

            // As skopeo: the source image must satisfy containers-policy.json before anything but its manifest is read.
            var policy = pr.GetValue(insecurePolicy) ? null : ImagePolicy.Load(srcOptions.PolicyPath);
            var source = ImageTransports.OpenSource(srcRef, srcOptions);
            if (policy is not null)
            {
                source = new PolicyCheckedSource(source, policy, RegistriesD.Load(srcOptions.RegistriesDirectory));
            }

            try
            {
                var destination = ImageTransports.OpenDestination(dstRef, dstOptions);
                try
                {
                    reporter.Line($"Copying {srcRef} to {dstRef}");
                    result = ImageCopier.CopyAsync(source, destination, options, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
                    if (sign is not null)
                    {
                        sign(destination, result.ManifestDigest).GetAwaiter().GetResult();
                    }
                }
                finally
                {
                    destination.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }
            finally
            {
                source.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            reporter.Finish();
            if (pr.GetValue(digestFile) is { } df)
            {
                File.WriteAllText(df, result.ManifestDigest.ToString());
            }

            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new CopyJson(result.ManifestDigest.ToString(), result.MediaType, result.BlobsCopied, result.BlobsSkipped, result.BytesCopied), CliJsonContext.Writer.CopyJson));
            }
            else
            {
                reporter.Line($"Wrote manifest {result.ManifestDigest} ({result.BlobsCopied} blobs copied, {result.BlobsSkipped} already there, {CopyReporter.Size(result.BytesCopied)})");
            }

            return 0;
        });
        return cmd;
    }

    private static Command Inspect()
    {
        var cmd = new Command("inspect", "Show an image's digest, tags, labels, platform and layers (like skopeo inspect)");
        var image = new Argument<string>("IMAGE") { Description = "Image reference (TRANSPORT:NAME)" };
        var raw = new Option<bool>("--raw") { Description = "Print the manifest (or with --config the config) exactly as stored" };
        var config = new Option<bool>("--config") { Description = "Print the image configuration" };
        var noTags = new Option<bool>("--no-tags", "-n") { Description = "Do not list the repository's tags" };
        var arch = new Option<string?>("--override-arch") { Description = "Architecture to pick from an index" };
        var os = new Option<string?>("--override-os") { Description = "OS to pick from an index" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(image);
        cmd.Options.Add(raw);
        cmd.Options.Add(config);
        cmd.Options.Add(noTags);
        cmd.Options.Add(arch);
        cmd.Options.Add(os);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr => InspectAsync(pr, ImageReference.Parse(pr.GetValue(image)!), registry.Build(pr), pr.GetValue(raw), pr.GetValue(config), pr.GetValue(noTags), pr.GetValue(os) ?? "linux", pr.GetValue(arch) ?? PlatformSelector.HostArchitecture).GetAwaiter().GetResult());
        return cmd;
    }

    private static async Task<int> InspectAsync(ParseResult pr, ImageReference reference, Containers.Registry.RegistryOptions options, bool raw, bool config, bool noTags, string os, string arch)
    {
        _ = pr;
        await using var source = ImageTransports.OpenSource(reference, options);
        var top = await source.GetManifestAsync(null, CliSupport.Stopping).ConfigureAwait(false);
        if (raw && !config)
        {
            using var stdout = Console.OpenStandardOutput();
            stdout.Write(top.Bytes);
            return 0;
        }

        var manifestBlob = await PlatformSelector.ResolveAsync(source, top, os, arch, null, CliSupport.Stopping).ConfigureAwait(false);
        var manifest = manifestBlob.AsManifest();
        var configBytes = await source.ReadConfigAsync(manifest.Config, 64L << 20, CliSupport.Stopping).ConfigureAwait(false);
        if (config)
        {
            if (raw)
            {
                using var stdout = Console.OpenStandardOutput();
                stdout.Write(configBytes);
            }
            else
            {
                using var doc = JsonDocument.Parse(configBytes);
                Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, ImageJsonContext.Writer.JsonElement));
            }

            return 0;
        }

        var cfg = ImageConfig.Parse(configBytes, $"{manifest.Config.Digest} of {reference}");

        var tags = reference.Transport == Transport.Registry && !noTags ? await source.ListTagsAsync(CliSupport.Stopping).ConfigureAwait(false) : [];
        var output = new InspectJson
        {
            Name = reference.Transport == Transport.Registry ? reference.Docker.Repository : null,
            Digest = top.IsIndex ? top.Digest.ToString() : manifestBlob.Digest.ToString(),
            RepoTags = [.. tags],
            Created = cfg.Created,
            DockerVersion = cfg.DockerVersion ?? string.Empty,
            Labels = cfg.Config?.Labels,
            Architecture = cfg.Architecture,
            Os = cfg.Os,
            Variant = cfg.Variant,
            Layers = [.. manifest.Layers.Select(l => l.Digest)],
            LayersData = [.. manifest.Layers.Select(l => new LayerJson(l.MediaType, l.Digest, l.Size, l.Annotations))],
            Env = cfg.Config?.Env,
        };
        Console.WriteLine(JsonSerializer.Serialize(output, ImageJsonContext.Writer.InspectJson));
        return 0;
    }

    private static Command Tags()
    {
        var cmd = new Command("tags", "List the tags of a repository (docker://HOST/REPO) or of an OCI layout");
        var image = new Argument<string>("REPOSITORY") { Description = "docker://HOST/REPO, oci:DIR or oci-archive:FILE" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(image);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var reference = ImageReference.Parse(pr.GetValue(image)!);
            var source = ImageTransports.OpenSource(reference, registry.Build(pr));
            try
            {
                var tags = source.ListTagsAsync(CliSupport.Stopping).GetAwaiter().GetResult();
                var repo = reference.Transport == Transport.Registry ? reference.Docker.Repository : reference.Path;
                Console.WriteLine(JsonSerializer.Serialize(new TagsJson(repo, [.. tags]), ImageJsonContext.Writer.TagsJson));
            }
            finally
            {
                source.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            return 0;
        });
        return cmd;
    }

    private static Command Delete()
    {
        var cmd = new Command("delete", "Delete an image's manifest from a registry (docker://HOST/REPO:TAG or @DIGEST)");
        var image = new Argument<string>("IMAGE") { Description = "docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(image);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var reference = ImageReference.Parse(pr.GetValue(image)!);
            if (reference.Transport != Transport.Registry)
            {
                throw new ImageReferenceException($"{reference}: image delete works on registries (docker://) only");
            }

            var docker = reference.Docker;
            using var client = new Containers.Registry.RegistryClient(docker, registry.Build(pr));
            var digest = client.DeleteManifestAsync(docker.Path, docker.ManifestReference, reference.ToString(), CliSupport.Stopping).GetAwaiter().GetResult();
            Console.WriteLine(digest);
            return 0;
        });
        return cmd;
    }

    /// <summary>Renders copy progress: bars on a terminal, JSON Lines with --progress=json, plain lines otherwise.</summary>
    private sealed class CopyReporter(string mode, bool quiet) : IProgress<CopyProgress>
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, (long Done, long Total)> _active = new(StringComparer.Ordinal);
        private readonly bool _bars = mode == "auto" && !Console.IsErrorRedirected && !quiet;
        private readonly bool _json = mode == "json";
        private bool _barShown;

        public void Report(CopyProgress value)
        {
            lock (_lock)
            {
                if (_json)
                {
                    Console.Error.WriteLine(JsonSerializer.Serialize(new CopyEventJson("copy", JsonNamingPolicy.CamelCase.ConvertName(value.Stage.ToString()), value.Digest, value.MediaType, value.Done, value.Total), CliJsonContext.Writer.CopyEventJson));
                    return;
                }

                if (quiet || mode == "none")
                {
                    return;
                }

                var kind = value.MediaType.Contains("config", StringComparison.Ordinal) ? "config" : value.Stage == CopyStage.ManifestWritten ? "manifest" : "blob";
                var shortDigest = value.Digest.Length > 19 ? value.Digest[..19] : value.Digest;
                switch (value.Stage)
                {
                    case CopyStage.BlobStarted:
                    case CopyStage.BlobProgress:
                        _active[value.Digest] = (value.Done, value.Total);
                        DrawBar();
                        break;
                    case CopyStage.BlobDone:
                        _active.Remove(value.Digest);
                        Line($"Copying {kind} {shortDigest} done ({Size(value.Total)})");
                        break;
                    case CopyStage.BlobSkipped:
                        Line($"Copying {kind} {shortDigest} skipped: already exists");
                        break;
                    case CopyStage.ManifestWritten:
                        Line($"Writing manifest {shortDigest} to image destination");
                        break;
                }
            }
        }

        public void Line(string text)
        {
            if (quiet || _json || mode == "none")
            {
                return;
            }

            lock (_lock)
            {
                ClearBar();
                Console.Error.WriteLine(text);
                DrawBar();
            }
        }

        public void Finish()
        {
            lock (_lock)
            {
                ClearBar();
            }
        }

        private void DrawBar()
        {
            if (!_bars || _active.Count == 0)
            {
                return;
            }

            long done = _active.Values.Sum(v => v.Done), total = _active.Values.Sum(v => v.Total);
            const int width = 30;
            int filled = total == 0 ? width : (int)(width * done / total);
            Console.Error.Write($"\rCopying {_active.Count} blob(s) [{new string('#', filled)}{new string('-', width - filled)}] {Size(done)} / {Size(total)}   ");
            _barShown = true;
        }

        private void ClearBar()
        {
            if (_barShown)
            {
                Console.Error.Write("\r" + new string(' ', 90) + "\r");
                _barShown = false;
            }
        }

        public static string Size(long bytes) => bytes switch
        {
            >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB"),
            >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MiB"),
            >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
            _ => $"{bytes} B",
        };
    }
}

internal sealed class InspectJson
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; set; }

    public string Digest { get; set; } = string.Empty;

    public List<string> RepoTags { get; set; } = [];

    public string? Created { get; set; }

    public string DockerVersion { get; set; } = string.Empty;

    public Dictionary<string, string>? Labels { get; set; }

    public string Architecture { get; set; } = string.Empty;

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; set; }

    public string Os { get; set; } = string.Empty;

    public List<string> Layers { get; set; } = [];

    public List<LayerJson> LayersData { get; set; } = [];

    public List<string>? Env { get; set; }
}

internal sealed record LayerJson(string MIMEType, string Digest, long Size, Dictionary<string, string>? Annotations);

internal sealed record TagsJson(string Repository, List<string> Tags);

internal sealed record CopyJson(string Digest, string MediaType, int BlobsCopied, int BlobsSkipped, long BytesCopied);

internal sealed record CopyEventJson(string Task, string Stage, string Digest, string MediaType, long Done, long Total);

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(InspectJson))]
[JsonSerializable(typeof(TagsJson))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class ImageJsonContext : JsonSerializerContext
{
    public static ImageJsonContext Writer { get; } = new(new JsonSerializerOptions
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
