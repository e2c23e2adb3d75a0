using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

internal sealed record RunResult(int ExitCode, string Stdout, string Stderr)
{
    public string Out => Stdout.Trim();
}

/// <summary>Runs the real ostree and our CLI.</summary>
internal static class Tools
{
    public static string OursDll => Path.Combine(AppContext.BaseDirectory, "ostree-sharp.dll");

    public static RunResult Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? cwd = null)
    {
        var psi = StartInfo(file, args);
        if (cwd is not null)
        {
            psi.WorkingDirectory = cwd;
        }

        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new RunResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    // FILE with ARGS, output redirected, in the C.UTF-8 locale and UTC.
    private static ProcessStartInfo StartInfo(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["LC_ALL"] = "C.UTF-8";
        psi.Environment["TZ"] = "UTC";
        return psi;
    }

    public static RunResult Ostree(params string[] args) => Run("ostree", args);

    /// <summary>Debian 12's ostree, on PATH: the version our defaults follow.</summary>
    public const string V2022 = "2022.7";

    /// <summary>Debian forky's ostree, run through bubblewrap (scripts/forky-peers.sh): the newer peer.</summary>
    public const string V2026 = "2026.4";

    /// <summary>The versions of the real ostree the interop tests compare with, for <c>[MemberData]</c>.</summary>
    public static TheoryData<string> Peers => new() { V2022, V2026 };

    /// <summary>Every peer with every one of <paramref name="values"/>, for <c>[MemberData]</c>.</summary>
    public static TheoryData<string, T> PeersWith<T>(params T[] values)
    {
        var data = new TheoryData<string, T>();
        foreach (var version in new[] { V2022, V2026 })
        {
            foreach (var value in values)
            {
                data.Add(version, value);
            }
        }

        return data;
    }

    /// <summary>The command that runs the real ostree of <paramref name="version"/>.</summary>
    public static string PeerCommand(string version) => version switch
    {
        V2022 => "ostree",
        V2026 => ComposefsInteropTests.OstreeForky,
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "no such ostree peer"),
    };

    /// <summary>Runs the real ostree of <paramref name="version"/> (<see cref="V2022"/> or <see cref="V2026"/>).</summary>
    public static RunResult Peer(string version, params string[] args) => Run(PeerCommand(version), args);

    /// <summary>The real ostree of <paramref name="version"/> ("theirs") and ours ("ours"), for a test that does the same steps with each.</summary>
    public static (string Tool, Func<string[], RunResult> Run)[] TheirsAndOurs(string version) =>
        [("theirs", args => Peer(version, args)), ("ours", Ours)];

    /// <summary>Runs the same command with every peer, each of which must succeed (checks such as fsck of what we wrote).</summary>
    public static void EveryPeerOk(string what, params string[] args)
    {
        foreach (var version in new[] { V2022, V2026 })
        {
            Peer(version, args).Ok($"ostree {version} {what}");
        }
    }

    /// <summary>The native (AOT) binary scripts/test.sh publishes, when set; else the built assembly through dotnet.</summary>
    public static string? OursBinary => Environment.GetEnvironmentVariable("OSTREE_SHARP_BIN") is { Length: > 0 } b && File.Exists(b) ? b : null;

    public static RunResult Ours(params string[] args) => OursEnv(new Dictionary<string, string>(), args);

    /// <summary>Our CLI with error codes on (OSTREE_SHARP_ERROR_CODES=1): a failure names its kind and exits by it.</summary>
    public static RunResult OursCoded(params string[] args) => OursEnv(new Dictionary<string, string> { [Cli.CliErrors.Variable] = "1" }, args);

    /// <summary>
    /// A failure of kind <paramref name="code"/> reported as <see cref="OursCoded"/> reports one: the error line
    /// <c>error OSTREEnnnn: </c> and a message, the exit status of that kind, and no crash. With
    /// <paramref name="progressBefore"/> the error line is the last of stderr, after progress or a verb's own report
    /// (fsck's problems), and no stack trace; otherwise it is stderr's only line.
    /// </summary>
    public static void FailsWith(this RunResult r, OstreeErrorCode code, string what, bool progressBefore = false)
    {
        var lines = r.Stderr.Trim().Split('\n');
        var prefix = $"error {OstreeErrorCodes.Format(code)}: ";
        bool shape = progressBefore
            ? lines.Count(l => l.StartsWith("error OSTREE", StringComparison.Ordinal)) == 1 && !lines.Any(l => l.StartsWith("   at ", StringComparison.Ordinal))
            : lines.Length == 1;
        Assert.True(shape && lines[^1].StartsWith(prefix, StringComparison.Ordinal) && lines[^1].Length > prefix.Length, $"{what}: expected {prefix}..., got ({r.ExitCode}) {r.Stderr}");
        Assert.True(r.ExitCode == Cli.CliErrors.ExitCode(code), $"{what}: exit {r.ExitCode}, expected {Cli.CliErrors.ExitCode(code)} for {code}: {r.Stderr}");
    }

    public static RunResult OursEnv(IDictionary<string, string> env, params string[] args)
    {
        var command = OursArgv;
        return Run(command[0], [.. command[1..], .. args], env);
    }

    /// <summary>How our CLI is run: the native binary, else the built assembly through dotnet.</summary>
    public static string[] OursArgv => OursBinary is { } bin ? [bin] : ["dotnet", OursDll];

    /// <summary><see cref="OursArgv"/> as words of a shell script, each single-quoted.</summary>
    public static string OursShell => string.Join(' ', OursArgv.Select(w => "'" + w.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));

    /// <summary>
    /// Our CLI started and left running, output redirected, every signal at its default action: a test run from a
    /// background job of a script inherits SIGINT ignored, which exec keeps (`env --default-signal` execs, so the
    /// process id is still the CLI's, as `dotnet x.dll` hosts the CLI in its own process).
    /// </summary>
    public static Process StartOurs(params string[] args) =>
        Process.Start(StartInfo("env", ["--default-signal", .. OursArgv, .. args]))!;

    public static string Ok(this RunResult r, string what)
    {
        Assert.True(r.ExitCode == 0, $"{what} failed ({r.ExitCode}): {r.Stderr}{r.Stdout}");
        return r.Out;
    }

    /// <summary>A digest of a tree: every path with type, mode, owner, size, content hash, link target and xattrs.</summary>
    public static SortedDictionary<string, string> Describe(string root, bool owners = true, bool xattrs = true)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        void Walk(string dir, string rel)
        {
            foreach (var e in Directory.EnumerateFileSystemEntries(dir))
            {
                var name = Path.GetFileName(e);
                var r = rel + "/" + name;
                var st = Native.LStat(e);
                var sb = new StringBuilder();
                sb.Append(Convert.ToString(st.Mode, 8));
                if (owners)
                {
                    sb.Append($" {st.Uid}:{st.Gid}");
                }

                if (st.Type == 0xA000)
                {
                    sb.Append(" -> ").Append(new FileInfo(e).LinkTarget);
                }
                else if (st.Type == 0x8000)
                {
                    sb.Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(e))));
                }

                if (xattrs)
                {
                    foreach (var (n, v) in Native.ListXattrs(e).Where(x => x.Name != "user.ostreemeta").OrderBy(x => x.Name, StringComparer.Ordinal))
                    {
                        sb.Append($" {n}={Convert.ToHexStringLower(v)}");
                    }
                }

                result[r] = sb.ToString();
                if (st.Type == 0x4000)
                {
                    Walk(e, r);
                }
            }
        }

        Walk(root, string.Empty);
        return result;
    }
}

/// <summary>A temporary folder removed after the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ostree-sharp-it-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string rel] => System.IO.Path.Combine(Path, rel);

    public void Dispose()
    {
        try
        {
            FileUtil.DeleteAny(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Deployment roots carry the immutable flag, as libostree sets it: clear it, then delete.
            foreach (var dir in Directory.EnumerateDirectories(Path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true }))
            {
                OstreeSharp.Internal.Native.SetImmutable(dir, false);
            }

            FileUtil.DeleteAny(Path);
        }
    }
}
