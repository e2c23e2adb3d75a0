namespace OstreeSharp.Composefs;

/// <summary>Options of <see cref="ComposefsWriter"/>, mirroring libcomposefs's lcfs_write_options_s.</summary>
internal sealed record ComposefsWriteOptions
{
    /// <summary>
    /// The defaults of mkcomposefs 1.0.8, which are also what ostree 2026.4 passes for
    /// <c>.ostree.cfs</c>: format version 0, raised to 1 only when the tree holds a whiteout.
    /// </summary>
    public static ComposefsWriteOptions Default { get; } = new();

    /// <summary>Same as <see cref="Default"/> but also computing the image's fs-verity digest, as ostree does.</summary>
    public static ComposefsWriteOptions Ostree { get; } = new() { ComputeFsVerityDigest = true };

    /// <summary>The lowest image format version to write (mkcomposefs --min-version; 0 or 1).</summary>
    public uint Version { get; init; }

    /// <summary>The highest format version the writer may move up to when the tree needs it (mkcomposefs --max-version; 0 or 1).</summary>
    public uint MaxVersion { get; init; } = 1;

    /// <summary>Compute the fs-verity digest of the image while writing it (mkcomposefs --print-digest).</summary>
    public bool ComputeFsVerityDigest { get; init; }
}

/// <summary>What <see cref="ComposefsWriter"/> wrote.</summary>
/// <param name="Version">The format version actually used (stored in the composefs header).</param>
/// <param name="Length">Length of the image in bytes.</param>
/// <param name="InodeCount">Number of inodes, including the 00..ff whiteouts added to the root.</param>
/// <param name="FsVerityDigest">The image's fs-verity digest, when requested.</param>
internal sealed record ComposefsWriteResult(uint Version, long Length, long InodeCount, byte[]? FsVerityDigest);
