using OstreeSharp.Containers;
using OstreeSharp.Containers.Store;

namespace OstreeSharp.Tests.Containers;

public class RefEscapeTests
{
    [Theory]
    [InlineData("sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae", "sha256_3A_2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")]
    [InlineData("docker://quay.io/coreos/fedora:latest", "docker_3A__2F__2F_quay_2E_io/coreos/fedora_3A_latest")]
    [InlineData("registry:quay.io/coreos/fedora:latest", "registry_3A_quay_2E_io/coreos/fedora_3A_latest")]
    [InlineData("localhost:5000/foo:latest", "localhost_3A_5000/foo_3A_latest")]
    [InlineData("oci:/var/tmp/exampleos.oci:latest", "oci_3A__2F_var/tmp/exampleos_2E_oci_3A_latest")]
    [InlineData("containers-storage:localhost/bootc", "containers-storage_3A_localhost/bootc")]
    [InlineData("foo/bar/baz-blah/foo", "foo/bar/baz-blah/foo")]
    [InlineData("/foo/", "_2F_foo_2F_")]
    [InlineData("a_b", "a__b")]
    [InlineData("x@sha256:ab", "x_40_sha256_3A_ab")]
    [InlineData("é€😀", "_E9__20AC__1F600_")]
    public void Refs_escape_as_the_spec_table_says_and_unescape_back(string input, string escaped)
    {
        Assert.Equal(escaped, RefEscape.Escape(input));
        Assert.Equal(input, RefEscape.Unescape(escaped));
        OstreeSharp.Repository.OstreeRepo.ValidateRefName("ostree/container/image/" + escaped);
    }

    [Fact]
    public void Empty_strings_nul_and_bad_escapes_are_refused()
    {
        Assert.Equal("Invalid empty string for ref", Assert.Throws<ContainerException>(() => RefEscape.Escape(string.Empty)).Message);
        Assert.Equal("Invalid embedded NUL in string for ostree ref", Assert.Throws<ContainerException>(() => RefEscape.Escape("a\0b")).Message);
        Assert.Throws<ContainerException>(() => RefEscape.Unescape("a_zz_"));
        Assert.Throws<ContainerException>(() => RefEscape.Unescape("a:b"));
        Assert.Throws<ContainerException>(() => RefEscape.Unescape("a_3A"));
    }
}

public class ManifestDiffTests
{
    private static OstreeSharp.Containers.Oci.ImageManifest M(params (char Hex, long Size)[] layers) => new()
    {
        Layers = [.. layers.Select(l => OstreeSharp.Containers.Oci.Descriptor.Create(OstreeSharp.Containers.Oci.MediaTypes.OciLayerGzip, OstreeSharp.Containers.Oci.Digest.Parse("sha256:" + new string(l.Hex, 64)), l.Size))],
    };

    [Fact]
    public void Diffs_print_as_ostree_ext_prints_them()
    {
        var a = M(('1', 1500), ('2', 10), ('3', 2_500_000));
        Assert.Equal("Total new layers: 3     Size: 2.5 MB\nRemoved layers:   0     Size: 0 bytes\nAdded layers:     0     Size: 0 bytes\n", OstreeSharp.Containers.Store.ManifestDiff.Compute(a, a).ToString());
        var b = M(('1', 1500), ('4', 999), ('4', 999));
        var d = OstreeSharp.Containers.Store.ManifestDiff.Compute(a, b);
        Assert.Equal(2, d.Removed.Count);
        Assert.Single(d.Added);
        Assert.Equal("Total new layers: 2     Size: 2.5 kB\nRemoved layers:   2     Size: 2.5 MB\nAdded layers:     1     Size: 999 bytes\n", d.ToString());
    }
}
