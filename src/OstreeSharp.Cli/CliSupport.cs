using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Repository;
using OstreeSharp.Trees;

namespace OstreeSharp.Cli;

/// <summary>Things every verb shares: the --repo option, error handling, progress and JSON output.</summary>
internal static class CliSupport
{
    public static readonly Option<string?> Repo = new("--repo")
    {
        Description = "Path to the OSTree repository (default: $OSTREE_REPO, else the current directory)",
        Recursive = true,
    };

    public static readonly Option<string?> Progress = new("--progress")
    {
        Description = "Progress output: 'auto' (bars on a terminal), 'json' (JSON Lines on stderr) or 'none'",
        Recursive = true,
    };

    public static OstreeRepo OpenRepo(ParseResult pr)
    {
        var path = pr.GetValue(Repo) ?? Environment.GetEnvironmentVariable("OSTREE_REPO") ?? ".";
        return OstreeRepo.Open(path);
    }

    /// <summary>Runs a verb body and turns errors into one line on stderr and exit 1.</summary>
    public static void SetRun(Command cmd, Func<ParseResult, int> body)
    {
        cmd.SetAction(pr =>
        {
            try
            {
                return body(pr);
            }
            catch (Exception e) when (e is OstreeException or IOException or UnauthorizedAccessException or FormatException or ArgumentException or InvalidOperationException)
            {
                return Fail(e);
            }
            catch (AggregateException ae) when (ae.Flatten().InnerExceptions.FirstOrDefault() is { } inner && inner is OstreeException or IOException)
            {
                return Fail(inner);
            }
        });
    }

    // One line on stderr; the whole exception too with OSTREE_SHARP_TRACE=1.
    private static int Fail(Exception e)
    {
        Console.Out.Flush();
        Console.Error.WriteLine("error: " + MessageText.OneLine(e.Message));
        if (Environment.GetEnvironmentVariable("OSTREE_SHARP_TRACE") == "1")
        {
            Console.Error.WriteLine(e);
        }

        return 1;
    }

    public static IProgress<TreeProgress>? MakeProgress(ParseResult pr, string task)
    {
        var mode = pr.GetValue(Progress) ?? "auto";
        return mode switch
        {
            "json" => new SyncProgress(p => Console.Error.WriteLine(JsonSerializer.Serialize(new ProgressEvent(task, p.FilesDone, p.FilesTotal, p.BytesDone, p.BytesTotal), CliJsonContext.Default.ProgressEvent))),
            "none" => null,
            _ when Console.IsErrorRedirected => null,
            _ => new SyncProgress(p =>
            {
                int width = 30;
                double frac = p.FilesTotal == 0 ? 1 : (double)p.FilesDone / p.FilesTotal;
                int filled = (int)(frac * width);
                Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r{task} [{new string('#', filled)}{new string('-', width - filled)}] {p.FilesDone}/{p.FilesTotal}"));
                if (p.FilesDone == p.FilesTotal)
                {
                    Console.Error.WriteLine();
                }
            }),
        };
    }

    /// <summary>Byte progress of one transfer: a bar on a terminal, JSON Lines with --progress=json.</summary>
    public static IProgress<long>? MakeByteProgress(ParseResult pr, string task)
    {
        var mode = pr.GetValue(Progress) ?? "auto";
        long lastTicks = 0;
        bool Throttle()
        {
            long now = Environment.TickCount64;
            if (now - lastTicks < 100)
            {
                return true;
            }

            lastTicks = now;
            return false;
        }

        return mode switch
        {
            "json" => new SyncProgress<long>(v =>
            {
                if (!Throttle())
                {
                    Console.Error.WriteLine(JsonSerializer.Serialize(new ProgressEvent(task, 0, 0, v, 0), CliJsonContext.Default.ProgressEvent));
                }
            }),
            "none" => null,
            _ when Console.IsErrorRedirected => null,
            _ => new SyncProgress<long>(v =>
            {
                if (!Throttle())
                {
                    Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r{task}: {v / 1048576.0:F1} MiB fetched   "));
                }
            }),
        };
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        private readonly Lock _lock = new();

        public void Report(T value)
        {
            lock (_lock)
            {
                report(value);
            }
        }
    }

