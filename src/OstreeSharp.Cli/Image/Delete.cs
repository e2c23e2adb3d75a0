using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Copy;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Cli;

internal static partial class ImageCommands
{
    private static Command Delete()
    {
        var cmd = new Command("delete", "Delete an image's manifest from a registry (docker://HOST/REPO:TAG or @DIGEST)");
        var image = new Argument<string>("IMAGE") { Description = "docker://HOST/REPO:TAG or docker://HOST/REPO@DIGEST" };
        var registry = new RegistryCliOptions();
        cmd.Arguments.Add(image);
        registry.AddTo(cmd);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var reference = ImageReference.Parse(pr.GetValue(image)!);
            if (reference.Transport != Transport.Registry)
            {
                throw new ImageReferenceException($"{reference}: image delete works on registries (docker://) only");
            }

            var docker = reference.Docker;
            using var client = new Containers.Registry.RegistryClient(docker, registry.Build(pr));
            var digest = await client.DeleteManifestAsync(docker.Path, docker.ManifestReference, reference.ToString(), CliSupport.Stopping);
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
