using System.Text;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Internal;

namespace OstreeSharp.Containers.Store;

/// <summary>The layer difference between two manifests (ostree-container-format.md 8.2).</summary>
public sealed record ManifestDiff(IReadOnlyList<Descriptor> Removed, IReadOnlyList<Descriptor> Added, int Total, long TotalSize)
{
    /// <summary>Bytes in removed layers.</summary>
    public long RemovedSize => Removed.Sum(d => d.Size);

    /// <summary>Bytes in added layers.</summary>
    public long AddedSize => Added.Sum(d => d.Size);

    /// <summary>Compares by layer digest.</summary>
    public static ManifestDiff Compute(ImageManifest oldManifest, ImageManifest newManifest)
    {
        ArgumentNullException.ThrowIfNull(oldManifest);
        ArgumentNullException.ThrowIfNull(newManifest);
        static List<Descriptor> Distinct(IEnumerable<Descriptor> ds) => [.. ds.GroupBy(d => d.Digest, StringComparer.Ordinal).Select(g => g.First()).OrderBy(d => d.Digest, StringComparer.Ordinal)];
        var oldSet = oldManifest.Layers.Select(l => l.Digest).ToHashSet(StringComparer.Ordinal);
        var newSet = newManifest.Layers.Select(l => l.Digest).ToHashSet(StringComparer.Ordinal);
        var distinctNew = Distinct(newManifest.Layers);
        return new ManifestDiff(
            Distinct(oldManifest.Layers.Where(l => !newSet.Contains(l.Digest))),
            Distinct(newManifest.Layers.Where(l => !oldSet.Contains(l.Digest))),
            distinctNew.Count,
            distinctNew.Sum(d => d.Size));
    }

    /// <summary>The three lines ostree-ext prints.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"Total new layers: {Total,-4}  Size: {SizeFormat.Format(TotalSize)}\n");
        sb.Append($"Removed layers:   {Removed.Count,-4}  Size: {SizeFormat.Format(RemovedSize)}\n");
        sb.Append($"Added layers:     {Added.Count,-4}  Size: {SizeFormat.Format(AddedSize)}\n");
        return sb.ToString();
    }
}
