using System.Runtime.InteropServices;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Containers.Copy;

/// <summary>Chooses the manifest for a platform from an index, as container tools do.</summary>
public static class PlatformSelector
{
    /// <summary>The running machine's architecture in Go/OCI naming.</summary>
    public static string HostArchitecture => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.Arm or Architecture.Armv6 => "arm",
        Architecture.X86 => "386",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        Architecture.LoongArch64 => "loong64",
        var a => a.ToString().ToLowerInvariant(),
    };

    /// <summary>Picks the manifest for <paramref name="os"/>/<paramref name="architecture"/>[/<paramref name="variant"/>].</summary>
    /// <exception cref="ManifestException">No entry matches; the message names <paramref name="what"/> and what the index offers.</exception>
    public static Descriptor Choose(ImageIndex index, string os, string architecture, string? variant, string what)
    {
        ArgumentNullException.ThrowIfNull(index);
        var candidates = index.Manifests.Where(d => d.Platform is { } p && p.Os == os && p.Architecture == architecture).ToList();
        if (!string.IsNullOrEmpty(variant))
        {
            candidates = [.. candidates.Where(d => d.Platform!.Variant == variant || (string.IsNullOrEmpty(d.Platform.Variant) && architecture == "arm64" && variant == "v8"))];
        }
        else if (architecture == "arm64")
        {
            candidates = [.. candidates.OrderBy(d => d.Platform!.Variant is null or "" or "v8" ? 0 : 1)];
        }

        if (candidates.Count == 0)
        {
            var offered = index.Manifests.Select(d => d.Platform?.ToString() ?? "(no platform)");
            throw new ManifestException($"{what}: no image in the index for {os}/{architecture}{(string.IsNullOrEmpty(variant) ? string.Empty : "/" + variant)}; it has {string.Join(", ", offered)}");
        }

        return candidates[0];
    }

    /// <summary>
    /// The image manifest for a platform: <paramref name="top"/> itself when it is a manifest, else the entry of the
    /// index that <see cref="Choose"/> picks, fetched (and digest-checked) from <paramref name="source"/>.
    /// </summary>
    public static async Task<ManifestBlob> ResolveAsync(IImageSource source, ManifestBlob top, string os, string architecture, string? variant, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(top);
        if (!top.IsIndex)
        {
            return top;
        }

        var chosen = Choose(top.AsIndex(), os, architecture, variant, source.Reference.ToString());
        return await source.GetManifestAsync(chosen.GetDigest(), cancellationToken).ConfigureAwait(false);
    }
}
