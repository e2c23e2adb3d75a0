using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OstreeSharp.Internal;
using OstreeSharp.Operations;

namespace OstreeSharp.Interop.Tests;

/// <summary>What one boot of the guest reported on its serial console.</summary>
internal sealed record BootReport(string Name, string Log, bool Killed, TimeSpan Elapsed, TimeSpan? BootedAfter, string Entry)
{
    /// <summary>The <c>OSTREE-SHARP-TEST key=value</c> lines of the agent (the last value of each key).</summary>
    public IReadOnlyDictionary<string, string> Values
    {
        get
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in Lines)
            {
                foreach (var word in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    int eq = word.IndexOf('=', StringComparison.Ordinal);
                    if (eq > 0)
                    {
                        d[word[..eq]] = word[(eq + 1)..];
                    }
                }
            }

            return d;
        }
    }

    /// <summary>The agent's lines, without the prefix.</summary>
    public IEnumerable<string> Lines => Log.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith(Vm.Prefix, StringComparison.Ordinal)).Select(l => l[Vm.Prefix.Length..]);

    /// <summary>Whether the agent printed this line.</summary>
    public bool Has(string line) => Lines.Contains(line);

    /// <summary>The real <c>ostree admin status</c> the agent printed.</summary>
    public string Status
    {
        get
        {
            var lines = Log.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
            int a = lines.IndexOf(Vm.Prefix + "status-begin"), b = lines.IndexOf(Vm.Prefix + "status-end");
            return a >= 0 && b > a ? string.Join('\n', lines.Skip(a + 1).Take(b - a - 1)) : string.Empty;
        }
    }

    public string Summary => $"{Name}: {(Killed ? "killed" : "exited")} after {Elapsed.TotalSeconds:F0} s, booted {(BootedAfter is { } t ? $"at {t.TotalSeconds:F0} s" : "never")}, version={Values.GetValueOrDefault("version", "?")}";
}

/// <summary>
/// Boots a disk image under QEMU (TCG, no network device) as a BLS boot loader would: the entry with the highest
/// version on the boot partition, read with debugfs without replaying the journal; its linux, initrd and options.
/// </summary>
internal static class Vm
{
    public const string Prefix = "OSTREE-SHARP-TEST ";

    private static readonly object NoteLock = new();

    /// <summary>Where serial logs are kept: <c>TestResults/vm</c> of the repository (a test artifact).</summary>
    public static string LogDirectory
    {
        get
        {
            var dir = Path.Combine(RepoRoot, "TestResults", "vm");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    public static string RepoRoot
    {
        get
        {
            var root = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(root, "OstreeSharp.slnx")))
            {
                root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("cannot find the repository root");
            }

            return root;
        }
    }

    /// <summary>The partitions of a disk image (sfdisk --json): name to byte offset.</summary>
    public static Dictionary<string, long> Partitions(string disk)
    {
        using var doc = JsonDocument.Parse(Tools.Run("sfdisk", ["--json", disk]).Ok("sfdisk --json"));
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray())
        {
            result[p.GetProperty("name").GetString() ?? string.Empty] = p.GetProperty("start").GetInt64() * 512;
        }

