using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>A GnuPG home folder of its own, with keys made on demand.</summary>
internal sealed class Gpg : IDisposable
{
    public Gpg()
    {
        Dir = new TempDir();
        Home = Dir["gnupg"];
        Directory.CreateDirectory(Home);
        OstreeSharp.Internal.Native.Chmod(Home, 0x1C0);
    }

    public TempDir Dir { get; }

    public string Home { get; }

    public RunResult Run(params string[] args) => Tools.Run("gpg", ["--batch", "--homedir", Home, .. args]);

    public string NewKey(string name, string type = "RSA", string? fakedTime = null, string expire = "0", string? passphrase = null)
    {
        var spec = type == "RSA" ? "Key-Type: RSA\nKey-Length: 2048\n" : "Key-Type: EDDSA\nKey-Curve: ed25519\n";
        var protection = passphrase is null ? "%no-protection\n" : $"Passphrase: {passphrase}\n";
        var p = Dir[name + ".params"];
        // %no-protection goes first; Passphrase must follow Key-Type.
        File.WriteAllText(p, passphrase is null
            ? $"{protection}{spec}Name-Real: {name}\nName-Email: {name}@example.com\nExpire-Date: {expire}\n%commit\n"
            : $"{spec}{protection}Name-Real: {name}\nName-Email: {name}@example.com\nExpire-Date: {expire}\n%commit\n");
        var extra = fakedTime is null ? [] : new[] { "--faked-system-time", fakedTime };
        Run([.. extra, "--pinentry-mode", "loopback", "--passphrase", passphrase ?? string.Empty, "--gen-key", p]).Ok("gpg --gen-key");
        var colons = Run("--with-colons", "--list-keys", name).Ok("list");
        return colons.Split('\n').First(l => l.StartsWith("fpr:", StringComparison.Ordinal)).Split(':')[9];
    }

    public void Dispose() => Dir.Dispose();
}
