using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OstreeSharp.Transfer;

/// <summary>
/// A remote's TLS settings, as libostree reads them from its config: <c>tls-permissive</c> (no certificate
/// checks), <c>tls-ca-path</c> (the only trusted anchors, instead of the system's), and
/// <c>tls-client-cert-path</c> with <c>tls-client-key-path</c> (a client certificate, PEM).
/// </summary>
public sealed record RemoteTls(bool Permissive, string? CaPath, string? ClientCertPath, string? ClientKeyPath)
{
    /// <summary>The settings of <paramref name="remote"/>, or null when it has none.</summary>
    /// <exception cref="OstreeException">Only one of the client certificate and key is given, or tls-permissive is not a boolean.</exception>
    public static RemoteTls? FromRemote(string remote, IReadOnlyDictionary<string, string> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var permissive = options.GetValueOrDefault("tls-permissive") switch
        {
            null or "false" or "0" => false,
            "true" or "1" => true,
            var v => throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Failed to parse boolean value \"{v}\" of tls-permissive for remote {remote}"),
        };
        var cert = options.GetValueOrDefault("tls-client-cert-path");
        var key = options.GetValueOrDefault("tls-client-key-path");
        if ((cert is null) != (key is null))
        {
            throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Remote \"{remote}\" must specify both \"tls-client-cert-path\" and \"tls-client-key-path\"");
        }

        var ca = options.GetValueOrDefault("tls-ca-path");
        return !permissive && ca is null && cert is null ? null : new RemoteTls(permissive, ca, cert, key);
    }

    /// <summary>Sets the handler's TLS options (before its first request).</summary>
    /// <exception cref="OstreeException">A certificate or key file cannot be read.</exception>
    internal void Apply(SocketsHttpHandler handler)
    {
        if (ClientCertPath is not null)
        {
            try
            {
                using var pem = X509Certificate2.CreateFromPemFile(ClientCertPath, ClientKeyPath);
                handler.SslOptions.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Failed to load client certificate {ClientCertPath} with key {ClientKeyPath}: {e.Message}");
            }
        }

        if (Permissive)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
            return;
        }

        if (CaPath is not null)
        {
            var anchors = new X509Certificate2Collection();
            try
            {
                anchors.ImportFromPemFile(CaPath);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"Failed to read TLS anchors from {CaPath}: {e.Message}");
            }

            if (anchors.Count == 0)
            {
                throw new OstreeException(OstreeErrorCode.RemoteConfigInvalid, $"No certificates in tls-ca-path {CaPath}");
            }

            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
            };
        }
    }
}
