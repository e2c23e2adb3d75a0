// The first step of a pull: what the registry has for an image, against what the store has.
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Containers.Store;

/// <summary>
/// An image whose manifest and config are fetched, not its layers (<see cref="ImageStore.PrepareAsync"/>). Either the
/// store has it already (<see cref="AlreadyPresent"/>), or <see cref="ImageStore.ImportAsync"/> fetches
/// <see cref="Layers"/> that are not <see cref="PullLayer.Present"/>. Holds the connection to the image's source
/// until disposed.
/// </summary>
public sealed class PreparedImage : IAsyncDisposable
{
    private IImageSource? _source;

    internal PreparedImage(ImageStore store, OstreeImageReference image, IImageSource source, OstreeImageLayout layout, StoredImage? previous, IReadOnlyList<PullLayer> layers)
    {
        Store = store;
        Image = image;
        _source = source;
        Layout = layout;
        Previous = previous;
        Layers = layers;
    }

    internal ImageStore Store { get; }

    /// <summary>The image asked for.</summary>
    public OstreeImageReference Image { get; }

    /// <summary>Its manifest (as fetched, with its digest), config and the ostree, chunk and derived layers.</summary>
    public OstreeImageLayout Layout { get; }

    /// <summary>The manifest's digest.</summary>
    public Digest ManifestDigest => Layout.Manifest.Digest;

    /// <summary>What the store held under the same reference before, or null.</summary>
    public StoredImage? Previous { get; }

    /// <summary>The store has this manifest under this reference: there is nothing to import.</summary>
    public bool AlreadyPresent => Previous is not null && Previous.ManifestDigest == ManifestDigest;

    /// <summary>The layers, in import order (ostree chunks, the ostree layer, derived layers), with those the store has.</summary>
    public IReadOnlyList<PullLayer> Layers { get; }

    /// <summary>Compressed bytes of the layers the import will fetch (before any layer delta).</summary>
    public long BytesToFetch => Layers.Where(l => !l.Present).Sum(l => l.Size);

    /// <summary>The layers removed and added since <see cref="Previous"/>; null when there is no previous image.</summary>
    public ManifestDiff? Diff => Previous is null ? null : ManifestDiff.Compute(Previous.Manifest.AsManifest(), Layout.Parsed);

    internal IImageSource Source => _source ?? throw new ObjectDisposedException(nameof(PreparedImage));

    internal bool Consumed { get; set; }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _source, null) is { } s)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }
    }
}
