namespace OstreeSharp;

/// <summary>
/// The stable identity of a kind of failure, carried by every <see cref="OstreeException"/> as
/// <see cref="OstreeException.ErrorCode"/> and printed as <c>OSTREEnnnn</c> (<see cref="OstreeErrorCodes.Format"/>).
/// A number never changes its meaning once released; messages may. Callers branch on the code, never on the words.
/// </summary>
/// <remarks>
/// The thousands group the codes by area: 1 repository and objects, 2 remotes and transfer, 3 signatures and policy,
/// 4 sysroot and deployments, 5 composefs, 6 container images and registries, 9 arguments and the environment.
/// </remarks>
public enum OstreeErrorCode
{
    /// <summary>An operation failed for a reason no more specific code names.</summary>
    Failed = 1000,

    /// <summary>The path is not an ostree repository, or it cannot be opened.</summary>
    RepositoryNotFound = 1001,

    /// <summary>A repository already exists there, in another mode.</summary>
    RepositoryExists = 1002,

    /// <summary>The repository's configuration (config, remotes.d, a parent chain) is invalid.</summary>
    RepositoryConfigInvalid = 1003,

    /// <summary>Another process holds the repository lock and the wait timed out.</summary>
    RepositoryLocked = 1004,

    /// <summary>A ref, refspec, branch or revision does not exist.</summary>
    RefNotFound = 1010,

    /// <summary>A ref or refspec is malformed or ambiguous.</summary>
    RefInvalid = 1011,

    /// <summary>A ref that was to be created already exists, or a ref is in use (an alias points at it).</summary>
    RefExists = 1012,

    /// <summary>An object, or a piece of metadata a commit should carry, is not in the repository.</summary>
    ObjectNotFound = 1020,

    /// <summary>An object's bytes do not hash to its name, or cannot be parsed.</summary>
    ObjectCorrupted = 1021,

    /// <summary>Data (a file, an archive, a stream) is not in the format it should be.</summary>
    InvalidData = 1030,

    /// <summary>Bytes are not a GVariant of the expected type in normal form.</summary>
    InvalidGVariant = 1031,

    /// <summary>A tar or cpio archive is malformed.</summary>
    InvalidArchive = 1032,

    /// <summary>An SELinux <c>file_contexts</c> file is malformed.</summary>
    InvalidFileContexts = 1033,

    /// <summary>A commit's ref or collection bindings do not match the ref it was pulled or deployed for.</summary>
    CommitBindingMismatch = 1040,

    /// <summary>The destination file or folder already exists.</summary>
    AlreadyExists = 1050,

    /// <summary>A file in a tree is of a type ostree cannot store (a device, a socket, a FIFO) or a whiteout is invalid.</summary>
    UnsupportedFileType = 1051,

    /// <summary>A remote is not configured.</summary>
    RemoteNotFound = 2001,

    /// <summary>A remote's configuration is invalid, or a remote of that name already exists.</summary>
    RemoteConfigInvalid = 2002,

    /// <summary>A file of a remote repository could not be fetched (HTTP error, network error, timeout).</summary>
    FetchFailed = 2003,

    /// <summary>No static delta exists for the requested update, or a delta is incomplete.</summary>
    DeltaNotFound = 2004,

    /// <summary>The update would go to a commit older than the one deployed (a downgrade) and was refused.</summary>
    Downgrade = 2005,

    /// <summary>A signature or key is malformed, or signing failed.</summary>
    SignatureInvalid = 3001,

    /// <summary>The commit or image carries no signature of the required kind.</summary>
    SignatureMissing = 3002,

    /// <summary>No signature was made by a trusted key.</summary>
    SignatureUntrusted = 3003,

    /// <summary>A signature by a trusted key does not match the content.</summary>
    SignatureMismatch = 3004,

    /// <summary>The key that signed is revoked or has expired.</summary>
    SignatureKeyExpired = 3005,

    /// <summary>A container signature policy (<c>policy.json</c>) is invalid.</summary>
    PolicyInvalid = 3010,

    /// <summary>A container signature policy refused the image.</summary>
    PolicyRejected = 3011,

