// Packing components into chunk layers (ostree-container-format.md 3.4), reproducing ostree-ext's
// layout decisions, including its stable packing against a previous build's manifest.
namespace OstreeSharp.Containers.Store;

/// <summary>A unit of content (an RPM, a content-metadata key) with its size and how often it changes.</summary>
public sealed record PackComponent(string Identifier, string Name, string SourceId, uint ChangeTimeOffset, uint ChangeFrequency, ulong Size)
{
    /// <summary>"Changes with every build".</summary>
    public const uint Always = uint.MaxValue;
}

/// <summary>The bin layout of chunked images.</summary>
internal static class ChunkPacker
{
    /// <summary>
    /// Packs <paramref name="components"/> into at most <paramref name="bins"/> bins; with
    /// <paramref name="priorBins"/> (the <c>ostree.components</c> of a previous build's chunk layers) the
    /// previous layout is kept.
    /// </summary>
    /// <exception cref="ContainerException">Fewer than 4 bins.</exception>
    public static List<List<PackComponent>> Pack(IReadOnlyList<PackComponent> components, int bins, IReadOnlyList<string>? priorBins = null)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (bins < 4)
        {
            throw new ContainerException(OstreeErrorCode.InvalidArgument, $"Chunked images need at least 4 layers, got {bins}");
        }

        if (priorBins is not null)
        {
            return PackLikePrior(components, priorBins);
        }

        if (components.Count < bins)
        {
            var simple = components.Select(c => new List<PackComponent> { c }).ToList();
            if (components.Count > 0)
            {
                simple.Add([]);
            }

            return simple;
        }

        var frequent = components.Where(c => c.ChangeFrequency == PackComponent.Always).ToList();
        var rest = components.Where(c => c.ChangeFrequency != PackComponent.Always).OrderByDescending(c => c.Size).ToList();
        var result = new List<List<PackComponent>>();
        if (rest.Count > 0)
        {
            const int lsBins = 1, newBins = 1;
            int mfBins = Math.Min(frequent.Count, 1);
            int other = lsBins + newBins + mfBins;
            int hsBins = (int)Math.Floor(0.6 * (bins - other));
            int msBins = bins - hsBins - other;
            var partitions = Partition(rest, hsBins);
            int lsCount = partitions.TryGetValue("2ls", out var ls) ? ls.Count : 0;
            int perBin = Math.Max(1, (rest.Count - hsBins - lsCount) / Math.Max(1, msBins));
            foreach (var (key, items) in partitions.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (key == "1hs")
                {
                    result.AddRange(items.Select(c => new List<PackComponent> { c }));
                }
                else if (key == "2ls")
                {
                    result.Add([.. items]);
                }
                else
                {
                    for (int i = 0; i < items.Count; i += perBin)
                    {
                        result.Add([.. items.Skip(i).Take(perBin)]);
                    }
                }
            }

            int limit = bins - newBins - mfBins;
            while (result.Count > limit)
            {
                int count = result.Count;
                var indices = new List<int>();
                for (int i = lsBins + hsBins; i <= count - 2; i += 2)
                {
                    indices.Add(i);
                }

                if (indices.Count == 0)
                {
                    break;
                }

                foreach (var i in Enumerable.Reverse(indices))
                {
                    if (result.Count <= limit)
                    {
                        break;
                    }

                    var merged = result[i - 1].Concat(result[i]).ToList();
                    result.RemoveAt(i);
                    result.RemoveAt(i - 1);
                    result.Insert(Math.Min(i, result.Count), merged);
                }
            }
        }

        if (frequent.Count > 0)
        {
            result.Add(frequent);
        }

