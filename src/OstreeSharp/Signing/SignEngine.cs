// libostree's signature engines (OstreeSign): a name, a detached-metadata key ostree.sign.NAME holding an "aay" of
// signatures, keys given as strings, and verification that accepts the first signature a loaded key verifies.
// "ed25519" is the real one; "dummy" is libostree's test engine (the "signature" is the secret key's text), which
// works only when OSTREE_DUMMY_SIGN_ENABLED=1, as in libostree.
using System.Text;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Signing;

/// <summary>What a successful verification found.</summary>
/// <param name="Message">ostree's line, e.g. <c>ed25519: Signature verified successfully with key 'HEX'</c>.</param>
/// <param name="Ed25519Key">The ed25519 key that verified, when the engine is ed25519.</param>
public sealed record SignVerified(string Message, Ed25519PublicKey? Ed25519Key);

/// <summary>A signature engine with its keys, as libostree's <c>OstreeSign</c>.</summary>
public abstract class SignEngine
{
    /// <summary>The engines there are, in libostree's order.</summary>
    public static IReadOnlyList<string> Names { get; } = ["ed25519", "dummy"];

    /// <summary>The engine's name (<c>--sign-type</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The detached metadata key its signatures live under.</summary>
    public string MetadataKey => "ostree.sign." + Name;

    /// <summary>Whether a public key has been set or loaded.</summary>
    public abstract bool HasPublicKeys { get; }

    /// <summary>A new engine by name.</summary>
    /// <exception cref="SignatureException">No engine has that name (libostree's words).</exception>
    public static SignEngine Create(string name) => name switch
    {
        "ed25519" => new Ed25519SignEngine(),
        "dummy" => new DummySignEngine(),
        _ => throw new SignatureException("Requested signature type is not implemented"),
    };

    /// <summary>Sets the key <see cref="Sign(ReadOnlySpan{byte})"/> uses.</summary>
    public abstract void SetSecretKey(string key);

    /// <summary>Replaces the public keys with this one.</summary>
    public abstract void SetPublicKey(string key);

    /// <summary>Adds a public key.</summary>
    public abstract void AddPublicKey(string key);

    /// <summary>
    /// Loads public keys from <paramref name="file"/> (one per line), else from the trusted and revoked key files of
    /// <paramref name="baseDir"/> (default: /etc/ostree and /usr/share/ostree).
    /// </summary>
    public abstract void LoadPublicKeys(string? file, string? baseDir = null);

    /// <summary>The signature of <paramref name="data"/> by the secret key.</summary>
    public abstract byte[] Sign(ReadOnlySpan<byte> data);

    /// <summary>Verifies <paramref name="signatures"/> (this engine's <c>aay</c>, or null) over <paramref name="data"/>.</summary>
    /// <exception cref="SignatureException">No signature verifies, with libostree's reason.</exception>
    public abstract SignVerified Verify(ReadOnlySpan<byte> data, GVariantValue? signatures);

    /// <summary>This engine's signatures in detached metadata: null when absent or not an <c>aay</c>, as libostree looks them up.</summary>
    public GVariantValue? SignaturesIn(GVariantValue? metadata) => metadata?.Lookup(MetadataKey) is { } v && v.Type.Text == "aay" ? v : null;

    /// <summary>Verifies against the signatures in <paramref name="metadata"/>.</summary>
    public SignVerified VerifyMetadata(ReadOnlySpan<byte> data, GVariantValue? metadata) => Verify(data, SignaturesIn(metadata));

    /// <summary><paramref name="metadata"/> with a signature of <paramref name="data"/> appended to this engine's list.</summary>
    public GVariantValue AppendSignature(GVariantValue? metadata, ReadOnlySpan<byte> data)
    {
        var list = SignaturesIn(metadata)?.GetChildren().Select(c => c.GetBytes()).ToList() ?? [];
        list.Add(Sign(data));
        return SignatureMetadata.WithArray(metadata, MetadataKey, list);
    }

    /// <summary>Signs a commit, appending to its detached metadata as <c>ostree sign</c> does.</summary>
    public void SignCommit(OstreeRepo repo, Checksum commit)
    {
        ArgumentNullException.ThrowIfNull(repo);
        var bytes = repo.ReadMetadataBytes(ObjectType.Commit, commit);
        var metadata = AppendSignature(repo.LoadDetachedMetadata(commit), bytes);
        using var tx = repo.BeginTransaction();
        tx.WriteCommitDetachedMetadata(commit, metadata);
        tx.Commit();
    }