    /// <summary>The path is not a sysroot.</summary>
    SysrootNotFound = 4001,

    /// <summary>The operation needs a booted ostree system and this is not one.</summary>
    NotBooted = 4002,

    /// <summary>No deployment matches: none at all, an index out of range, no staged or rollback deployment.</summary>
    DeploymentNotFound = 4003,

    /// <summary>A stateroot does not exist, already exists, or has an invalid name.</summary>
    StaterootInvalid = 4004,

    /// <summary>The configured boot loader is not supported, or its boot entries cannot be read or written.</summary>
    BootloaderFailed = 4005,

    /// <summary>No kernel (or no matching initramfs or device tree) was found in the tree.</summary>
    KernelNotFound = 4006,

    /// <summary>The three-way merge of <c>/etc</c> failed.</summary>
    EtcMergeFailed = 4007,

    /// <summary>Freezing or thawing the filesystem of <c>/boot</c> failed.</summary>
    FreezeFailed = 4008,

    /// <summary>A disk or filesystem installation failed.</summary>
    InstallFailed = 4009,

    /// <summary>A deployment is in a state that forbids the operation (booted, already unlocked, not image based).</summary>
    DeploymentState = 4010,

    /// <summary>A composefs tree cannot be written as an image.</summary>
    ComposefsFailed = 5001,

    /// <summary>A name, target, payload, xattr or size goes beyond what composefs accepts.</summary>
    ComposefsLimit = 5002,

    /// <summary>A composefs dumpfile line is malformed.</summary>
    ComposefsInvalidDumpfile = 5003,

    /// <summary>fs-verity was required and the filesystem does not support it, or a verity digest does not match.</summary>
    VerityFailed = 5004,

    /// <summary>A container operation failed for a reason no more specific code names.</summary>
    ContainerFailed = 6000,

    /// <summary>An image reference could not be parsed or names a transport that cannot be used.</summary>
    ImageReferenceInvalid = 6001,

    /// <summary>A manifest, index or config could not be understood.</summary>
    ManifestInvalid = 6002,

    /// <summary>Content did not match the digest or size that described it.</summary>
    DigestMismatch = 6003,

    /// <summary>A registry answered with an error, or could not be reached.</summary>
    RegistryFailed = 6004,

    /// <summary>The registry wants credentials we do not have, or refused the ones we sent.</summary>
    RegistryUnauthorized = 6005,

    /// <summary>The registry has no such repository, tag or manifest.</summary>
    ImageNotFound = 6006,

    /// <summary>The registry does not have a blob the manifest names.</summary>
    BlobNotFound = 6007,

    /// <summary>Registry configuration (registries.conf, registries.d, an auth file, certificates) is invalid, or blocks the registry.</summary>
    RegistryConfigInvalid = 6008,

    /// <summary>The registry refused the request because of too many requests (HTTP 429).</summary>
    RegistryRateLimited = 6009,

    /// <summary>An rpm database (SQLite) could not be read.</summary>
    InvalidSqlite = 6010,

    /// <summary>An argument or option is invalid, or options that exclude each other were combined.</summary>
    InvalidArgument = 9001,

    /// <summary>The operation, flag or format is not supported by ostree-sharp.</summary>
    NotSupported = 9002,

    /// <summary>Reading or writing a file failed (no such file, no space, I/O error).</summary>
    IOFailed = 9003,

    /// <summary>The operating system refused access.</summary>
    PermissionDenied = 9004,

    /// <summary>The operation was cancelled (Ctrl+C, SIGTERM, a cancelled token).</summary>
    Cancelled = 9005,

    /// <summary>A program we run (systemctl, depmod, mkfs, an editor) failed or could not be started.</summary>
    ExternalCommandFailed = 9006,

    /// <summary>
    /// The filesystem has less free space than the operation needs, or writing would go into the space the repository
    /// keeps free (<c>min-free-space-size</c>, <c>min-free-space-percent</c>).
    /// </summary>
    InsufficientSpace = 9007,

    /// <summary>A bug: an exception OstreeSharp did not expect.</summary>
    Internal = 9999,
}
