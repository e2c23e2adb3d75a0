// The free space a repository keeps on its filesystem (core.min-free-space-size, core.min-free-space-percent), as
// libostree reads and enforces it: a transaction may fill the filesystem's free blocks down to the reserve, and a
// content object that would go past it is refused before it is kept. Metadata objects are never refused (they are
// small, and housekeeping needs them).
using System.Globalization;
using OstreeSharp.Internal;

namespace OstreeSharp.Repository;

/// <summary>The reserve of free space a repository's config asks for, checked when each transaction begins.</summary>
internal sealed class FreeSpaceReserve
{
    private const string SizeKey = "min-free-space-size";
    private const string PercentKey = "min-free-space-percent";

    private FreeSpaceReserve(ulong megabytes, uint percent)
    {
        Megabytes = megabytes;
        Percent = percent;
    }

    /// <summary><c>min-free-space-size</c> in MiB (GB and TB converted), 0 when unset; it wins over the percentage when not 0.</summary>
    public ulong Megabytes { get; }

    /// <summary>
    /// <c>min-free-space-percent</c>: 3 by default, 0 when only <c>min-free-space-size</c> is set, as libostree
    /// decides.
    /// </summary>
    public uint Percent { get; }

    /// <summary>False when neither setting asks for a reserve (both 0).</summary>
    public bool Enabled => Megabytes > 0 || Percent > 0;

    /// <summary>Reads the two keys of <c>[core]</c>; an invalid value is an error when the repository is opened, as with libostree.</summary>
    /// <exception cref="OstreeFormatException">A value libostree refuses, in its words.</exception>
    public static FreeSpaceReserve FromConfig(KeyFile config)
    {
        ulong megabytes = 0;
        var size = config.Get("core", SizeKey);
        if (size is not null)
        {
            megabytes = ParseSize(size);
        }

        var percentText = config.Get("core", PercentKey);
        uint percent;
        if (percentText is null)
        {
            percent = size is null ? 3u : 0u;
        }
        else if (percentText.Length == 0)
        {
            percent = 0;
        }
        else if (!percentText.All(char.IsAsciiDigit))
        {
            throw Invalid($"Invalid {PercentKey} '{percentText}': must be a number");
        }
        else if (!uint.TryParse(percentText, NumberStyles.None, CultureInfo.InvariantCulture, out percent) || percent > 99)
        {
            throw Invalid($"Invalid {PercentKey} '{percentText}'");
        }

        return new FreeSpaceReserve(megabytes, percent);
    }

    // NNNMB, NNNGB or NNNTB, a number saturated at 2^64-1 as g_ascii_strtoull does (too large is refused later).
    private static ulong ParseSize(string text)
    {
        ulong n = GlibNumbers.LeadingDigits(text, out int digits);
        int shift = text[digits..] switch
        {
            "MB" => 0,
            "GB" => 10,
            "TB" => 20,
            _ => -1,
        };
        if (digits == 0 || shift < 0)
        {
            throw Invalid($"Invalid {SizeKey} '{text}': It should be of the format '123MB', '123GB' or '123TB'");
        }

        return n > ulong.MaxValue >> shift ? ulong.MaxValue : n << shift;
    }

    private static OstreeFormatException Invalid(string message) => new(OstreeErrorCode.RepositoryConfigInvalid, message);

    /// <summary>
    /// The blocks a transaction begun now may fill before it reaches the reserve: the filesystem's free blocks (those
    /// free to an unprivileged user, unless we run as root) less the reserve; 0 when already below it.
    /// </summary>
    /// <exception cref="OstreeException">The reserve is larger than 2^64 bytes.</exception>
    public (long Blocks, long BlockSize) Budget(string repoPath)
    {
        var fs = Native.StatVfs(repoPath);
        ulong reserved;
        if (Megabytes > 0)
        {
            if (Megabytes > ulong.MaxValue >> 20)
            {
                throw new OstreeException(OstreeErrorCode.RepositoryConfigInvalid,
                    $"Error calculating min-free-space bytes: min-free-space value is greater than the maximum allowed value of {ulong.MaxValue >> 20} bytes");
            }

            reserved = Megabytes << 20;
        }
        else
        {
            reserved = (ulong)((double)(fs.FragmentSize * fs.Blocks) * (Percent / 100.0));
        }

        ulong reservedBlocks = reserved / fs.BlockSize;
        ulong free = Native.EffectiveUid == 0 ? fs.FreeBlocks : fs.AvailableBlocks;
        ulong budget = free > reservedBlocks ? free - reservedBlocks : 0;
        return ((long)Math.Min(budget, long.MaxValue), (long)fs.BlockSize);
    }

    /// <summary>
    /// The error of a content object that would go past the reserve, in libostree's words (update agents look for
    /// "would be exceeded, at least"); <paramref name="bytes"/> is the space asked for, in whole blocks.
    /// </summary>
    public OstreeException Exceeded(long bytes)
    {
        var what = Megabytes > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{SizeKey} {Megabytes}MB")
            : string.Create(CultureInfo.InvariantCulture, $"{PercentKey} '{Percent}%'");
        return new OstreeException(OstreeErrorCode.InsufficientSpace,
            $"Writing content object: {what} would be exceeded, at least {SizeFormat.FormatAsGlibPrints(bytes)} requested");
    }
}