    /// <summary>Verifies a commit in <paramref name="repo"/> with this engine's keys.</summary>
    public SignVerified VerifyCommit(OstreeRepo repo, Checksum commit)
    {
        ArgumentNullException.ThrowIfNull(repo);
        return VerifyMetadata(repo.ReadMetadataBytes(ObjectType.Commit, commit), repo.LoadDetachedMetadata(commit));
    }

    /// <summary>
    /// The first of <paramref name="verifiers"/> whose signatures in <paramref name="metadata"/> verify, as libostree
    /// checks a remote's commits and summaries: engines without signatures there are passed over.
    /// </summary>
    /// <exception cref="SignatureException">None verifies: "No signatures found", or the first engine's error.</exception>
    public static SignVerified VerifyAny(IReadOnlyList<SignEngine> verifiers, ReadOnlySpan<byte> data, GVariantValue? metadata)
    {
        ArgumentNullException.ThrowIfNull(verifiers);
        SignatureException? first = null;
        int invalid = 0;
        foreach (var v in verifiers)
        {
            if (v.SignaturesIn(metadata) is not { } sigs)
            {
                continue;
            }

            try
            {
                return v.Verify(data, sigs);
            }
            catch (SignatureException e)
            {
                first ??= e;
                invalid++;
            }
        }

        if (first is null)
        {
            throw new SignatureException("No signatures found", SignatureFailure.NoSignature);
        }

        throw invalid > 1 ? new SignatureException($"({invalid - 1} other invalid signatures): {first.Message}", first.Reason) : first;
    }

    /// <summary>
    /// The verifiers a remote configures under <paramref name="option"/> (<c>sign-verify</c> or
    /// <c>sign-verify-summary</c>), as libostree reads it: unset, empty or false is none (null); true is every engine
    /// with the keys it has (<c>verification-NAME-key</c>, <c>verification-NAME-file</c>); a list names the engines,
    /// each of which must have keys.
    /// </summary>
    public static IReadOnlyList<SignEngine>? ForRemote(RemoteInfo remote, string option)
    {
        ArgumentNullException.ThrowIfNull(remote);
        var raw = remote.Options.GetValueOrDefault(option);
        if (string.IsNullOrEmpty(raw) || raw is "false" or "0")
        {
            return null;
        }

        var list = new List<SignEngine>();
        if (raw is "true" or "1")
        {
            foreach (var name in Names)
            {
                var e = Create(name);
                LoadRemoteKeys(e, remote, required: false);
                list.Add(e);
            }

            return list;
        }

        // A GKeyFile list, separated by ';' (a trailing one ignored). ostree's own `remote add --sign-verify` joins
        // several engines with ',', which libostree then cannot read back; we take ',' as a separator too.
        foreach (var name in raw.TrimEnd(';').Split([';', ',']))
        {
            var e = Create(name);
            LoadRemoteKeys(e, remote, required: true);
            list.Add(e);
        }

        return list;
    }

    private static void LoadRemoteKeys(SignEngine engine, RemoteInfo remote, bool required)
    {
        var file = remote.Options.GetValueOrDefault($"verification-{engine.Name}-file");
        var inline = remote.Options.GetValueOrDefault($"verification-{engine.Name}-key");
        if (file is null && inline is null)
        {
            if (required)
            {
                throw new SignatureException($"No keys found for required signapi type {engine.Name}", SignatureFailure.UnknownKey);
            }

            return;
        }

        if (file is not null)
        {
            try
            {
                engine.LoadPublicKeys(file);
            }
            catch (Exception e) when (e is SignatureException or IOException or UnauthorizedAccessException)
            {
                throw new SignatureException($"Failed loading '{engine.Name}' keys from '{file}", SignatureFailure.UnknownKey);
            }
        }

        if (inline is not null)
        {
            try
            {
                engine.AddPublicKey(inline);
            }
            catch (SignatureException)
            {
                throw new SignatureException($"Failed loading '{engine.Name}' keys from inline `verification-key`", SignatureFailure.UnknownKey);
            }
        }
    }
}

