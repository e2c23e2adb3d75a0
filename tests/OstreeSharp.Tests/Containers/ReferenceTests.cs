using OstreeSharp.Containers;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Tests.Containers;

public class ReferenceTests
{
    [Theory]
    [InlineData("registry:quay.io/exampleos/blah", Transport.Registry, "quay.io/exampleos/blah", "docker://quay.io/exampleos/blah")]
    [InlineData("docker://quay.io/exampleos/blah:latest", Transport.Registry, "quay.io/exampleos/blah:latest", "docker://quay.io/exampleos/blah:latest")]
    [InlineData("oci:/var/tmp/x.oci", Transport.OciDir, "/var/tmp/x.oci", "oci:/var/tmp/x.oci")]
    [InlineData("oci:/var/tmp/x.oci:v1", Transport.OciDir, "/var/tmp/x.oci:v1", "oci:/var/tmp/x.oci:v1")]
    [InlineData("oci-archive:/x/y.ociarchive", Transport.OciArchive, "/x/y.ociarchive", "oci-archive:/x/y.ociarchive")]
    [InlineData("docker-archive:/x/y.tar", Transport.DockerArchive, "/x/y.tar", "docker-archive:/x/y.tar")]
    [InlineData("containers-storage:localhost/x", Transport.ContainersStorage, "localhost/x", "containers-storage:localhost/x")]
    [InlineData("dir:/some/dir", Transport.Dir, "/some/dir", "dir:/some/dir")]
    public void Container_references_parse_and_display(string text, Transport transport, string name, string display)
    {
        var r = ImageReference.Parse(text);
        Assert.Equal(transport, r.Transport);
        Assert.Equal(name, r.Name);
        Assert.Equal(display, r.ToString());
        Assert.Equal(r, ImageReference.Parse(r.ToString()));
    }

    [Theory]
    [InlineData("", "Missing ':' in ")]
    [InlineData("foo://", "Unknown transport 'foo'")]
    [InlineData("docker:blah", "Missing // in docker:// in docker:blah")]
    [InlineData("registry:", "Invalid empty name in registry:")]
    [InlineData("foo:bar", "Unknown transport 'foo'")]
    [InlineData("docker-daemon:x", "Unknown transport 'docker-daemon'")]
    [InlineData("registry:foo/UPPER", "Invalid")]
    public void Bad_container_references_are_refused(string text, string message)
    {
        var e = Assert.Throws<ImageReferenceException>(() => ImageReference.Parse(text));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oci_paths_split_at_the_first_colon()
    {
        var r = ImageReference.Parse("oci:/tmp/layout:tag:with");
        Assert.Equal("/tmp/layout", r.Path);
        Assert.Equal("tag:with", r.Tag);
        Assert.Null(ImageReference.Parse("oci:/tmp/layout").Tag);
    }

    [Theory]
    [InlineData("ostree-remote-image:myremote:registry:quay.io/exampleos/blah", SignaturePolicy.OstreeRemote, "myremote", Transport.Registry, "quay.io/exampleos/blah", "ostree-remote-image:myremote:docker://quay.io/exampleos/blah")]
    [InlineData("ostree-remote-registry:myremote:quay.io/exampleos/blah", SignaturePolicy.OstreeRemote, "myremote", Transport.Registry, "quay.io/exampleos/blah", "ostree-remote-image:myremote:docker://quay.io/exampleos/blah")]
    [InlineData("ostree-image-signed:docker://quay.io/exampleos/blah", SignaturePolicy.ContainerPolicy, null, Transport.Registry, "quay.io/exampleos/blah", "ostree-image-signed:docker://quay.io/exampleos/blah")]
    [InlineData("ostree-unverified-image:docker://quay.io/exampleos/blah", SignaturePolicy.AllowInsecure, null, Transport.Registry, "quay.io/exampleos/blah", "ostree-unverified-registry:quay.io/exampleos/blah")]
    [InlineData("ostree-unverified-registry:quay.io/exampleos/blah", SignaturePolicy.AllowInsecure, null, Transport.Registry, "quay.io/exampleos/blah", "ostree-unverified-registry:quay.io/exampleos/blah")]
    [InlineData("ostree-unverified-image:oci:/var/tmp/x.oci", SignaturePolicy.AllowInsecure, null, Transport.OciDir, "/var/tmp/x.oci", "ostree-unverified-image:oci:/var/tmp/x.oci")]
    [InlineData("ostree-unverified-image:containers-storage:localhost/x", SignaturePolicy.AllowInsecure, null, Transport.ContainersStorage, "localhost/x", "ostree-unverified-image:containers-storage:localhost/x")]
    public void Ostree_references_parse_and_round_trip(string text, SignaturePolicy policy, string? remote, Transport transport, string name, string display)
    {
        var r = OstreeImageReference.Parse(text);
        Assert.Equal(policy, r.Policy);
        Assert.Equal(remote, r.Remote);
        Assert.Equal(transport, r.Image.Transport);
        Assert.Equal(name, r.Image.Name);
        Assert.Equal(display, r.ToString());
        Assert.Equal(r, OstreeImageReference.Parse(r.ToString()));
    }

    [Fact]
    public void Alternate_display_drops_the_prefix_for_insecure_registries()
    {
        Assert.Equal("docker://quay.io/x/y", OstreeImageReference.Parse("ostree-unverified-registry:quay.io/x/y").ToAlternateString());
        Assert.Equal("ostree-image-signed:docker://quay.io/x/y", OstreeImageReference.Parse("ostree-image-signed:docker://quay.io/x/y").ToAlternateString());
    }

    [Theory]
    [InlineData("ostree-remote-image:noimage", "Missing second ':' in ostree-remote-image:noimage")]
    [InlineData("ostree-foo:docker://x/y", "Invalid ostree image reference scheme: ostree-foo")]
    [InlineData("nocolon", "Missing ':' in nocolon")]
    [InlineData("ostree-unverified-image:bogus:x", "Unknown transport 'bogus'")]
    public void Bad_ostree_references_are_refused(string text, string message)
    {
        var e = Assert.Throws<ImageReferenceException>(() => OstreeImageReference.Parse(text));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("busybox", "docker.io", "library/busybox", null, null)]
    [InlineData("docker.io/busybox:1.36", "docker.io", "library/busybox", "1.36", null)]
    [InlineData("index.docker.io/org/img", "docker.io", "org/img", null, null)]
    [InlineData("localhost/x", "localhost", "x", null, null)]
    [InlineData("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", "t", null)]
    [InlineData("quay.io/fedora/fedora-coreos@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "quay.io", "fedora/fedora-coreos", null, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void Registry_names_are_normalised(string text, string domain, string path, string? tag, string? digest)
    {
        var r = DockerReference.Parse(text);
        Assert.Equal(domain, r.Domain);
        Assert.Equal(path, r.Path);
        Assert.Equal(tag, r.Tag);
        Assert.Equal(digest, r.Digest);
        Assert.Equal(r, DockerReference.Parse(r.ToString()));
    }

    [Fact]
    public void Docker_hub_is_served_by_registry_1()
    {
        Assert.Equal("registry-1.docker.io", DockerReference.Parse("alpine").RegistryHost);
        Assert.Equal("latest", DockerReference.Parse("alpine").ManifestReference);
    }
}
