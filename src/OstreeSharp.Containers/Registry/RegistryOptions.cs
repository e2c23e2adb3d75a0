namespace OstreeSharp.Containers.Registry;

/// <summary>How to talk to registries: TLS, credentials, retries, uploads.</summary>
public sealed record RegistryOptions
{
    /// <summary>Verify TLS certificates and require HTTPS (false also allows plain HTTP, as skopeo's <c>--tls-verify=false</c>).</summary>
    public bool TlsVerify { get; init; } = true;

    /// <summary>Whether <see cref="TlsVerify"/> was chosen by the user (then registries.conf's <c>insecure</c> does not change it).</summary>
    public bool TlsVerifyGiven { get; init; }

    /// <summary>
    /// The registries.conf(5) whose mirrors, locations, <c>insecure</c> and <c>blocked</c> apply to pulls; null reads
    /// it as containers/image finds it (<see cref="RegistriesConfPath"/> when set).
    /// </summary>
    public RegistriesConf? Registries { get; init; }

    /// <summary>skopeo's <c>--registries.d</c>: where signature storage (lookaside, sigstore attachments) is configured.</summary>
    public string? RegistriesDirectory { get; init; }

    /// <summary>skopeo's <c>--registries-conf</c>: the one registries.conf file to read.</summary>
    public string? RegistriesConfPath { get; init; }

    /// <summary>The registries.conf in effect (read once).</summary>
    public RegistriesConf ResolveRegistries() => Registries ?? (_registries ??= RegistriesConf.Load(RegistriesConfPath));

    private RegistriesConf? _registries;

    /// <summary>A directory of <c>*.crt</c> CA certificates and <c>*.cert</c>/<c>*.key</c> client pairs; default <c>/etc/containers/certs.d/HOST</c>.</summary>
    public string? CertDirectory { get; init; }

    /// <summary>Explicit credentials (<c>--creds</c>); they take precedence over auth files.</summary>
    public RegistryCredential? Credentials { get; init; }

    /// <summary>Never send credentials (<c>--no-creds</c>).</summary>
    public bool NoCredentials { get; init; }

    /// <summary>An auth file given with <c>--authfile</c>.</summary>
    public string? AuthFile { get; init; }

    /// <summary>Which auth files are searched when none is given.</summary>
    public AuthFileSearch AuthSearch { get; init; } = AuthFileSearch.Containers;

    /// <summary>Retries after a 429, a 5xx or a dropped connection.</summary>
    public int RetryTimes { get; init; } = 5;

    /// <summary>
    /// A GET or HEAD that gets no answer, or a download that receives nothing, for this long is aborted and retried
    /// (a download resumes where it stopped); without it a registry that stops answering holds a pull forever.
    /// </summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First back-off delay (doubled each retry, with jitter).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Upload blobs in PATCH chunks of this many bytes; 0 uploads each blob in one request.</summary>
    public long ChunkSize { get; init; }

    /// <summary>The largest manifest accepted.</summary>
    public int MaxManifestSize { get; init; } = Oci.ManifestBlob.MaxSize;

    /// <summary>The User-Agent header.</summary>
    public string UserAgent { get; init; } = "ostree-sharp/0.1";

    /// <summary>
    /// The containers-policy.json that image references checking signatures (<c>ostree-image-signed:</c>) follow,
    /// as skopeo's <c>--policy</c>; null finds it as containers/image does.
    /// </summary>
    public string? PolicyPath { get; init; }

    /// <summary>The store credentials are looked up in (default: from <see cref="AuthFile"/> and <see cref="AuthSearch"/>).</summary>
    public CredentialStore? CredentialStore { get; init; }

    /// <summary>Resolves the credentials for a registry and repository.</summary>
    public RegistryCredential? ResolveCredentials(string domain, string? repositoryPath)
    {
        if (NoCredentials)
        {
            return null;
        }

        if (Credentials is not null)
        {
            return Credentials;
        }

        return (CredentialStore ?? CredentialStore.Default(AuthFile, AuthSearch)).Lookup(domain, repositoryPath);
    }
}
