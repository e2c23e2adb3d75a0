using System.CommandLine;
using System.Text;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Transports;

namespace OstreeSharp.Cli;

/// <summary>skopeo's signing options: --sign-by-sigstore-private-key, --sign-passphrase-file, --sign-identity.</summary>
internal sealed class SigningCliOptions
{
    private readonly Option<string?> _key = new("--sign-by-sigstore-private-key") { Description = "Sign the image in the destination registry with this cosign private key (a .sig attachment, as skopeo writes, and a cosign 3 bundle as a referrer)" };
    private readonly Option<string?> _passphrase = new("--sign-passphrase-file") { Description = "Read the private key's passphrase from the first line of FILE (default: ask on the terminal)" };
    private readonly Option<string?> _identity = new("--sign-identity") { Description = "The image reference the signature claims (default: the destination's)" };

    public void AddTo(Command cmd)
    {
        cmd.Options.Add(_key);
        cmd.Options.Add(_passphrase);
        cmd.Options.Add(_identity);
    }

    /// <summary>
    /// Reads the key (so a wrong passphrase fails before anything is copied) and returns what signs the copied
    /// image, or null without --sign-by-sigstore-private-key.
    /// </summary>
    public Func<IImageDestination, Digest, Task>? Prepare(ParseResult pr, ImageReference destination)
    {
        if (pr.GetValue(_key) is not { } keyPath)
        {
            if (pr.GetValue(_passphrase) is not null || pr.GetValue(_identity) is not null)
            {
                throw new ArgumentException("--sign-passphrase-file and --sign-identity need --sign-by-sigstore-private-key");
            }

            return null;
        }

        if (destination.Transport != Transport.Registry)
        {
            throw new ContainerException($"Can not copy signatures to {destination}: Pushing signatures for {ImagePolicy.TransportName(destination)} images is not supported");
        }

        var identity = pr.GetValue(_identity) is { } i ? DockerReference.Parse(i) : PolicyEnforcer.IntendedIdentity(destination)!;
        if (identity.Tag is null && identity.Digest is null)
        {
            throw new ArgumentException($"--sign-identity {identity}: a reference with a tag or digest is needed");
        }

        var key = SigstoreSigningKey.Load(keyPath, Passphrase(pr.GetValue(_passphrase), keyPath));
        return async (dest, digest) =>
        {
            var client = ((RegistryDestination)dest).Client;
            var repo = destination.Docker.Path;
            var manifest = await client.GetManifestAsync(repo, digest.ToString(), destination.ToString(), CancellationToken.None).ConfigureAwait(false);
            await SigstoreSigner.SignAsync(client, repo, manifest, identity.ToString(), key, "ostree-sharp " + CliSupport.Version, DateTimeOffset.UtcNow, CancellationToken.None).ConfigureAwait(false);
        };
    }

    private static string Passphrase(string? file, string keyPath)
    {
        if (file is not null)
        {
            var text = File.ReadAllText(file);
            int nl = text.IndexOf('\n', StringComparison.Ordinal);
            return (nl >= 0 ? text[..nl] : text).TrimEnd('\r');
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
