namespace OstreeSharp.Internal;

/// <summary>
/// A forward-only stream that can pass over bytes without producing them, more cheaply than reading them (a layer delta
/// passes over the data of an object the repository already has without opening it). <see cref="Tar.TarReader"/> uses
/// it for the data of entries nobody reads.
/// </summary>
internal interface ISkippingStream
{
    /// <summary>Passes over up to <paramref name="count"/> bytes; returns how many, fewer only at the end of the stream.</summary>
    long Skip(long count);
}
