using OstreeSharp.Containers;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Tests.Containers;

public class ChunkPackerTests
{
    private static PackComponent C(string name, string version, uint freq, ulong size) => new($"{name}.{version}", name, name, 1, freq, size);

    private static readonly PackComponent[] Example =
    [
        C("pkg1", "0", PackComponent.Always, 100000), C("pkg2", "0", PackComponent.Always, 99999), C("pkg3", "0", 30, 99998),
        C("pkg4", "0", 100, 99997), C("pkg10", "0", 51, 1000), C("pkg8", "0", 50, 500), C("pkg9", "0", 1, 200),
        C("pkg11", "0", 100000, 199), C("pkg6", "0", 30, 2), C("pkg7", "0", 30, 1),
    ];

    private static string Show(List<List<PackComponent>> bins) => string.Join(' ', bins.Select(b => "[" + string.Join(',', b.Select(c => c.Name)) + "]"));

    [Fact]
    public void The_worked_example_of_the_spec_packs_the_same()
    {
        Assert.Equal("[pkg3] [pkg4] [pkg6,pkg7,pkg11] [pkg9,pkg8,pkg10] [pkg1,pkg2] []", Show(ChunkPacker.Pack(Example, 6)));
    }

    [Fact]
    public void A_previous_build_keeps_its_layout()
    {
        // The spec's example keeps each bin's order; annotations written by an encapsulation are sorted.
        var prior = ChunkPacker.Pack(Example, 6).Select(b => string.Join(',', b.Select(c => c.Name))).ToList();
        var now = Example.Where(c => c.Name != "pkg7").Select(c => c.Name == "pkg1" ? c with { Identifier = "pkg1.1" } : c).Append(C("pkg5", "0", 1, 10)).ToList();
        var packed = ChunkPacker.Pack(now, 6, prior);
        Assert.Equal("[pkg3] [pkg4] [pkg6,pkg11] [pkg9,pkg8,pkg10] [pkg1,pkg2] [pkg5]", Show(packed));
        Assert.Equal("pkg1.1", packed[4][0].Identifier);
        var next = now.Select(c => c.Name == "pkg5" ? c with { Identifier = "pkg5.1" } : c).Append(C("pkg12", "0", 1, 10)).ToList();
        Assert.Equal("[pkg5,pkg12]", Show([ChunkPacker.Pack(next, 6, packed.Select(b => string.Join(',', b.Select(c => c.Name))).ToList())[^1]]));
        Assert.Equal("[pkg11,pkg6]", Show([ChunkPacker.Pack(now, 6, ChunkPacker.Pack(Example, 6).Select(ChunkPacker.Annotation).ToList())[2]]));
    }

    [Fact]
    public void Few_components_get_one_bin_each_and_names_follow_bin_size()
    {
        var few = Example.Take(3).ToList();
        var packed = ChunkPacker.Pack(few, 5);
        Assert.Equal("[pkg1] [pkg2] [pkg3] []", Show(packed));
        Assert.Equal("pkg1.0", ChunkPacker.BinName(packed[0]));
        Assert.Equal("Reserved for new packages", ChunkPacker.BinName(packed[^1]));
        Assert.Equal("pkg1.0 and pkg2.0", ChunkPacker.BinName(few.Take(2).ToList()));
        Assert.Equal("6 components", ChunkPacker.BinName(Example.Take(6).ToList()));
        Assert.Equal("pkg1,pkg10,pkg2", ChunkPacker.Annotation([Example[0], Example[4], Example[1]]));
        Assert.Throws<ContainerException>(() => ChunkPacker.Pack(few, 3));
    }
}
