// `remote summary`: fetch a remote's summary (and summary.sig) and check it as the remote says:
// gpg-verify-summary with the remote's OpenPGP keys, sign-verify-summary with its signature engines' keys.
using OstreeSharp.GVariant;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Transfer;

/// <summary>A remote's summary as fetched, with the result of its signature checks.</summary>
public sealed record FetchedSummary(byte[] Summary, GVariantValue? Signatures, IReadOnlyList<GpgSignatureStatus>? Gpg, SignVerified? Signed);

/// <summary>Fetches and verifies remote summaries.</summary>
public static class RemoteSummary
{
    /// <summary>Fetches <c>summary</c> and <c>summary.sig</c> from the remote's URL (file://, http://, https://) and verifies them per its config.</summary>
    /// <exception cref="SignatureException">Verification is required and fails, with the reason.</exception>
    public static async Task<FetchedSummary> FetchAsync(OstreeRepo repo, string remote, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var info = repo.RequireRemote(remote);
        var url = info.RequireUrl();
        var connection = RemoteConnection.FromRemote(remote, info.Options);
        var (mirrors, summary) = await RemoteFetcher.ResolveRemoteUrlAsync(url, 5, cancellationToken, connection).ConfigureAwait(false);
        using var fetcher = new RemoteFetcher(mirrors, connection: connection);
        fetcher.AddCookies(CookieJar.PathOf(repo.Path, remote));
        summary ??= await fetcher.GetBytesAsync("summary", long.MaxValue, cancellationToken).ConfigureAwait(false)
            ?? throw new ObjectNotFoundException($"Remote \"{remote}\" has no summary at {fetcher.UrlOf("summary")}");
        var sigBytes = await fetcher.GetBytesAsync("summary.sig", long.MaxValue, cancellationToken).ConfigureAwait(false);
        return Verify(repo, remote, summary, sigBytes);
    }

    /// <summary>Checks a summary and its signatures as the remote's config says.</summary>
    /// <exception cref="SignatureException">Verification is required and fails, with the reason.</exception>
    public static FetchedSummary Verify(OstreeRepo repo, string remote, byte[] summary, byte[]? sigBytes)
    {
        ArgumentNullException.ThrowIfNull(repo);
        ArgumentNullException.ThrowIfNull(summary);
        var r = repo.RequireRemote(remote);
        GVariantValue? sigs = null;
        if (sigBytes is not null)
        {
            // As libostree (which reads it as untrusted GVariant data): a summary.sig that is not a dictionary holds
            // no signatures, and verification then fails for the lack of them.
            try
            {
                sigs = GVariantValue.Parse(GVariantType.Parse("a{sv}"), sigBytes);
            }
            catch (OstreeFormatException)
            {
                sigs = null;
            }
        }

        IReadOnlyList<GpgSignatureStatus>? gpg = null;
        if (IsTrue(r.Options.GetValueOrDefault("gpg-verify-summary")))
        {
            if (sigBytes is null)
            {
                throw new SignatureException("GPG verification enabled, but no summary signatures found (use gpg-verify-summary=false in remote config to disable)", SignatureFailure.NoSignature);
            }

            if (sigs is null || GpgCommitSigner.ReadSignatures(sigs).Count == 0)
            {
                // libostree's words when summary.sig exists but holds no OpenPGP signature.
                throw new SignatureException("GPG verification enabled, but no signatures found (use gpg-verify=false in remote config to disable)", SignatureFailure.NoSignature);
            }

            var keyring = VerificationPolicy.RemoteGpgKeys(repo, remote);
            gpg = GpgCommitSigner.Check(summary, sigs, keyring);
            if (!gpg.Any(s => s.IsValid))
            {
                var worst = gpg.FirstOrDefault(s => s.Failure == SignatureFailure.BadSignature) ?? gpg[0];
                throw new SignatureException($"Summary of remote \"{remote}\": " + worst.Describe().Trim().ReplaceLineEndings(" "), worst.Failure ?? SignatureFailure.BadSignature);
            }
        }

        SignVerified? signed = null;
        if (SignEngine.ForRemote(r, "sign-verify-summary") is { } verifiers)
        {
            signed = SignEngine.VerifyAny(verifiers, summary, sigs);
        }

        return new FetchedSummary(summary, sigs, gpg, signed);
    }

    /// <summary>A boolean remote option as GLib's key files read it.</summary>
    internal static bool IsTrue(string? v) => v is not null && (v.Equals("true", StringComparison.OrdinalIgnoreCase) || v == "1" || v.Equals("yes", StringComparison.OrdinalIgnoreCase));

    /// <summary>GETs <paramref name="name"/> under <paramref name="baseUrl"/> (file://, http://, https://); null when it does not exist.</summary>
    internal static async Task<byte[]?> FetchFileAsync(string baseUrl, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        using var fetcher = new RemoteFetcher(baseUrl);
        return await fetcher.GetBytesAsync(name, long.MaxValue, cancellationToken).ConfigureAwait(false);
    }
}
