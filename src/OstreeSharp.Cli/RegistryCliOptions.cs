using System.CommandLine;
using System.Globalization;
using OstreeSharp.Containers.Registry;

namespace OstreeSharp.Cli;

/// <summary>The registry options of the image verbs: --authfile, --creds, --tls-verify, --cert-dir and friends.</summary>
internal sealed class RegistryCliOptions(bool policy = false, bool registriesD = false)
{
    private readonly Option<string?> _registriesD = new("--registries.d") { Description = "Read signature storage configuration (lookaside locations) from the YAML files in DIR instead of $HOME/.config/containers/registries.d or /etc/containers/registries.d" };
    private readonly Option<string?> _policy = new("--policy") { Description = "The containers-policy.json that signed image references (ostree-image-signed:) are checked against (default: $HOME/.config/containers/policy.json, else /etc/containers/policy.json)" };
    private readonly Option<string?> _authFile = new("--authfile") { Description = "Auth file to use instead of the default search (REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json, ...)" };
    private readonly Option<string?> _creds = new("--creds") { Description = "Credentials USER[:PASSWORD] for the registry" };
    private readonly Option<bool> _noCreds = new("--no-creds") { Description = "Access the registry anonymously" };
    private readonly Option<bool?> _tlsVerify = new("--tls-verify") { Description = "Require HTTPS and verify certificates (default true; false also allows plain HTTP)" };
    private readonly Option<string?> _certDir = new("--cert-dir") { Description = "Directory of *.crt CA certificates and *.cert/*.key client certificates" };
    private readonly Option<string?> _registriesConf = new("--registries-conf") { Description = "Read this registries.conf (mirrors, locations, insecure and blocked registries) instead of $HOME/.config/containers/registries.conf or /etc/containers/registries.conf and their registries.conf.d" };
    private readonly Option<int?> _retry = new("--retry-times") { Description = "Retries after 429, 5xx or dropped connections (default 5)" };
    private readonly Option<double?> _readTimeout = new("--read-timeout") { Description = "Abort (and retry) a registry request that gets no answer, or a download that receives nothing, for SECONDS (default 60; 0: never)" };

    public void AddTo(Command cmd)
    {
        foreach (var o in new Option[] { _authFile, _creds, _noCreds, _tlsVerify, _certDir, _registriesConf, _retry, _readTimeout })
        {
            cmd.Options.Add(o);
        }

        if (policy)
        {
            cmd.Options.Add(_policy);
        }

        if (policy || registriesD)
        {
            cmd.Options.Add(_registriesD);
        }
    }

    public RegistryOptions Build(ParseResult pr, Option<string?>? creds = null, Option<bool?>? tlsVerify = null, Option<string?>? certDir = null)
    {
        var o = new RegistryOptions
        {
            AuthFile = pr.GetValue(_authFile),
            NoCredentials = pr.GetValue(_noCreds),
            TlsVerify = (tlsVerify is null ? null : pr.GetValue(tlsVerify)) ?? pr.GetValue(_tlsVerify) ?? true,
            CertDirectory = (certDir is null ? null : pr.GetValue(certDir)) ?? pr.GetValue(_certDir),
            TlsVerifyGiven = (tlsVerify is not null && pr.GetValue(tlsVerify) is not null) || pr.GetValue(_tlsVerify) is not null,
            RegistriesConfPath = pr.GetValue(_registriesConf),
            PolicyPath = policy ? pr.GetValue(_policy) : null,
            RegistriesDirectory = policy || registriesD ? pr.GetValue(_registriesD) : null,
        };
        if (pr.GetValue(_retry) is int r)
        {
            o = o with { RetryTimes = r };
        }

        if (pr.GetValue(_readTimeout) is double seconds)
        {
            o = o with { ReadTimeout = seconds is >= 0 and <= 86400 ? TimeSpan.FromSeconds(seconds) : throw new ArgumentException($"--read-timeout: {seconds} is not a number of seconds from 0 to 86400") };
        }

        if (((creds is null ? null : pr.GetValue(creds)) ?? pr.GetValue(_creds)) is { } c)
        {
            o = o with { Credentials = c.Length == 0 || c[0] == ':' ? throw new ArgumentException("--creds: the user name is empty") : RegistryCredential.ParseCreds(c) };
        }

        return o;
    }

    /// <summary>Parses a size like 1048576, 64K, 16M, 1G.</summary>
    public static long ParseSize(string text, string option)
    {
        var t = text.Trim();
        long mult = 1;
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            mult = char.ToUpperInvariant(t[^1]) switch
            {
                'K' => 1L << 10,
                'M' => 1L << 20,
                'G' => 1L << 30,
                _ => throw new ArgumentException($"{option}: unknown size suffix in '{text}' (use K, M or G)"),
            };
            t = t[..^1];
        }

        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 0)
        {
            throw new ArgumentException($"{option}: '{text}' is not a size");
        }

        return n * mult;
    }
}