/// <summary>The ed25519 engine: keys are base64 (32-byte public, libsodium's 64-byte secret).</summary>
public sealed class Ed25519SignEngine : SignEngine
{
    private readonly List<Ed25519PublicKey> _public = [];
    private readonly List<Ed25519PublicKey> _revoked = [];
    private Ed25519SecretKey? _secret;

    /// <inheritdoc />
    public override string Name => "ed25519";

    /// <inheritdoc />
    public override bool HasPublicKeys => _public.Count > 0;

    /// <summary>The trusted keys, in the order they are tried.</summary>
    public IReadOnlyList<Ed25519PublicKey> PublicKeys => _public;

    /// <summary>An engine that trusts <paramref name="trusted"/> and not <paramref name="revoked"/>.</summary>
    public static Ed25519SignEngine WithKeys(IEnumerable<Ed25519PublicKey> trusted, IEnumerable<Ed25519PublicKey>? revoked = null)
    {
        var e = new Ed25519SignEngine();
        foreach (var k in trusted)
        {
            e.Add(k);
        }

        e._revoked.AddRange(revoked ?? []);
        return e;
    }

    /// <summary>Sets the signing key.</summary>
    public void SetSecretKey(Ed25519SecretKey key) => _secret = key;

    /// <inheritdoc />
    public override void SetSecretKey(string key) => _secret = Ed25519SecretKey.Parse(key);

    /// <inheritdoc />
    public override void SetPublicKey(string key)
    {
        var k = Ed25519PublicKey.Parse(key);
        _public.Clear();
        _public.Add(k);
    }

    /// <inheritdoc />
    public override void AddPublicKey(string key) => Add(Ed25519PublicKey.Parse(key));

    // As libostree: a key already there is not added twice; a new one is tried first.
    private void Add(Ed25519PublicKey key)
    {
        if (!_public.Contains(key))
        {
            _public.Insert(0, key);
        }
    }

    /// <inheritdoc />
    public override void LoadPublicKeys(string? file, string? baseDir = null)
    {
        if (file is not null)
        {
            LoadFile(file, trusted: true);
            return;
        }

        if (!LoadWellKnown(baseDir, trusted: true))
        {
            throw new SignatureException("signature: ed25519: no keys loaded", SignatureFailure.UnknownKey);
        }

        LoadWellKnown(baseDir, trusted: false);
    }

    // BASE/trusted.ed25519 and every file in BASE/trusted.ed25519.d (revoked.* for revoked keys); files that cannot
    // be read or hold no valid key are passed over. True when some key was loaded.
    private bool LoadWellKnown(string? baseDir, bool trusted)
    {
        var name = trusted ? "trusted.ed25519" : "revoked.ed25519";
        var files = new List<string>();
        foreach (var dir in baseDir is not null ? [baseDir] : new[] { "/etc/ostree", "/usr/share/ostree" })
        {
            files.Add(Path.Combine(dir, name));
            if (Directory.Exists(Path.Combine(dir, name + ".d")))
            {
                files.AddRange(Directory.EnumerateFiles(Path.Combine(dir, name + ".d")).Order(StringComparer.Ordinal));
            }
        }

        bool any = false;
        foreach (var f in files)
        {
            try
            {
                LoadFile(f, trusted);
                any = true;
            }
            catch (Exception e) when (e is SignatureException or IOException or UnauthorizedAccessException)
            {
                // libostree skips such files too.
            }
        }

        return any;
    }

    // One key per line (Ed25519Keys.ReadKeyFile): lines that are not a key are passed over, but the file must hold one.
    private void LoadFile(string file, bool trusted)
    {
        if (!File.Exists(file))
        {
            throw new SignatureException($"File object '{file}' is not a regular file", SignatureFailure.UnknownKey);
        }

        List<Ed25519PublicKey> keys;
        try
        {
            keys = Ed25519Keys.ReadKeyFile(file, Ed25519PublicKey.Parse);
        }
        catch (SignatureException)
        {
            throw new SignatureException($"signature: ed25519: no valid keys in file '{file}'", SignatureFailure.UnknownKey);
        }

        foreach (var k in keys)
        {
            if (trusted)
            {
                Add(k);
            }
            else if (!_revoked.Contains(k))
            {
                _revoked.Add(k);
            }
        }
    }

    /// <inheritdoc />
    public override byte[] Sign(ReadOnlySpan<byte> data) =>
        (_secret ?? throw new SignatureException("Not able to sign: secret key is not set")).Sign(data);

