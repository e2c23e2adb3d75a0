using System.CommandLine;
using System.CommandLine.Parsing;
using OstreeSharp.Containers.Store;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

/// <summary>Things every verb shares: the --repo option, error handling, progress and JSON output.</summary>
internal static class CliSupport
{
    public static readonly Option<string?> Repo = new("--repo")
    {
        Description = "Path to the OSTree repository (default: the current folder if it is one, else $OSTREE_REPO, else the system repository)",
        Recursive = true,
    };

    /// <summary>ostree's <c>-v</c>/<c>--verbose</c>, on every verb: an error is printed with its whole stack.</summary>
    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print debug information during command processing (the whole stack of an error)",
        Recursive = true,
    };

    public static readonly Option<string?> Progress = new("--progress")
    {
        Description = "Progress output: 'auto' (bars on a terminal), 'json' (JSON Lines on stderr) or 'none'",
        Recursive = true,
    };

    private static readonly Lazy<StopSignals> s_stop = new(() => new StopSignals());

    /// <summary>
    /// Cancelled by the first SIGINT (Ctrl+C) or SIGTERM once a verb has asked for it: the verb stops where it is
    /// (a transaction is rolled back, staged objects are removed, refs do not move), prints "error: Operation was
    /// cancelled" and exits 128 + the signal's number, as a shell reports a process the signal ended. A second
    /// signal ends the process at once. A verb that never asks keeps the signals' default: the process ends at once.
    /// </summary>
    public static CancellationToken Stopping => s_stop.Value.Token;

    /// <summary>128 + the number of the signal that cancelled <see cref="Stopping"/>, or null.</summary>
    public static int? StoppedBy => s_stop.IsValueCreated ? s_stop.Value.ExitCode : null;

    /// <summary>True when <paramref name="e"/> is the cancellation a stop signal asked for (alone or among others).</summary>
    public static bool IsStop(Exception e) =>
        StoppedBy is not null && (e is OperationCanceledException || (e is AggregateException ae && ae.Flatten().InnerExceptions.Any(x => x is OperationCanceledException)));

    /// <summary>
    /// Opens the repository a verb works on (<see cref="RepoPath"/>); an invalid config is reported as ostree reports
    /// it, after "opening repo: ".
    /// </summary>
    public static OstreeRepo OpenRepo(ParseResult pr)
    {
        try
        {
            return OstreeRepo.Open(RepoPath(pr));
        }
        catch (OstreeException e) when (e.ErrorCode == OstreeErrorCode.RepositoryConfigInvalid)
        {
            throw new OstreeException(e.ErrorCode, "opening repo: " + e.Message, e);
        }
    }

    /// <summary>
    /// The repository a verb works on, as ostree finds it: <c>--repo</c>; else the current folder when it is a
    /// repository (objects/ and config); else <c>$OSTREE_REPO</c>; else the system repository,
    /// <c>$OSTREE_SYSROOT/ostree/repo</c> (<c>/ostree/repo</c> without it).
    /// </summary>
    public static string RepoPath(ParseResult pr)
    {
        if (pr.GetValue(Repo) is { } given)
        {
            return given;
        }

        if (Directory.Exists("objects") && File.Exists("config"))
        {
            return ".";
        }

        if (Environment.GetEnvironmentVariable("OSTREE_REPO") is { Length: > 0 } env)
        {
            return env;
        }

        var sysroot = Environment.GetEnvironmentVariable("OSTREE_SYSROOT") is { Length: > 0 } s ? s : "/";
        return Path.Combine(sysroot, "ostree/repo");
    }

    /// <summary>The file name this process was started as (argv[0], before any symlink is resolved).</summary>
    public static string InvokedAs()
    {
        try
        {
            var cmdline = File.ReadAllBytes("/proc/self/cmdline");
            int end = Array.IndexOf(cmdline, (byte)0);
            return Path.GetFileName(System.Text.Encoding.UTF8.GetString(cmdline, 0, end < 0 ? cmdline.Length : end));
        }
        catch (IOException)
        {
            return Path.GetFileName(Environment.GetCommandLineArgs()[0]);
        }
    }

    /// <summary>What <c>ostree admin</c> prints when another process holds the sysroot lock, on stdout as ostree prints it.</summary>
    public static void WaitingForSysrootLock() => Console.Out.WriteLine("Waiting for sysroot lock...");

    /// <summary>The same on stderr, for verbs whose stdout a script may read (bootc, container).</summary>
    public static void WaitingForSysrootLockOnStderr() => Console.Error.WriteLine("Waiting for sysroot lock...");

    /// <summary>The name of the verb right under the root that a parse chose (<c>container</c> for <c>container image pull</c>), else null.</summary>
    public static string? TopVerb(ParseResult parsed)
    {
        SymbolResult? result = parsed.CommandResult;
        string? name = null;
        while (result is CommandResult { Parent: { } parent } command)
        {
            name = command.Command.Name;
            result = parent;
        }

        return name;
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
            catch (Exception e) when (IsStop(e))
            {
                return Stopped();
            }
            catch (Exception e) when (e is OstreeException or IOException or UnauthorizedAccessException or FormatException or ArgumentException or NotSupportedException)
            {
                return Fail(e);
            }
            catch (AggregateException ae) when (ae.Flatten().InnerExceptions.FirstOrDefault() is { } inner && inner is OstreeException or IOException)
            {
                return Fail(inner);
            }
        });
    }

    /// <summary>
    /// Runs an asynchronous verb body as <see cref="SetRun"/> does, with <see cref="Stopping"/> as its token: the one
    /// place such a verb blocks (the command line is parsed and invoked synchronously).
    /// </summary>
    public static void SetRunAsync(Command cmd, Func<ParseResult, CancellationToken, Task<int>> body)
        => SetRun(cmd, pr => body(pr, Stopping).GetAwaiter().GetResult());

    /// <summary>
    /// The progress of an image pull for a terminal: its messages as lines on <paramref name="messages"/> (stdout when
    /// null), its bytes as <see cref="MakeByteProgress"/> shows them.
    /// </summary>
    public static IProgress<PullEvent> MakePullProgress(ParseResult pr, string task, TextWriter? messages = null)
    {
        var bytes = MakeByteProgress(pr, task);
        return new SyncProgress<PullEvent>(e =>
        {
            switch (e)
            {
                case PullMessage m:
                    (messages ?? Console.Out).WriteLine(m.Text);
                    break;
                case PullBytes b:
                    bytes?.Report(b.Fetched);
                    break;
            }
        });
    }

    /// <summary>The line and exit code of a verb a stop signal cancelled (GLib's words for a cancelled operation).</summary>
    public static int Stopped()
    {
        int status = CliErrors.Report(OstreeErrorCode.Cancelled, "Operation was cancelled");
        return StoppedBy ?? status;
    }

    /// <summary>
    /// One line on stderr (<see cref="CliErrors"/>); with <c>-v</c> or <c>OSTREE_SHARP_TRACE=1</c> also the code's name
    /// and the whole exception.
    /// </summary>
    public static int Fail(Exception e)
    {
        if (e is AggregateException aggregate && aggregate.Flatten().InnerExceptions is [var first, ..])
        {
            e = first; // what failed, not "One or more errors occurred"
        }

        var code = OstreeErrorCodes.Of(e);
        int status = CliErrors.Report(code, code == OstreeErrorCode.Internal ? $"{e.GetType().Name}: {e.Message}" : e.Message);
        if (Environment.GetEnvironmentVariable("OSTREE_SHARP_TRACE") == "1" || VerboseRequested)
        {
            Console.Error.WriteLine($"{OstreeErrorCodes.Format(code)} {code}");
            Console.Error.WriteLine(e);
        }

        return status;
    }

    /// <summary>Set when the command line has <c>-v</c>/<c>--verbose</c>.</summary>
    public static bool VerboseRequested { get; set; }

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

        return RelativeTime(t, DateTimeOffset.Now) ?? throw new FormatException($"Could not parse '{text}'");
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
            // GnuPG 1's secring.gpg, which GnuPG 2 still reads (migrating it to private-keys-v1.d), when the
            // agent's folder does not have the key.
            var secring = Path.Combine(home, "secring.gpg");
            try
            {
                return (Signing.GnupgAgentKeys.Load(home, pub, pass), pub);
            }
            catch (Signing.SignatureException) when (File.Exists(secring))
            {
                return (Signing.GpgCommitSigner.LoadSecretKey(secring, keyId, pass, out _), pub);
            }
        }
    }

    /// <summary>A boolean flag value as ostree reads one: 1, true, yes; 0, false, no, none (any case).</summary>
    /// <exception cref="ArgumentException">Any other value, in ostree's words.</exception>
    public static bool ParseOstreeBoolean(string value) => value.ToLowerInvariant() switch
    {
        "1" or "true" or "yes" => true,
        "0" or "false" or "no" or "none" => false,
        _ => throw new ArgumentException($"Invalid boolean argument '{value}'"),
    };

    /// <summary>
    /// The relative forms of GNU dates that ostree takes (<c>now</c>, <c>today</c>, <c>yesterday</c>, <c>tomorrow</c>,
    /// <c>N UNIT[s] [ago]</c>, <c>last UNIT</c>, <c>next UNIT</c>; units second to year), from <paramref name="now"/>;
    /// null for anything else.
    /// </summary>
    public static DateTimeOffset? RelativeTime(string text, DateTimeOffset now)
    {
        var words = text.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        switch (words)
        {
            case ["now"] or ["today"]:
                return now;
            case ["yesterday"]:
                return now.AddDays(-1);
            case ["tomorrow"]:
                return now.AddDays(1);
        }

        bool ago = words.Length > 0 && words[^1] == "ago";
        var rest = ago ? words[..^1] : words;
        if (rest.Length is < 1 or > 2)
        {
            return null;
        }

        long count = 1;
        if (rest.Length == 2)
        {
            if (rest[0] is "last")
            {
                count = -1;
            }
            else if (rest[0] is "next" or "a" or "an")
            {
                count = 1;
            }
            else if (!long.TryParse(rest[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out count))
            {
                return null;
            }
        }

        var unit = rest[^1].TrimEnd('s');
        if (ago)
        {
            count = -count;
        }

        try
        {
            return unit switch
            {
                "sec" or "second" => now.AddSeconds(count),
                "min" or "minute" => now.AddMinutes(count),
                "hour" => now.AddHours(count),
                "day" => now.AddDays(count),
                "week" => now.AddDays(7 * count),
                "fortnight" => now.AddDays(14 * count),
                "month" => now.AddMonths(checked((int)count)),
                "year" => now.AddYears(checked((int)count)),
                _ => null,
            };
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException)
        {
            return null;
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

    /// <summary>
    /// Puts verbs first, as ostree reads its command line: the verb is the first argument that does not start with
    /// <c>-</c>, wherever it stands, so <c>ostree --repo=R --print-metadata-key=K show REV</c> and
    /// <c>ostree admin --sysroot=S deploy REF</c> work. The other arguments keep their order; a first non-option that
    /// names no verb (the value of <c>--repo PATH</c>) leaves the line as it is.
    /// </summary>
    public static string[] HoistVerbs(Command root, string[] args)
    {
        var list = args.ToList();
        Command current = root;
        int start = 0;
        while (true)
        {
            int i = start;
            while (i < list.Count && list[i] != "--" && list[i].StartsWith('-'))
            {
                i++;
            }

            // `ostree config -- set KEY -1`: GLib stops reading options at "--" but still finds the verb after it.
            if (i + 1 < list.Count && list[i] == "--" && current.Subcommands.Any(c => c.Name == list[i + 1]))
            {
                (list[i], list[i + 1]) = (list[i + 1], list[i]);
            }

            if (i >= list.Count || list[i] == "--")
            {
                break;
            }

            var sub = current.Subcommands.FirstOrDefault(c => c.Name == list[i] || c.Aliases.Contains(list[i]));
            if (sub is null)
            {
                break;
            }

            var verb = list[i];
            list.RemoveAt(i);
            list.Insert(start, verb);
            current = sub;
            start++;
        }

        return [.. list];
    }

    /// <summary>
    /// ostree's CLI extensions: when the verb (the first argument that is not an option, nor the value of
    /// <c>--repo PATH</c>) is none of ours, <c>ostree-VERB</c> from PATH runs with the other arguments and its exit
    /// status is ours; without one, "Unknown command". Null when the verb is ours (or there is none).
    /// </summary>
    public static int? Extension(Command root, string[] args)
    {
        int i = 0;
        while (i < args.Length && args[i] != "--" && args[i].StartsWith('-'))
        {
            i += root.Options.Any(o => o.Name == args[i] && o.Arity.MinimumNumberOfValues > 0) ? 2 : 1;
        }

        if (i >= args.Length || args[i] == "--")
        {
            return null;
        }

        var verb = args[i];
        if (root.Subcommands.Any(c => c.Name == verb || c.Aliases.Contains(verb)) || verb.Contains('/') || verb.Length == 0)
        {
            return null;
        }

        var program = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "ostree-" + verb)).FirstOrDefault(File.Exists);
        if (program is null)
        {
            Console.Error.Write(CliHelp.Render(root));
            Console.Error.WriteLine();
            return CliErrors.Report(OstreeErrorCode.InvalidArgument, $"Unknown command '{verb}'");
        }

        var psi = new System.Diagnostics.ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var a in args.Where((_, k) => k != i))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = System.Diagnostics.Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>
    /// The verb <paramref name="args"/> starts with (after <see cref="HoistVerbs"/>) and the options it takes, by every
    /// name and alias: its own, then the recursive ones of the commands above it. Returns where its arguments start.
    /// </summary>
    private static (int ArgsStart, Dictionary<string, Option> Options) VerbOptions(Command root, string[] args)
    {
        Command current = root;
        int i = 0;
        while (i < args.Length && current.Subcommands.FirstOrDefault(c => c.Name == args[i]) is { } sub)
        {
            current = sub;
            i++;
        }

        var options = new Dictionary<string, Option>(StringComparer.Ordinal);
        for (Command? c = current; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            foreach (var o in c.Options.Where(o => c == current || o.Recursive))
            {
                options.TryAdd(o.Name, o);
                foreach (var alias in o.Aliases)
                {
                    options.TryAdd(alias, o);
                }
            }
        }

        return (i, options);
    }

    /// <summary>
    /// An option the verb does not have is refused in GLib's words ("Unknown option --x"), before System.CommandLine
    /// could take it for the value of an argument that accepts several (<c>pull --subpath=/x REMOTE</c> read
    /// "--subpath=/x" as the remote). Returns the unknown option, or null.
    /// </summary>
    public static string? UnknownOption(Command root, string[] args)
    {
        var (i, known) = VerbOptions(root, args);
        foreach (var help in new[] { "--help", "-h", "-?" })
        {
            known.TryAdd(help, null!);
        }

        for (int k = i; k < args.Length && args[k] != "--"; k++)
        {
            var a = args[k];
            if (a.Length < 2 || a[0] != '-' || (a.Length > 1 && char.IsAsciiDigit(a[1])))
            {
                continue; // an argument, "-" or a negative number
            }

            int eq = a.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? a[..eq] : a;
            if (!known.TryGetValue(name, out var o))
            {
                // Short flags bundled as GLib and System.CommandLine both read them: ls -RXC is -R -X -C.
                if (a[1] != '-' && eq < 0 && a.Skip(1).All(ch => known.TryGetValue("-" + ch, out var f) && f is not null && f.Arity.MinimumNumberOfValues == 0))
                {
                    continue;
                }

                return name;
            }

            if (eq < 0 && o is not null && o.Arity.MinimumNumberOfValues > 0)
            {
                k++; // its value, which may start with '-'
            }
        }

        return null;
    }

    /// <summary>
    /// As GLib's option parser: an option that takes one value may be given again, and the last one wins
    /// (<c>admin upgrade --os=a --os=b</c>). Earlier occurrences of such options of the verb <paramref name="args"/>
    /// names are dropped; options that collect values (<c>--karg</c>) and flags are left alone.
    /// </summary>
    public static string[] LastSingleValueWins(Command root, string[] args)
    {
        var (i, options) = VerbOptions(root, args);
        var single = options.Where(kv => kv.Value.Arity is { MinimumNumberOfValues: 1, MaximumNumberOfValues: 1 })
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

        // Where each option last occurs, then every earlier occurrence (with its separate value) is dropped.
        var last = new Dictionary<Option, int>();
        var occurrences = new List<(int Index, Option Option, int Width)>();
        for (int k = i; k < args.Length && args[k] != "--"; k++)
        {
            var a = args[k];
            int eq = a.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? a[..eq] : a;
            if (a.StartsWith("--", StringComparison.Ordinal) && single.TryGetValue(name, out var o))
            {
                int width = eq > 0 ? 1 : 2;
                occurrences.Add((k, o, width));
                last[o] = k;
                k += width - 1;
            }
        }

        var drop = new HashSet<int>();
        foreach (var (index, o, width) in occurrences.Where(x => last[x.Option] != x.Index))
        {
            for (int w = 0; w < width; w++)
            {
                drop.Add(index + w);
            }
        }

        return drop.Count == 0 ? args : [.. args.Where((_, k) => !drop.Contains(k))];
    }

    /// <summary>
    /// <c>--version</c> in ostree's YAML: the libostree release whose command line this one follows, the features
    /// built in (by ostree's names, only those we have), then our own version.
    /// </summary>
    /// <summary>Our version, as the assembly records it.</summary>
    public static string Version => typeof(CliSupport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    public static string VersionText()
    {
        var ours = Version;
        var features = new[] { "gpgme", "sign-ed25519", "libarchive", "selinux", "composefs", "release", "p2p" };
        var sb = new StringBuilder();
        sb.Append("libostree:\n");
        sb.Append(CultureInfo.InvariantCulture, $" Version: '{OstreeSharp.Transfer.RemoteFetcher.LibostreeVersion}'\n");
        sb.Append(" Features:\n");
        foreach (var f in features)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  - {f}\n");
        }

        sb.Append("ostree-sharp:\n");
        sb.Append(CultureInfo.InvariantCulture, $" Version: '{ours}'\n");
        return sb.ToString();
    }

    /// <summary><c>bootc --version</c>: the bootc release whose commands these follow, and ours.</summary>
    public static string BootcVersionText() =>
        $"bootc 1.16.0 (ostree-sharp {Version})\n";

    public static string FormatDate(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss '+0000'", CultureInfo.InvariantCulture);
}
