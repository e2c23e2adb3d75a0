// The verification policy later issues use unchanged: given a commit and a remote (or an explicit
// key set), verify or refuse with the reason.
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Signing;

/// <summary>
/// Which signatures a commit must carry: one that a verifier of <paramref name="SignVerifiers"/> accepts (when there are
/// any), and a good OpenPGP signature by a key of <paramref name="GpgKeys"/> when <paramref name="RequireGpg"/>.
/// </summary>
public sealed record VerificationPolicy(IReadOnlyList<SignEngine> SignVerifiers, bool RequireGpg, GpgKeyring? GpgKeys = null)
{
    /// <summary>Trust exactly these ed25519 keys (none: no signature needed).</summary>
    public static VerificationPolicy ForKeys(params Ed25519PublicKey[] keys) => new(keys.Length > 0 ? [Ed25519SignEngine.WithKeys(keys)] : [], false);

    /// <summary>Require a good OpenPGP signature by a key of <paramref name="keyring"/>.</summary>
    public static VerificationPolicy ForGpg(GpgKeyring keyring) => new([], true, keyring);

    /// <summary>
    /// The OpenPGP keys ostree uses for a remote: REMOTE.trustedkeys.gpg in the repository, its remotes config folder
    /// or its parent's (else the global keyring folder), plus <c>gpgkeypath</c>.
    /// </summary>
    /// <param name="repo">The repository.</param>
    /// <param name="remote">The remote's name.</param>
    /// <param name="globalFallback">Whether a remote without a keyring of its own trusts the global keyring folder
    /// (as verification does; <c>remote gpg-list-keys NAME</c> lists the remote's own keys only).</param>
    public static GpgKeyring RemoteGpgKeys(OstreeRepo repo, string remote, bool globalFallback = true)
    {
        var r = repo.RequireRemote(remote);
        var keyring = new GpgKeyring();
        if (RemoteKeyringFile(repo, remote) is { } file)
        {
            keyring.AddFile(file);
        }
        else if (globalFallback)
        {
            keyring.AddGlobalKeys();
        }

        foreach (var p in KeyFileList(r.Options.GetValueOrDefault("gpgkeypath")))
        {
            keyring.AddPath(p);
        }

        return keyring;
    }

    // A GKeyFile list as libostree reads gpgkeypath: separated by ';' or ',' (not both), a trailing separator
    // ignored, an empty entry kept (and then refused as a path).
    private static List<string> KeyFileList(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return [];
        }

        if (value.Contains(';', StringComparison.Ordinal) && value.Contains(',', StringComparison.Ordinal))
        {
            throw new OstreeException(OstreeErrorCode.InvalidArgument, "key value list contains more than one separator");
        }

        char sep = value.Contains(',', StringComparison.Ordinal) ? ',' : ';';
        var items = value.Split(sep).ToList();
        if (items.Count > 1 && items[^1].Length == 0)
        {
            items.RemoveAt(items.Count - 1);
        }

        return items;
    }

    // As libostree finds REMOTE.trustedkeys.gpg: in the repository, else in its remotes config folder, else in the
    // parent repository's places.
    private static string? RemoteKeyringFile(OstreeRepo repo, string remote)
    {
        for (var r = repo; r is not null; r = r.Parent)
        {
            foreach (var dir in new[] { r.Path, r.RemotesConfigDir })
            {
                if (dir is not null && Path.Combine(dir, remote + ".trustedkeys.gpg") is var file && File.Exists(file))
                {
                    return file;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The policy of a remote: <c>sign-verify</c> with the engines' <c>verification-NAME-key</c> and
    /// <c>verification-NAME-file</c> (<see cref="SignEngine.ForRemote"/>), and <c>gpg-verify</c> (default true, as in
    /// ostree).
    /// </summary>
    public static VerificationPolicy ForRemote(OstreeRepo repo, string remote)
    {
        var r = repo.RequireRemote(remote);
        bool gpg = !string.Equals(r.Options.GetValueOrDefault("gpg-verify") ?? "true", "false", StringComparison.Ordinal);
        return new VerificationPolicy(SignEngine.ForRemote(r, "sign-verify") ?? [], gpg, gpg ? RemoteGpgKeys(repo, remote) : null);
    }
}

/// <summary>Applies a <see cref="VerificationPolicy"/> to commits.</summary>
public static class CommitVerifier
{
    /// <summary>Verifies or throws <see cref="SignatureException"/> with the reason; nothing is changed either way.</summary>
    public static SignVerified? Verify(OstreeRepo repo, Checksum commit, VerificationPolicy policy) =>
        Verify(repo.ReadMetadataBytes(ObjectType.Commit, commit), repo.LoadDetachedMetadata(commit), policy);

    /// <summary>Verifies commit bytes and their detached metadata (e.g. before anything is imported).</summary>
    public static SignVerified? Verify(ReadOnlySpan<byte> commitBytes, GVariant.GVariantValue? detached, VerificationPolicy policy)
    {
        if (policy.RequireGpg)
        {
            GpgCommitSigner.Verify(commitBytes, detached, policy.GpgKeys ?? new GpgKeyring());
        }

        return policy.SignVerifiers.Count == 0 ? null : SignEngine.VerifyAny(policy.SignVerifiers, commitBytes, detached);
    }
}