    private sealed class SyncProgress(Action<TreeProgress> report) : IProgress<TreeProgress>
    {
        private readonly Lock _lock = new();

        public void Report(TreeProgress value)
        {
            lock (_lock)
            {
                report(value);
            }
        }
    }

    /// <summary>Parses a timestamp as GNU date -d does for the common forms.</summary>
    public static DateTimeOffset ParseTimestamp(string text)
    {
        var t = text.Trim();
        if (t.StartsWith('@') && long.TryParse(t[1..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var epoch))
        {
            return DateTimeOffset.FromUnixTimeSeconds(epoch);
        }

        var styles = DateTimeStyles.AllowWhiteSpaces;
        foreach (var suffix in new[] { " UTC", " GMT", "Z", " Z" })
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                t = t[..^suffix.Length];
                styles |= DateTimeStyles.AssumeUniversal;
                break;
            }
        }

        if ((styles & DateTimeStyles.AssumeUniversal) == 0)
        {
            styles |= DateTimeStyles.AssumeLocal;
        }

        if (DateTimeOffset.TryParse(t, CultureInfo.InvariantCulture, styles, out var d))
        {
            return d;
        }

        throw new FormatException($"Could not parse '{text}'");
    }

    /// <summary>The OpenPGP signing options shared by commit, gpg-sign and summary.</summary>
    public sealed class GpgSigningOptions
    {
        public Option<string?> SecretKey { get; } = new("--gpg-secret-key") { Description = "Exported (armored or binary) secret key file to sign with (gpg --export-secret-keys --armor KEY-ID); default: the key in the GnuPG home folder" };

        public Option<string?> PassphraseFile { get; } = new("--gpg-passphrase-file") { Description = "File holding the passphrase of a protected secret key" };

        public Option<string?> HomeDir { get; } = new("--gpg-homedir") { Description = "GnuPG home folder whose pubring and private-keys-v1.d hold the signing key (default $GNUPGHOME, else ~/.gnupg)" };

        public void AddTo(Command cmd)
        {
            cmd.Options.Add(SecretKey);
            cmd.Options.Add(PassphraseFile);
            cmd.Options.Add(HomeDir);
        }

        /// <summary>Loads the signing key <paramref name="keyId"/> named by the options.</summary>
        public (Org.BouncyCastle.Bcpg.OpenPgp.PgpPrivateKey Key, Org.BouncyCastle.Bcpg.OpenPgp.PgpPublicKey Public) Load(ParseResult pr, string keyId)
        {
            var pass = pr.GetValue(PassphraseFile) is { } pf ? File.ReadAllText(pf).TrimEnd('\n', '\r') : null;
            if (pr.GetValue(SecretKey) is { } file)
            {
                var key = Signing.GpgCommitSigner.LoadSecretKey(file, keyId, pass, out var secret);
                return (key, secret.PublicKey);
            }

            var home = pr.GetValue(HomeDir) ?? Environment.GetEnvironmentVariable("GNUPGHOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".gnupg");
            var keyring = new Signing.GpgKeyring();
            keyring.AddHomeDir(home);
            var pub = keyring.FindById(keyId) ?? throw new Signing.SignatureException($"No public key {keyId} in GnuPG home folder {home}");
            return (Signing.GnupgAgentKeys.Load(home, pub, pass), pub);
        }
    }

    /// <summary>Splits <c>KEY=VALUE</c> at the first '=' (the key must not be empty).</summary>
    public static (string Key, string Value) SplitKeyValue(string kv, string option)
    {
        int eq = kv.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new ArgumentException($"{option}: missing '=' in '{kv}'");
        }

        return (kv[..eq], kv[(eq + 1)..]);
    }

    public static string FormatDate(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss '+0000'", CultureInfo.InvariantCulture);
}
