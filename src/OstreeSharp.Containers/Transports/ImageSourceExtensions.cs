using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Containers.Transports;

/// <summary>Helpers over <see cref="IImageSource"/>.</summary>
public static class ImageSourceExtensions
{
    /// <summary>Reads a whole image config (through digest verification), refusing one over <paramref name="limit"/> bytes.</summary>
    /// <exception cref="ManifestException">The config is too large.</exception>
    public static async Task<byte[]> ReadConfigAsync(this IImageSource source, Descriptor config, long limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(config);
        if (config.Size > limit)
        {
            throw new ManifestException($"Config {config.Digest} of {source.Reference} is {config.Size} bytes: too large");
        }

        await using var s = await source.GetBlobAsync(config, 0, cancellationToken).ConfigureAwait(false);
        using var ms = new MemoryStream((int)Math.Max(0, config.Size));
        await s.CopyToAsync(ms, cancellationToken).ConfigureAwait(false);
        return ms.ToArray();
    }
}
