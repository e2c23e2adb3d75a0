using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

internal static partial class ImageCommands
{
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

        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var srcRef = ImageReference.Parse(pr.GetValue(src)!);
            var dstRef = ImageReference.Parse(pr.GetValue(dst)!);
            var srcOptions = registry.Build(pr, srcCreds, srcTls, srcCert);
            var dstOptions = registry.Build(pr, dstCreds, dstTls, dstCert);
            if (pr.GetValue(chunk) is { } cs)
            {
                dstOptions = dstOptions with { ChunkSize = RegistryCliOptions.ParseSize(cs, "--chunk-size") };
            }

            var options = new CopyOptions { All = pr.GetValue(all) };
            if (pr.GetValue(arch) is { } a)
            {
                options = options with { Architecture = a };
            }

            if (pr.GetValue(os) is { } o)
            {
                options = options with { Os = o };
            }

            options = options with { Variant = pr.GetValue(variant) };
            var reporter = new CopyReporter(pr.GetValue(CliSupport.Progress) ?? "auto", pr.GetValue(quiet) || pr.GetValue(json));
            options = options with { Progress = reporter };
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
                    result = await ImageCopier.CopyAsync(source, destination, options, cancellationToken: CliSupport.Stopping);
                    if (sign is not null)
                    {
                        await sign(destination, result.ManifestDigest);
                    }
                }
                finally
                {
                    await destination.DisposeAsync();
                }
            }
            finally
            {
                await source.DisposeAsync();
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
}