        result.Add([]);
        return result;
    }

    private static SortedDictionary<string, List<PackComponent>> Partition(List<PackComponent> sorted, int hsBins)
    {
        var parts = new SortedDictionary<string, List<PackComponent>>(StringComparer.Ordinal);
        void Add(string key, PackComponent c)
        {
            if (!parts.TryGetValue(key, out var l))
            {
                parts[key] = l = [];
            }

            l.Add(c);
        }

        var sizes = sorted.Select(c => (double)c.Size).ToList();
        double median = Median(sizes);
        double mad = Median(sizes.Select(s => Math.Abs(s - median)).ToList());
        double hi = median + (2 * mad);
        double lo = 0.5 * Math.Abs(median - (2 * mad));
        var high = new List<PackComponent>();
        var medium = new List<PackComponent>();
        foreach (var c in sorted)
        {
            if (c.Size >= hi)
            {
                high.Add(c);
            }
            else if (c.Size <= lo)
            {
                Add("2ls", c);
            }
            else
            {
                medium.Add(c);
            }
        }

        foreach (var c in high.Take(hsBins))
        {
            Add("1hs", c);
        }

        // Built by hand: Skip(n).Concat(...).ToList() threw ArgumentOutOfRangeException here (.NET 10) with 64 bins.
        var remaining = new List<PackComponent>(high.Count + medium.Count);
        for (int i = Math.Max(0, hsBins); i < high.Count; i++)
        {
            remaining.Add(high[i]);
        }

        remaining.AddRange(medium);
        remaining = [.. remaining.OrderBy(c => c.ChangeFrequency)];
        if (remaining.Count > 0)
        {
            var (sizeMean, sizeSd) = MeanSd(remaining.Select(c => (double)c.Size));
            var (freqMean, freqSd) = MeanSd(remaining.Select(c => (double)c.ChangeFrequency));
            foreach (var c in remaining)
            {
                var sizeClass = c.Size >= sizeMean + (2 * sizeSd) ? "hs" : c.Size <= 0.5 * Math.Abs(sizeMean - (2 * sizeSd)) ? "ls" : "ms";
                var freqClass = c.ChangeFrequency >= freqMean + (2 * freqSd) ? "3hf" : c.ChangeFrequency <= 0.5 * Math.Abs(freqMean - (2 * freqSd)) ? "5lf" : "4mf";
                Add(freqClass + "_" + sizeClass, c);
            }
        }

        return parts;
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return 0;
        }

        var s = values.Order().ToList();
        int n = s.Count;
        return n % 2 == 1 ? s[n / 2] : (s[(n / 2) - 1] + s[n / 2]) / 2;
    }

    private static (double Mean, double Sd) MeanSd(IEnumerable<double> values)
    {
        var v = values.ToList();
        double mean = v.Average();
        return (mean, Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / v.Count));
    }

    private static List<List<PackComponent>> PackLikePrior(IReadOnlyList<PackComponent> components, IReadOnlyList<string> priorBins)
    {
        var byName = new Dictionary<string, PackComponent>(StringComparer.Ordinal);
        foreach (var c in components)
        {
            byName.TryAdd(c.Name, c);
        }

        var bins = priorBins.Select(b => b.Split(',').Where(n => n.Length > 0).ToList()).ToList();
        var before = bins.SelectMany(b => b).ToHashSet(StringComparer.Ordinal);
        var added = components.Select(c => c.Name).Where(n => !before.Contains(n)).Distinct(StringComparer.Ordinal).ToList();
        var result = bins.Select(b => b.Where(byName.ContainsKey).Select(n => byName[n]).ToList()).ToList();
        if (result.Count == 0)
        {
            result.Add([]);
        }

        result[^1].AddRange(added.Select(n => byName[n]));
        return result;
    }

    /// <summary>The chunk name ostree-ext gives a bin (the history <c>created_by</c> of its layer).</summary>
    public static string BinName(IReadOnlyList<PackComponent> bin)
    {
        ArgumentNullException.ThrowIfNull(bin);
        return bin.Count switch
        {
            0 => "Reserved for new packages",
            1 => bin[0].Identifier,
            <= 5 => string.Join(" and ", bin.Select(c => c.Identifier)),
            _ => $"{bin.Count} components",
        };
    }

    /// <summary>The <c>ostree.components</c> annotation of a bin: its component names, sorted, joined with ','.</summary>
    public static string Annotation(IReadOnlyList<PackComponent> bin) => string.Join(',', (bin ?? throw new ArgumentNullException(nameof(bin))).Select(c => c.Name).Order(StringComparer.Ordinal));
}