        return result;
    }

    /// <summary>The default BLS entry of the boot filesystem at <paramref name="bootOffset"/>, and its kernel and initramfs copied out.</summary>
    public static (string Text, string Options, string Kernel, string Initrd) DefaultEntry(string disk, long bootOffset, string workDir)
    {
        var fs = $"{disk}?offset={bootOffset.ToString(CultureInfo.InvariantCulture)}";
        string Debugfs(string request) => Tools.Run("debugfs", ["-c", "-R", request, fs]).Ok("debugfs " + request);
        var names = Debugfs("ls -p /loader/entries").Split('\n')
            .Select(l => l.Split('/'))
            .Where(f => f.Length > 5 && f[5].EndsWith(".conf", StringComparison.Ordinal))
            .Select(f => f[5]).ToList();
        Assert.True(names.Count > 0, "no boot entries in /loader/entries of " + disk);
        var entries = names.Select(n => Debugfs($"cat /loader/entries/{n}")).ToList();
        string Field(string entry, string key) => entry.Split('\n').Select(l => l.TrimEnd()).FirstOrDefault(l => l.StartsWith(key + " ", StringComparison.Ordinal))?[(key.Length + 1)..] ?? string.Empty;
        var best = entries.OrderByDescending(e => Field(e, "version"), Comparer<string>.Create(OstreeSharp.Sysroot.VersionCompare.Compare)).First();
        var kernel = Path.Combine(workDir, "vmlinuz");
        var initrd = Path.Combine(workDir, "initramfs.img");
        File.Delete(kernel);
        File.Delete(initrd);
        Debugfs($"dump {Field(best, "linux")} {kernel}");
        Debugfs($"dump {Field(best, "initrd")} {initrd}");
        Assert.True(new FileInfo(kernel).Length > 0 && new FileInfo(initrd).Length > 0, "kernel or initramfs of the default entry missing on " + disk);
        return (best, Field(best, "options"), kernel, initrd);
    }

    /// <summary>
    /// The test version (<c>/usr/share/ostree-sharp-test/version</c>) of the deployment the default entry boots: its
    /// <c>ostree=</c> link followed on the root filesystem, as the initramfs follows it, read without the journal.
    /// </summary>
    public static string DefaultVersion(string disk, string workDir)
    {
        var parts = Partitions(disk);
        var (_, options, _, _) = DefaultEntry(disk, parts["boot"], workDir);
        var ostree = options.Split(' ').Single(o => o.StartsWith("ostree=", StringComparison.Ordinal))["ostree=".Length..];
        // The kernel replays the root filesystem's journal when the initramfs mounts it (the boot link farm's
        // switch lives there); the boot filesystem above was read as the loader reads it, without a replay.
        // e2fsck loses ?offset= when it reopens after a replay: the partition is copied out (sparse) first.
        var copy = Path.Combine(workDir, "root-partition.img");
        var (offset, size) = (parts["root"], PartitionSizes(disk)["root"]);
        Tools.Run("dd", [$"if={disk}", $"of={copy}", "bs=1M", $"skip={offset >> 20}", $"count={size >> 20}", "conv=sparse", "status=none"]).Ok("dd root partition");
        try
        {
            var replay = Tools.Run("e2fsck", ["-E", "journal_only", "-p", copy]);
            Assert.True(replay.ExitCode is 0 or 1, "e2fsck -E journal_only: " + replay.Stderr + replay.Stdout);
            return Tools.Run("debugfs", ["-c", "-R", $"cat {ostree}/usr/share/ostree-sharp-test/version", copy]).Ok("debugfs cat version").Trim();
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>The partitions of a disk image: name to size in bytes.</summary>
    public static Dictionary<string, long> PartitionSizes(string disk)
    {
        using var doc = JsonDocument.Parse(Tools.Run("sfdisk", ["--json", disk]).Ok("sfdisk --json"));
        return doc.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray()
            .ToDictionary(p => p.GetProperty("name").GetString() ?? string.Empty, p => p.GetProperty("size").GetInt64() * 512, StringComparer.Ordinal);
    }

    /// <summary>
    /// Boots <paramref name="disk"/> with <paramref name="data"/> as the second disk until the guest powers off, or
    /// kills QEMU (SIGKILL) <paramref name="killAfter"/> after the agent printed <paramref name="killMark"/>.
    /// </summary>
    public static BootReport Boot(string name, string disk, string? data, string workDir, TimeSpan timeout, string? killMark = null, TimeSpan? killAfter = null)
    {
        var boot = Partitions(disk)["boot"];
        var (entry, options, kernel, initrd) = DefaultEntry(disk, boot, workDir);
        var log = Path.Combine(LogDirectory, name + ".log");
        File.Delete(log);
        // One virtual CPU: with two under multi-threaded TCG, the guest kernel's live code patching (int3 text
        // pokes) raced now and then into an oops at 1.6 s, before anything of ours ran (1 boot in 9 seen here).
        var args = new List<string>
        {
            "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", "2048",
            "-nic", "none", "-nographic", "-no-reboot", "-monitor", "none", "-serial", "file:" + log,
            "-kernel", kernel, "-initrd", initrd, "-append", options,
            "-drive", $"file={disk},if=virtio,format=raw,cache=writeback",
        };
        if (data is not null)
        {
            args.AddRange(["-drive", $"file={data},if=virtio,format=raw,cache=writeback"]);
        }

        var psi = new ProcessStartInfo("qemu-system-x86_64") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var sw = Stopwatch.StartNew();
        using var qemu = Process.Start(psi)!;
        var qemuOut = qemu.StandardOutput.ReadToEndAsync();
        var qemuErr = qemu.StandardError.ReadToEndAsync();
        TimeSpan? booted = null, killAt = null;
        bool killed = false;
        while (!qemu.WaitForExit(200))
        {
            var text = ReadShared(log);
            if (booted is null && text.Contains(Prefix + "booted ", StringComparison.Ordinal))
            {
                booted = sw.Elapsed;
            }

            if (killMark is not null && killAt is null && text.Contains(Prefix + killMark, StringComparison.Ordinal))
            {
                killAt = sw.Elapsed + (killAfter ?? TimeSpan.Zero);
            }

            if ((killAt is { } k && sw.Elapsed >= k) || sw.Elapsed > timeout)
            {
                // A power cut: nothing of the guest's page cache reaches the disk.
                qemu.Kill();
                qemu.WaitForExit();
                killed = killAt is not null && sw.Elapsed <= timeout + TimeSpan.FromSeconds(1);
                if (!killed)
                {
                    File.AppendAllText(log, $"\n[harness] timeout after {timeout.TotalSeconds} s\n");
                }

                break;
            }
        }

        var final = ReadShared(log) + (qemuErr.Result.Length > 0 ? "\n[qemu stderr] " + qemuErr.Result : string.Empty) + qemuOut.Result;
        File.WriteAllText(log, final);
        var report = new BootReport(name, final, killed, sw.Elapsed, booted, entry);
        Note(report.Summary);
        return report;
    }

    /// <summary>A line for the run's summary: TestResults/vm/summary.log, and the test's output.</summary>
    public static void Note(string line)
    {
        lock (NoteLock)
        {
            File.AppendAllText(Path.Combine(LogDirectory, "summary.log"), $"[vm] {line}\n");
        }

        Console.WriteLine("[vm] " + line);
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var r = new StreamReader(f, Encoding.UTF8);
            return r.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return string.Empty;
        }
    }

    /// <summary>A scratch disk (ext4) holding <paramref name="run"/> as run.sh and the OCI layout of the test images.</summary>
    /// <summary>
    /// Copies <paramref name="initramfs"/> to <paramref name="destination"/> with an uncompressed cpio archive (newc)
    /// of <paramref name="files"/> appended: the kernel unpacks concatenated archives in order, so these files are
    /// added to (or replace those of) the initramfs, as a second initrd would.
    /// </summary>
    public static void AppendToInitramfs(string initramfs, string destination, IReadOnlyList<(string Path, string Text)> files)
    {
        using var output = File.Create(destination);
        using (var input = File.OpenRead(initramfs))
        {
            input.CopyTo(output);
        }

        Pad(output);
        uint ino = 1000;
        void Entry(string name, uint mode, byte[] data)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name + "\0");
            var header = string.Create(CultureInfo.InvariantCulture, $"070701{ino++:X8}{mode:X8}{0:X8}{0:X8}{1:X8}{0:X8}{data.Length:X8}{0:X8}{0:X8}{0:X8}{0:X8}{nameBytes.Length:X8}{0:X8}");
            output.Write(Encoding.ASCII.GetBytes(header));
            output.Write(nameBytes);
            Pad(output);
            output.Write(data);
            Pad(output);
        }

        foreach (var dir in files.SelectMany(f => Parents(f.Path)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            Entry(dir, 0x41ED, []);
        }

        foreach (var (path, text) in files)
        {
            Entry(path, 0x81A4, Encoding.UTF8.GetBytes(text));
        }

        Entry("TRAILER!!!", 0, []);
        Pad(output);

        static IEnumerable<string> Parents(string path)
        {
            for (int i = path.IndexOf('/', StringComparison.Ordinal); i > 0; i = path.IndexOf('/', i + 1))
            {
                yield return path[..i];
            }
        }

        static void Pad(Stream s)
        {
            while (s.Position % 4 != 0)
            {
                s.WriteByte(0);
            }
        }
    }

    public static string DataDisk(string workDir, string images, string run)
    {
        var dir = Path.Combine(workDir, "data");
        if (Directory.Exists(dir))
        {
            FileUtil.DeleteAny(dir);
        }

        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "run.sh"), "set -x\n" + run);

        // The layout is linked in (same filesystem): mkfs.ext4 -d copies it.
        Tools.Run("cp", ["-al", images, Path.Combine(dir, "images")]).Ok("cp -al images");
        var img = Path.Combine(workDir, "data.img");
        File.Delete(img);
        long bytes = 0;
        foreach (var f in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            bytes += new FileInfo(f).Length;
        }

        var sizeMb = ((bytes * 2) >> 20) + 256;
        Tools.Run("mkfs.ext4", ["-q", "-F", "-L", "testdata", "-d", dir, img, sizeMb.ToString(CultureInfo.InvariantCulture) + "M"]).Ok("mkfs.ext4 data");
        return img;
    }
}
