// Seed inputs that need the library to build (framing the targets add around real files): used once by
// fuzz/make-corpus.sh, kept in the repository as fuzz/corpus.
using System.Buffers;
using System.Text;
using OstreeSharp.Containers.Deltas;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Deltas;
using OstreeSharp.Objects;
using OstreeSharp.Tar;

namespace OstreeSharp.Fuzz;

internal static class Seeds
{
    /// <summary>Writes the delta-part, bsdiff and layer-delta seeds into <paramref name="corpus"/> from the static deltas under <paramref name="deltas"/>.</summary>
    public static void Make(string corpus, string deltas)
    {
        int n = 0;
        foreach (var superblock in Directory.EnumerateFiles(deltas, "superblock", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var dir = Path.GetDirectoryName(superblock)!;
            var sb = DeltaSuperblock.Parse(File.ReadAllBytes(superblock), superblock);
            for (int i = 0; i < sb.Parts.Count; i++)
            {
                var objects = sb.Parts[i].Objects;
                var part = StaticDeltas.InlinePart(sb, i) ?? File.ReadAllBytes(Path.Combine(dir, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                if (objects.Count > byte.MaxValue)
                {
                    continue;
                }

                var seed = new MemoryStream();
                seed.WriteByte((byte)objects.Count);
                foreach (var o in objects)
                {
                    seed.WriteByte((byte)o.Type);
                    seed.Write(o.Checksum.ToBytes());
                }

                seed.Write(part);
                Write(corpus, "delta-part", $"part-{n++}", seed.ToArray());
                // The same payload uncompressed, so mutations reach the operations rather than the xz decoder.
                if (part[0] == (byte)'x')
                {
                    var plain = new MemoryStream();
                    plain.Write(seed.ToArray().AsSpan(0, 1 + (objects.Count * 33)));
                    plain.WriteByte(0);
                    plain.Write(DeltaPartExecutor.Decompress(part, "seed"));
                    Write(corpus, "delta-part", $"part-{n++}", plain.ToArray());
                }
            }
        }

        // bsdiff: [old length][new length, 2 bytes little-endian][old][patch]
        var old = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog. ostree static deltas patch files.");
        var @new = Encoding.ASCII.GetBytes("The quick brown cat jumps over the lazy dog! ostree static deltas patch their files.");
        var patch = new ArrayBufferWriter<byte>();
        Bsdiff.Diff(old, @new, patch);
        Write(corpus, "bsdiff", "text", [(byte)old.Length, (byte)@new.Length, (byte)(@new.Length >> 8), .. old, .. patch.WrittenSpan]);

        // layer-delta: a tar of one file rebuilt from a header record and literal bytes.
        var tar = new MemoryStream();
        using (var w = new TarWriter(tar, leaveOpen: true))
        {
            w.WriteFile(new TarEntry { Name = "usr/share/hello.txt", Type = TarType.Regular, Mode = 0x1a4, Size = 6 }, "hello\n"u8);
            w.Finish();
        }

        var bytes = tar.ToArray();
        var delta = new MemoryStream();
        var writer = new LayerDeltaWriter(delta, ContainerDeltaFormat.WholeTar, Digest.Sha256(bytes), bytes.Length, new Checksum(new byte[32]), new Dictionary<Checksum, int>(), []);
        writer.Header(bytes.AsSpan(0, 512), null, 6);
        writer.Literal(bytes.AsSpan(512));
        writer.Finish();
        Write(corpus, "layer-delta", "one-file", delta.ToArray());
    }

    private static void Write(string corpus, string target, string name, byte[] bytes)
    {
        Directory.CreateDirectory(Path.Combine(corpus, target));
        File.WriteAllBytes(Path.Combine(corpus, target, name), bytes);
    }
}
