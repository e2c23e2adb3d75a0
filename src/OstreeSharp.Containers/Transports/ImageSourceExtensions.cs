using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Transports;

/// <summary>Helpers over <see cref="IImageSource"/>.</summary>
public static class ImageSourceExtensions
{
    /// <summary>Reads a whole image config (through digest verification), refusing one over <paramref name="limit"/> bytes.</summary>
    /// <exception cref="ManifestException">The config is too large.</exception>
    public static Task<byte[]> ReadConfigAsync(this IImageSource source, Descriptor config, long limit, CancellationToken cancellationToken) =>
        source.ReadBlobAsync(config, limit, "Config", cancellationToken);

    /// <summary>
    /// Reads a whole small blob (through digest verification), refusing one over <paramref name="limit"/> bytes; the
    /// error names it as <paramref name="kind"/>.
    /// </summary>
    /// <exception cref="ManifestException">The blob is too large.</exception>
    public static async Task<byte[]> ReadBlobAsync(this IImageSource source, Descriptor blob, long limit, string kind, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(blob);
        if (blob.Size > limit)
        {
            throw new ManifestException($"{kind} {blob.Digest} of {source.Reference} is {blob.Size} bytes: too large");
        }

        await using var s = await source.GetBlobAsync(blob, 0, cancellationToken).ConfigureAwait(false);
        using var ms = new MemoryStream((int)Math.Max(0, blob.Size));
        await s.CopyToAsync(ms, cancellationToken).ConfigureAwait(false);
        return ms.ToArray();
    }
}
