// bootc's --progress-fd: JSON Lines events (API version 0.1.0) on a pipe the caller opened: Start, then
// ProgressBytes while pulling (by layer), ProgressSteps while importing and staging.
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Cli;

internal sealed class BootcProgress : IDisposable
{
    public const string ApiVersion = "0.1.0";

    private static readonly (string Subtask, string Description, string Id)[] StagingSteps =
    [
        ("merging", "Merging Image", "fetching"), ("deploying", "Deploying Image", "deploying"),
        ("bound_images", "Pulling Bound Images", "bound_images"), ("cleanup", "Removing old images", "cleanup"),
    ];

    private readonly Stream _out;
    private readonly Lock _lock = new();
    private string _digest = string.Empty;
    private List<PullLayer> _toFetch = [];
    private readonly List<JsonObject> _done = [];
    private long _cachedBytes, _totalBytes, _doneBytes, _fetched, _lastTicks;
    private int _cachedLayers;

    private BootcProgress(Stream output)
    {
        _out = output;
        Send(new JsonObject { ["type"] = "Start", ["version"] = ApiVersion });
    }

    /// <summary>The writer for <c>--progress-fd N</c>, or null without it.</summary>
    /// <exception cref="OstreeException">N is not an open file descriptor.</exception>
    public static BootcProgress? Open(int? fd)
    {
        if (fd is not { } n)
        {
            return null;
        }

        if (n < 0 || !File.Exists($"/proc/self/fd/{n}"))
        {
            throw new OstreeException(OstreeErrorCode.InvalidArgument, $"--progress-fd {n}: not an open file descriptor");
        }

        return new BootcProgress(new FileStream(new SafeFileHandle(n, ownsHandle: true), FileAccess.Write, bufferSize: 0));
    }

    public void Begin(OstreeImageReference image) => _digest = image.Image.ToString();

    /// <summary>A pull's events: layers and bytes to <paramref name="progress"/>, messages to <paramref name="log"/>.</summary>
    public static IProgress<PullEvent>? Events(BootcProgress? progress, Action<string>? log)
        => progress is null && log is null ? null : new EventSink(progress, log);

    private sealed class EventSink(BootcProgress? progress, Action<string>? log) : IProgress<PullEvent>
    {
        public void Report(PullEvent value)
        {
            switch (value)
            {
                case PullPlanned p:
                    progress?.Planned(p.ManifestDigest.ToString(), p.Layers);
                    break;
                case PullLayerDone d:
                    progress?.LayerDone(d.Layer.Digest);
                    break;
                case PullBytes b:
                    progress?.Fetched(b.Fetched);
                    break;
                case PullMessage m:
                    log?.Invoke(m.Text);
                    break;
            }
        }
    }

    private void Planned(string manifestDigest, IReadOnlyList<PullLayer> layers)
    {
        lock (_lock)
        {
            _digest = manifestDigest;
            _toFetch = [.. layers.Where(l => !l.Present)];
            _cachedLayers = layers.Count - _toFetch.Count;
            _cachedBytes = layers.Where(l => l.Present).Sum(l => l.Size);
            _totalBytes = _toFetch.Sum(l => l.Size);
            SendBytes();
        }
    }

    private void LayerDone(string digest)
    {
        lock (_lock)
        {
            if (_toFetch.FirstOrDefault(l => l.Digest == digest) is not { } layer)
            {
                return;
            }

            var kind = layer.OstreeChunk ? "ostree chunk" : "layer";
            var hex = digest[(digest.IndexOf(':', StringComparison.Ordinal) + 1)..];
            var shortDigest = hex[..Math.Min(21, hex.Length)];
            _done.Add(new JsonObject
            {
                ["subtask"] = kind, ["description"] = $"{kind}: {shortDigest}", ["id"] = shortDigest,
                ["bytesCached"] = 0, ["bytes"] = layer.Size, ["bytesTotal"] = layer.Size,
            });
            _doneBytes += layer.Size;
            SendBytes();
        }
    }

    /// <summary>Bytes fetched so far (of layers done: the importer reports at each layer's end).</summary>
    private void Fetched(long value)
    {
        lock (_lock)
        {
            _fetched = value;
            long now = Environment.TickCount64;
            if (now - _lastTicks >= 200)
            {
                _lastTicks = now;
                SendBytes();
            }
        }
    }

    public void Pulled(PullReport report)
    {
        if (report.AlreadyPresent)
        {
            return;
        }

        var digest = report.Image.ManifestDigest.ToString();
        foreach (var completed in new[] { false, true })
        {
            Send(new JsonObject
            {
                ["type"] = "ProgressSteps", ["task"] = "importing", ["description"] = "Importing Image", ["id"] = digest,
                ["stepsCached"] = 0, ["steps"] = completed ? 1 : 0, ["stepsTotal"] = 1,
                ["subtasks"] = new JsonArray(new JsonObject { ["subtask"] = "importing", ["description"] = "Importing Image", ["id"] = "importing", ["completed"] = completed }),
            });
        }
    }

    /// <summary>Staging, phase 0 to 4: merging, deploying, bound images, cleanup, done (bootc's steps 0, 1, 1, 2, 3 of 3).</summary>
    public void Staging(string digest, int phase)
    {
        var subtasks = new JsonArray();
        for (int i = 0; i < StagingSteps.Length && i <= phase; i++)
        {
            var (subtask, description, id) = StagingSteps[i];
            subtasks.Add((JsonNode)new JsonObject { ["subtask"] = subtask, ["description"] = description, ["id"] = id, ["completed"] = i < phase });
        }

        Send(new JsonObject
        {
            ["type"] = "ProgressSteps", ["task"] = "staging", ["description"] = "Deploying Image", ["id"] = digest,
            ["stepsCached"] = 0, ["steps"] = phase switch { 0 => 0, 1 or 2 => 1, 3 => 2, _ => 3 }, ["stepsTotal"] = 3,
            ["subtasks"] = subtasks,
        });
    }

    private void SendBytes() => Send(new JsonObject
    {
        ["type"] = "ProgressBytes", ["task"] = "pulling", ["description"] = $"Pulling Image: {_digest}", ["id"] = _digest,
        ["bytesCached"] = _cachedBytes, ["bytes"] = Math.Min(_totalBytes, Math.Max(_doneBytes, _fetched)), ["bytesTotal"] = _totalBytes,
        ["stepsCached"] = _cachedLayers, ["steps"] = _done.Count, ["stepsTotal"] = _toFetch.Count,
        ["subtasks"] = new JsonArray([.. _done.Select(d => (JsonNode)d.DeepClone())]),
    });

    private void Send(JsonObject e)
    {
        var line = Encoding.UTF8.GetBytes(BootcHost.ToCanonicalJson(e) + "\n");
        try
        {
            _out.Write(line);
        }
        catch (IOException)
        {
            // A reader that went away does not stop the upgrade (bootc drops progress it cannot send).
        }
    }

    public void Dispose() => _out.Dispose();
}
