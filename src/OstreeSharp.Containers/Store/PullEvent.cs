// The progress of an image pull as typed events (IProgress<PullEvent>), in the order a pull raises them.
using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Store;

/// <summary>A layer of an image being pulled.</summary>
/// <param name="Digest">The layer's blob digest.</param>
/// <param name="Size">Its compressed size, as the manifest gives it.</param>
/// <param name="Present">The store has it already; it will not be fetched.</param>
/// <param name="OstreeChunk">An ostree layer or chunk (tar of ostree objects), not a derived layer.</param>
public sealed record PullLayer(string Digest, long Size, bool Present, bool OstreeChunk);

/// <summary>Something a pull did. Reported through <see cref="IProgress{T}"/>; events of layers fetched in parallel may come from several threads.</summary>
public abstract record PullEvent;

/// <summary>The import starts: these are the image's layers and which of them the store has.</summary>
public sealed record PullPlanned(Digest ManifestDigest, IReadOnlyList<PullLayer> Layers) : PullEvent
{
    /// <summary>Compressed bytes of the layers to fetch.</summary>
    public long BytesToFetch => Layers.Where(l => !l.Present).Sum(l => l.Size);
}

/// <summary>
/// A layer is being fetched, once per layer: <paramref name="FromDelta"/> says it is first tried from a layer delta
/// (a delta that fails is followed by the whole layer, and <see cref="PullLayerDone"/> says which it was).
/// </summary>
public sealed record PullLayerStarted(PullLayer Layer, bool FromDelta) : PullEvent;

/// <summary>Bytes fetched so far by the whole import (cumulative; never less than the one before).</summary>
public sealed record PullBytes(long Fetched) : PullEvent;

/// <summary>A layer is imported and its ref written; <paramref name="FromDelta"/>: rebuilt from a layer delta.</summary>
public sealed record PullLayerDone(PullLayer Layer, bool FromDelta) : PullEvent;

/// <summary>A note for people (the manifest difference, a delta not used, paths an ostree tree cannot hold, ...).</summary>
public sealed record PullMessage(string Text) : PullEvent;

/// <summary>How an <see cref="ImageStore"/> fetches images.</summary>
public sealed record ImageStoreOptions
{
    /// <summary>Registry access: credentials, TLS, the signature policy, mirrors. Null: the system's defaults.</summary>
    public Registry.RegistryOptions? Registry { get; init; }

    /// <summary>Rebuild changed layers from layer deltas when the registry has them (the default; <c>--no-deltas</c> turns it off).</summary>
    public bool UseDeltas { get; init; } = true;
}

// The events of one import: serialized (layers are fetched in parallel), with the running byte total. The byte count
// reported never goes down: a layer delta that fails part way leaves its bytes reported, and the whole layer fetched
// after it counts from there.
internal sealed class PullEvents(IProgress<PullEvent>? progress)
{
    private readonly Lock _lock = new();
    private long _total, _reported;

    public long Total
    {
        get
        {
            lock (_lock)
            {
                return _total;
            }
        }
    }

    // For callers that take a log and a byte count: messages to the one, byte totals to the other.
    public static IProgress<PullEvent>? From(Action<string>? log, IProgress<long>? bytes)
        => log is null && bytes is null ? null : new Forward(log, bytes);

    public void Report(PullEvent e)
    {
        if (progress is null)
        {
            return;
        }

        lock (_lock)
        {
            progress.Report(e);
        }
    }

    public void Message(string text) => Report(new PullMessage(text));

    // A layer of this many bytes is fetched.
    public void Fetched(long bytes)
    {
        lock (_lock)
        {
            _total += bytes;
            ReportBytesLocked(_total);
        }
    }

    // Byte progress inside one layer (fetched alone), as an offset from the total so far.
    public IProgress<long>? Within() => progress is null ? null : new Inner(this, Total);

    private void ReportBytesLocked(long value)
    {
        if (value > _reported)
        {
            _reported = value;
            progress?.Report(new PullBytes(value));
        }
    }

    private sealed class Inner(PullEvents owner, long start) : IProgress<long>
    {
        public void Report(long value)
        {
            lock (owner._lock)
            {
                owner.ReportBytesLocked(start + value);
            }
        }
    }

    private sealed class Forward(Action<string>? log, IProgress<long>? bytes) : IProgress<PullEvent>
    {
        public void Report(PullEvent value)
        {
            switch (value)
            {
                case PullMessage m:
                    log?.Invoke(m.Text);
                    break;
                case PullBytes b:
                    bytes?.Report(b.Fetched);
                    break;
            }
        }
    }
}
