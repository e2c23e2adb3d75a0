using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Containers.Transports;

/// <summary>Where images are read from: a layout, an archive, a <c>dir:</c> or a registry.</summary>
public interface IImageSource : IAsyncDisposable
{
    /// <summary>The reference this source was opened for.</summary>
    ImageReference Reference { get; }

    /// <summary>
    /// The manifest the reference names (<paramref name="instance"/> null), or one manifest of an index by its
    /// digest. Its bytes are as stored; when a digest is known the bytes have been checked against it.
    /// </summary>
    Task<ManifestBlob> GetManifestAsync(Digest? instance, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a blob. From offset 0 the stream checks size and digest as it is read and fails at the end
    /// when they differ; from a later offset (resuming) it is the raw rest of the blob.
    /// </summary>
    Task<Stream> GetBlobAsync(Descriptor blob, long offset, CancellationToken cancellationToken);

    /// <summary>Tags of the repository (registries, and names in a layout's index).</summary>
    Task<IReadOnlyList<string>> ListTagsAsync(CancellationToken cancellationToken);
}

/// <summary>Opens a blob's bytes from an offset; called again for each retry, so a body is never sent twice.</summary>
public delegate Task<Stream> BlobOpener(long offset, CancellationToken cancellationToken);

/// <summary>Where images are written.</summary>
public interface IImageDestination : IAsyncDisposable
{
    /// <summary>The reference this destination was opened for.</summary>
    ImageReference Reference { get; }

    /// <summary>Whether Docker schema 2 media types may be stored as such (OCI layouts need OCI types).</summary>
    bool AcceptsDockerTypes { get; }

    /// <summary>
    /// True when the destination already has the blob, or got it without an upload (a registry's
    /// cross-repository mount from <paramref name="source"/>).
    /// </summary>
    Task<bool> TryReuseBlobAsync(Descriptor blob, ImageReference? source, CancellationToken cancellationToken);

    /// <summary>Stores a blob; the destination never keeps bytes whose size or digest differ from <paramref name="blob"/>.</summary>
    Task PutBlobAsync(Descriptor blob, BlobOpener open, IProgress<long>? progress, CancellationToken cancellationToken);

    /// <summary>Stores a manifest or index; <paramref name="topLevel"/> is the one the reference (tag) names.</summary>
    Task PutManifestAsync(ManifestBlob manifest, bool topLevel, CancellationToken cancellationToken);

    /// <summary>Makes the image visible (index.json written, archive renamed into place).</summary>
    Task CommitAsync(CancellationToken cancellationToken);
}
