using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using OstreeSharp.Containers.Oci;

namespace OstreeSharp.Interop.Tests;

/// <summary>
/// Images as podman builds them from a bootc base: plain tar layers (GNU tar of a folder, gzip), OCI whiteouts
/// (<c>.wh.NAME</c> files, <c>.wh..wh..opq</c>), the <c>containers.bootc</c> label, no ostree commit inside.
/// </summary>
internal static class PlainImages
{
    /// <summary>The labels of a bootc image built with podman.</summary>
    public static Dictionary<string, string> BootcLabels => new(StringComparer.Ordinal) { ["containers.bootc"] = "1" };

    /// <summary>
    /// Adds the folder <paramref name="dir"/> as one layer: a new image under <paramref name="tag"/> when
    /// <paramref name="fromTag"/> is null, else on top of that image. Returns the layer's digest.
    /// </summary>
    public static Digest AddLayer(string layout, string? fromTag, string tag, string dir, Dictionary<string, string>? labels = null, IReadOnlyList<string>? tarOptions = null)
    {
        var (gz, diffId) = TarLayer(dir, tarOptions);
        if (fromTag is null)
        {
            OstreeSharp.TestSupport.TestImages.WriteLayout(layout, tag, gz, diffId, labels ?? BootcLabels);
            return Digest.Sha256(gz);
        }

        return OstreeSharp.TestSupport.TestImages.AddLayer(layout, fromTag, tag, gz, diffId);
    }

    /// <summary>
    /// A gzip layer of <paramref name="dir"/> as GNU tar writes it (sorted, numeric owners, fixed mtime, no atime or ctime:
    /// the same folder gives the same layer; more
    /// <paramref name="tarOptions"/>, such as a <c>--transform</c>) and its DiffID.
    /// </summary>
    public static (byte[] Gz, Digest DiffId) TarLayer(string dir, IReadOnlyList<string>? tarOptions = null)
    {
        var psi = new ProcessStartInfo("tar") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--sort=name", "--numeric-owner", "--mtime=@1700000000", "--xattrs", "--xattrs-include=*", "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime" }.Concat(tarOptions ?? []).Concat(["-C", dir, "-cf", "-", "."]))
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            var buffer = new byte[1 << 16];
            int n;
            var stdout = p.StandardOutput.BaseStream;
            // Whole buffers (a pipe returns what it has): zlib-ng's output depends on how its input is cut.
            while ((n = stdout.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                z.Write(buffer, 0, n);
            }
        }

        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"tar of {dir} failed: {stderr.Result}");
        return (gz.ToArray(), Digest.FromHash("sha256", hash.GetHashAndReset()));
    }
}