    /// <inheritdoc />
    public override SignVerified Verify(ReadOnlySpan<byte> data, GVariantValue? signatures)
    {
        if (signatures is null)
        {
            throw new SignatureException("ed25519: commit have no signatures of my type", SignatureFailure.NoSignature);
        }

        if (signatures.Type.Text != "aay")
        {
            throw new SignatureException("ed25519: wrong type passed for verification");
        }

        if (_public.Count == 0)
        {
            LoadPublicKeys(null);
        }

        var failed = new List<Ed25519PublicKey>();
        bool sawRevoked = false;
        foreach (var child in signatures.GetChildren())
        {
            var sig = child.GetBytes();
            if (sig.Length != 64)
            {
                throw new SignatureException($"Invalid signature length of {sig.Length} bytes, expected 64");
            }

            foreach (var k in _public)
            {
                if (_revoked.Contains(k))
                {
                    sawRevoked = true;
                    continue;
                }

                if (Ed25519Keys.Verify(k, data, sig))
                {
                    return new SignVerified($"ed25519: Signature verified successfully with key '{Convert.ToHexStringLower(k.Bytes)}'", k);
                }

                failed.Add(k);
            }
        }

        if (failed.Count > 3)
        {
            throw new SignatureException($"ed25519: Signature couldn't be verified; tried {failed.Count} keys", SignatureFailure.UnknownKey);
        }

        if (failed.Count > 0)
        {
            throw new SignatureException("ed25519: Signature couldn't be verified with: " + string.Join("; ", failed.Select(k => $"key '{Convert.ToHexStringLower(k.Bytes)}'")), SignatureFailure.UnknownKey);
        }

        throw new SignatureException("ed25519: no signatures found", sawRevoked ? SignatureFailure.RevokedKey : SignatureFailure.NoSignature);
    }
}

/// <summary>
/// libostree's test engine: the "signature" is the secret key's text and verifies when it equals the public key's.
/// It refuses to work unless <c>OSTREE_DUMMY_SIGN_ENABLED=1</c>.
/// </summary>
internal sealed class DummySignEngine : SignEngine
{
    private string? _secret;
    private string? _public;

    /// <inheritdoc />
    public override string Name => "dummy";

    /// <inheritdoc />
    public override bool HasPublicKeys => _public is not null;

    private static void CheckEnabled()
    {
        if (Environment.GetEnvironmentVariable("OSTREE_DUMMY_SIGN_ENABLED") != "1")
        {
            throw new SignatureException("dummy signature type is only for ostree testing");
        }
    }

    /// <inheritdoc />
    public override void SetSecretKey(string key)
    {
        CheckEnabled();
        _secret = key;
    }

    /// <inheritdoc />
    public override void SetPublicKey(string key) => _public = key;

    /// <inheritdoc />
    public override void AddPublicKey(string key) => _public = key;

    /// <inheritdoc />
    public override void LoadPublicKeys(string? file, string? baseDir = null) => throw new SignatureException("not implemented");

    /// <inheritdoc />
    public override byte[] Sign(ReadOnlySpan<byte> data)
    {
        CheckEnabled();
        return Encoding.UTF8.GetBytes(_secret ?? throw new SignatureException("Not able to sign: secret key is not set"));
    }

    /// <inheritdoc />
    public override SignVerified Verify(ReadOnlySpan<byte> data, GVariantValue? signatures)
    {
        CheckEnabled();
        if (signatures is null)
        {
            throw new SignatureException("signature: dummy: commit have no signatures of my type", SignatureFailure.NoSignature);
        }

        if (signatures.Type.Text != "aay")
        {
            throw new SignatureException("signature: dummy: wrong type passed for verification");
        }

        var sigs = signatures.GetChildren();
        foreach (var child in sigs)
        {
            // As libostree compares them: as C strings, up to the first NUL.
            var b = child.GetBytes();
            int nul = Array.IndexOf(b, (byte)0);
            if (Encoding.UTF8.GetString(b, 0, nul < 0 ? b.Length : nul) == _public)
            {
                return new SignVerified("dummy: Signature verified", null);
            }
        }

        throw sigs.Count > 0
            ? new SignatureException($"signature: dummy: incorrect signatures found: {sigs.Count}", SignatureFailure.UnknownKey)
            : new SignatureException("signature: dummy: no signatures", SignatureFailure.NoSignature);
    }
}
