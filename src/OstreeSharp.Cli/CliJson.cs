using System.Text.Json.Serialization;

namespace OstreeSharp.Cli;

internal sealed record ProgressEvent(string Task, long Done, long Total, long BytesDone, long BytesTotal);

internal sealed record CommitJson(string Commit, bool Skipped, int ContentWritten, long ContentBytesWritten, int MetadataWritten);

internal sealed record LogEntryJson(string Commit, string? Parent, string ContentChecksum, string Timestamp, string? Version, string Subject, string Body, Dictionary<string, string> Metadata);

internal sealed record FsckJson(int Commits, int Objects, int Deleted, List<FsckProblemJson> Problems, List<string> RefProblems);

internal sealed record FsckProblemJson(string Kind, string Checksum, string Type, string? Path, string? Commit, string Message);

internal sealed record PruneJson(int TotalObjects, int Deleted, long BytesFreed);

internal sealed record EncapsulateJson(string Digest, string LayerDigest, string DiffId, long LayerSize);

internal sealed record RechunkLayerJson(string Digest, string DiffId, long Size, string Name, string Components);

internal sealed record RechunkJson(string Digest, int Components, int Packages, string? Database, List<RechunkLayerJson> Layers);

internal sealed record DeploymentJson(int Index, string Stateroot, string Checksum, int Serial, string BootChecksum, int BootSerial, string? Version, bool Booted, bool Pending, bool Rollback, bool Pinned, string? Refspec, string? ContainerImageReference, string? Kargs, string Path);

internal sealed record SysrootStatusJson(int BootVersion, int SubBootVersion, List<DeploymentJson> Deployments);

internal sealed record PruneImagesJson(List<string> Removed, int Layers, int ObjectsDeleted, long BytesFreed);

internal sealed record DiffJson(List<string> Modified, List<string> Removed, List<string> Added);

internal sealed record PulledRefJson(string Ref, string Commit);

internal sealed record PullJson(List<PulledRefJson> Refs, int MetadataFetched, int ContentFetched, long BytesTransferred, long ContentBytesWritten, double Seconds, int RequestsRetried, List<string> DeltasUsed);

internal sealed record ImagePullJson(string Image, string MergeCommit, string ManifestDigest, bool AlreadyPresent, int LayersPresent, int LayersFetched, int LayersFromDeltas, long BytesFetched);

internal sealed record ContainerDeltaLayerJson(string TargetLayer, long TargetLayerSize, long TarSize, string Delta, long DeltaSize, long Objects, long Patches, long LiteralBytes, int Version);

internal sealed record ContainerDeltaJson(string From, string To, string DeltaManifest, List<ContainerDeltaLayerJson> Layers);

internal sealed record StaticDeltaJson(string Name, string? From, string To, int Parts, int Objects, int Patched, int Fallbacks, long CompressedSize, long UncompressedSize, long FallbackSize);

[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProgressEvent))]
[JsonSerializable(typeof(PullJson))]
[JsonSerializable(typeof(CommitJson))]
[JsonSerializable(typeof(List<LogEntryJson>))]
[JsonSerializable(typeof(FsckJson))]
[JsonSerializable(typeof(PruneJson))]
[JsonSerializable(typeof(DiffJson))]
[JsonSerializable(typeof(DeploymentJson))]
[JsonSerializable(typeof(SysrootStatusJson))]
[JsonSerializable(typeof(PruneImagesJson))]
[JsonSerializable(typeof(CopyJson))]
[JsonSerializable(typeof(EncapsulateJson))]
[JsonSerializable(typeof(RechunkJson))]
[JsonSerializable(typeof(CopyEventJson))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(StaticDeltaJson))]
[JsonSerializable(typeof(ImagePullJson))]
[JsonSerializable(typeof(ContainerDeltaJson))]
[JsonSerializable(typeof(InstallJson))]
[JsonSerializable(typeof(List<string>))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>Like Default, without escaping '+' and other harmless characters.</summary>
    public static CliJsonContext Writer { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
