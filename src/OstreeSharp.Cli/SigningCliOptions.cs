using System.CommandLine;
using System.Text;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

/// <summary>skopeo's signing options: --sign-by-sigstore-private-key, --sign-by (GPG), --sign-passphrase-file, --sign-identity.</summary>
internal sealed class SigningCliOptions
{
    private readonly Option<string?> _gpgKey = new("--sign-by") { Description = "Sign the image with this GPG key (fingerprint or key id, from $GNUPGHOME or ~/.gnupg) as a simple signing signature: into the registry's lookaside-staging (registries.d) or a dir: image" };
    private readonly Option<string?> _key = new("--sign-by-sigstore-private-key") { Description = "Sign the image in the destination registry with this cosign private key (a .sig attachment, as skopeo writes, and a cosign 3 bundle as a referrer)" };
    private readonly Option<string?> _passphrase = new("--sign-passphrase-file") { Description = "Read the private key's passphrase from the first line of FILE (default: ask on the terminal)" };
    private readonly Option<string?> _identity = new("--sign-identity") { Description = "The image reference the signature claims (default: the destination's)" };

    public void AddTo(Command cmd)
    {
        cmd.Options.Add(_gpgKey);
        cmd.Options.Add(_key);
        cmd.Options.Add(_passphrase);
        cmd.Options.Add(_identity);
    }

    /// <summary>
    /// Reads the key (so a wrong passphrase fails before anything is copied) and returns what signs the copied
    /// image, or null without --sign-by-sigstore-private-key or --sign-by.
    /// </summary>
    public Func<IImageDestination, Digest, Task>? Prepare(ParseResult pr, ImageReference destination, RegistryOptions options)
    {
        var keyPath = pr.GetValue(_key);
        var gpgId = pr.GetValue(_gpgKey);
        if (keyPath is null && gpgId is null)
        {
            if (pr.GetValue(_passphrase) is not null || pr.GetValue(_identity) is not null)
            {
                throw new ArgumentException("--sign-passphrase-file and --sign-identity need --sign-by-sigstore-private-key or --sign-by");
            }

            return null;
        }

        if (keyPath is not null && gpgId is not null)
        {
            throw new ArgumentException("Only one of --sign-by and --sign-by-sigstore-private-key can be used");
        }

        if (destination.Transport != Transport.Registry && (keyPath is not null || destination.Transport != Transport.Dir))
        {
            throw new ContainerException(OstreeErrorCode.NotSupported, $"Can not copy signatures to {destination}: Pushing signatures for {ImagePolicy.TransportName(destination)} images is not supported");
        }

        var identity = pr.GetValue(_identity) is { } i ? DockerReference.Parse(i)
            : destination.Transport == Transport.Registry ? PolicyEnforcer.IntendedIdentity(destination)!
            : throw new ArgumentException($"--sign-by into {destination}: give the identity the signature claims with --sign-identity");
        if (identity.Tag is null && identity.Digest is null)
        {
            throw new ArgumentException($"--sign-identity {identity}: a reference with a tag or digest is needed");
        }

        var creator = "ostree-sharp " + CliSupport.Version;
        if (keyPath is not null)
        {
            var key = SigstoreSigningKey.Load(keyPath, Passphrase(pr.GetValue(_passphrase), keyPath));
            return async (dest, digest) =>
            {
                var client = ((RegistryDestination)dest).Client;
                var repo = destination.Docker.Path;
                var manifest = await client.GetManifestAsync(repo, digest.ToString(), destination.ToString(), CliSupport.Stopping).ConfigureAwait(false);
                await SigstoreSigner.SignAsync(client, repo, manifest, identity.ToString(), key, creator, DateTimeOffset.UtcNow, CliSupport.Stopping).ConfigureAwait(false);
            };
        }

        // GPG: the key from the GnuPG home folder, as gpgme finds it for skopeo.
        var home = Environment.GetEnvironmentVariable("GNUPGHOME") is { Length: > 0 } g ? g : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".gnupg");
        var keyring = new OstreeSharp.Signing.GpgKeyring();
        keyring.AddHomeDir(home);
        var pub = keyring.FindById(gpgId!) ?? throw new OstreeSharp.Signing.SignatureException($"No public key {gpgId} in GnuPG home folder {home}");
        var pass = pr.GetValue(_passphrase) is { } pf ? FirstLine(pf) : null;
        var priv = OstreeSharp.Signing.GnupgAgentKeys.Load(home, pub, pass);
        Uri? lookaside = null;
        if (destination.Transport == Transport.Registry)
        {
            lookaside = RegistriesD.Load(options.RegistriesDirectory).LookasideBase(destination, write: true);
            if (!lookaside.IsFile)
            {
                throw new ContainerException(OstreeErrorCode.NotSupported, $"Can not write signatures to {lookaside}: only file:// lookaside-staging locations can be written");
            }
        }

        return (dest, digest) =>
        {
            var signature = SimpleSigning.Sign(digest, identity.ToString(), priv, pub, creator, DateTimeOffset.UtcNow);
            var dir = lookaside is null ? destination.Path : Path.GetDirectoryName(RegistriesD.SignatureUrl(lookaside, digest, 1).LocalPath)!;
            Directory.CreateDirectory(dir);
            int n = 1;
            while (File.Exists(Path.Combine(dir, $"signature-{n}")))
            {
                n++;
            }

            var file = Path.Combine(dir, $"signature-{n}");
            File.WriteAllBytes(file + ".tmp", signature);
            File.Move(file + ".tmp", file);
            return Task.CompletedTask;
        };
    }

    private static string FirstLine(string file)
    {
        var text = File.ReadAllText(file);
        int nl = text.IndexOf('\n', StringComparison.Ordinal);
        return (nl >= 0 ? text[..nl] : text).TrimEnd('\r');
    }

    private static string Passphrase(string? file, string keyPath)
    {
        if (file is not null)
        {
            return FirstLine(file);
        }

        if (Console.IsInputRedirected)
        {
            throw new ArgumentException($"--sign-by-sigstore-private-key {keyPath}: give the passphrase with --sign-passphrase-file (standard input is not a terminal)");
        }

        Console.Error.Write($"Passphrase for key {keyPath}: ");
        var sb = new StringBuilder();
        for (var k = Console.ReadKey(intercept: true); k.Key != ConsoleKey.Enter; k = Console.ReadKey(intercept: true))
        {
            if (k.Key == ConsoleKey.Backspace)
            {
                sb.Length = Math.Max(0, sb.Length - 1);
            }
            else
            {
                sb.Append(k.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return sb.ToString();
    }
}
