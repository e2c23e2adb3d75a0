using System.Buffers;
using OstreeSharp.Deltas;
using OstreeSharp.Objects;

namespace OstreeSharp.Tests;

/// <summary>The pieces static deltas are made of: bsdiff, xz, varints, names, and the part interpreter's refusals.</summary>
public sealed class DeltaCodecTests
{
    private static byte[] Random(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    public static TheoryData<string> Edits => ["identical", "insert", "delete", "scattered", "shifted-pointers", "empty-old", "empty-new", "unrelated", "zeros"];

    private static (byte[] Old, byte[] New) Case(string edit)
    {
        var old = Random(200_000, 1);
        switch (edit)
        {
            case "identical":
                return (old, (byte[])old.Clone());
            case "insert":
                return (old, [.. old[..70_000], .. Random(5000, 2), .. old[70_000..]]);
            case "delete":
                return (old, [.. old[..10_000], .. old[60_000..]]);
            case "scattered":
                var n = (byte[])old.Clone();
                var r = new Random(3);
                for (int i = 0; i < 500; i++)
                {
                    n[r.Next(n.Length)] ^= 0x5a;
                }

                return (old, n);
            case "shifted-pointers":
                // Like a relinked binary: every 4-byte word moved by a constant, the rest the same.
                var s = (byte[])old.Clone();
                for (int i = 0; i + 4 <= s.Length; i += 64)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(s.AsSpan(i), System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(s.AsSpan(i)) + 0x40);
                }

                return (old, s);
            case "empty-old":
                return ([], old);
            case "empty-new":
                return (old, []);
            case "unrelated":
                return (old, Random(150_000, 9));
            default:
                return (new byte[100_000], [.. new byte[50_000], .. Random(10, 4), .. new byte[60_000]]);
        }
    }

    [Theory]
    [MemberData(nameof(Edits))]
    public void Bsdiff_patches_rebuild_the_new_file_exactly(string edit)
    {
        var (oldData, newData) = Case(edit);
        var patch = new ArrayBufferWriter<byte>();
        Bsdiff.Diff(oldData, newData, patch);
        var rebuilt = new byte[newData.Length];
        Bsdiff.Patch(oldData, patch.WrittenSpan, rebuilt);
        Assert.Equal(newData, rebuilt);
        if (edit is "identical" or "insert" or "scattered" or "shifted-pointers")
        {
            // The patch of a similar file compresses to a small fraction of it.
            Assert.True(Xz.Compress(patch.WrittenSpan, 6).Length < newData.Length / 10, $"{edit}: patch compresses to {Xz.Compress(patch.WrittenSpan, 6).Length} bytes");
        }
    }

    [Fact]
    public void Bsdiff_refuses_a_patch_that_is_truncated_or_overflows()
    {
        var (oldData, newData) = Case("insert");
        var patch = new ArrayBufferWriter<byte>();
        Bsdiff.Diff(oldData, newData, patch);
        var output = new byte[newData.Length];
        Assert.Throws<OstreeFormatException>(() => Bsdiff.Patch(oldData, patch.WrittenSpan[..(patch.WrittenCount / 2)], output));
        var bad = patch.WrittenSpan.ToArray();
        bad[0] = 0xff;
        bad[7] = 0x7f; // an add length beyond the output
        Assert.Throws<OstreeFormatException>(() => Bsdiff.Patch(oldData, bad, output));
    }

    [Fact]
    public void Suffix_array_orders_every_suffix()
    {
        var data = "mississippi banana abracadabra"u8.ToArray();
        var sa = SuffixArray.Build(data);
        Assert.Equal(data.Length + 1, sa.Length);
        Assert.Equal(data.Length, sa[0]);
        for (int i = 1; i < sa.Length - 1; i++)
        {
            Assert.True(data.AsSpan(sa[i]).SequenceCompareTo(data.AsSpan(sa[i + 1])) < 0);
        }
    }

    [Fact]
    public void Xz_round_trips_and_refuses_corruption()
    {
        var data = Random(100_000, 5).Concat(new byte[100_000]).ToArray();
        var packed = Xz.Compress(data);
        Assert.Equal(new byte[] { 0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0 }, packed[..6]);
        Assert.Equal(data, Xz.Decompress(packed, data.Length, "test"));
        Assert.Throws<OstreeFormatException>(() => Xz.Decompress(packed, data.Length - 1, "test"));
        Assert.Throws<OstreeFormatException>(() => Xz.Decompress(packed[..(packed.Length / 2)], data.Length, "test"));
        var flipped = (byte[])packed.Clone();
        flipped[packed.Length / 2] ^= 1;
        Assert.Throws<OstreeFormatException>(() => Xz.Decompress(flipped, data.Length, "test"));
    }

    [Fact]
    public void Varints_are_leb128()
    {
        var w = new ArrayBufferWriter<byte>();
        ulong[] values = [0, 1, 127, 128, 300, uint.MaxValue, ulong.MaxValue];
        foreach (var v in values)
        {
            Varint.Write(w, v);
        }

        Assert.Equal(new byte[] { 0xac, 0x02 }, w.WrittenSpan.Slice(5, 2).ToArray());
        int p = 0;
        foreach (var v in values)
        {
            Assert.Equal(v, Varint.Read(w.WrittenSpan, ref p, "test"));
        }

        p = 0;
        Assert.Throws<OstreeFormatException>(() => Varint.Read(new byte[] { 0x80, 0x80 }, ref p, "test"));
    }

    [Fact]
    public void Delta_names_use_modified_base64()
    {
        var from = Checksum.Parse("a0c905e2a08e91acfff15f66822d97ec4fa1ea1d4d40aa6d276d68868bc1f18c");
        var to = Checksum.Parse("9dd0a2f4b5f8676351235e448df13cdc865d7f5b0f87824c8460aedf69308c31");
        // As `ostree static-delta generate` named them.
        Assert.Equal("deltas/oM/kF4qCOkaz_8V9mgi2X7E+h6h1NQKptJ21ohovB8Yw-ndCi9LX4Z2NRI15EjfE83IZdf1sPh4JMhGCu32kwjDE", new DeltaName(from, to).RelativeDir);
        Assert.Equal("deltas/nd/Ci9LX4Z2NRI15EjfE83IZdf1sPh4JMhGCu32kwjDE", new DeltaName(null, to).RelativeDir);
        Assert.Equal("delta-indexes/nd/Ci9LX4Z2NRI15EjfE83IZdf1sPh4JMhGCu32kwjDE.index", DeltaName.IndexPath(to));
        Assert.True(DeltaName.TryParseModifiedBase64("kF4qCOkaz_8V9mgi2X7E+h6h1NQKptJ21ohovB8Yw".Insert(0, "oM"), out var parsed));
        Assert.Equal(from, parsed);
        Assert.Equal(new DeltaName(from, to), DeltaName.Parse(new DeltaName(from, to).ToString()));
    }
}
