using System.Text.Json.Nodes;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.References;

namespace OstreeSharp.Tests.Containers;

public sealed class BootcHostTests
{
    [Theory]
    [InlineData("2023-09-30T19:22:16Z", "2023-09-30T19:22:16Z")]
    [InlineData("2023-10-14T19:22:15.42Z", "2023-10-14T19:22:15.420Z")]
    [InlineData("2023-10-14T21:22:15.000123+02:00", "2023-10-14T19:22:15.000123Z")]
    [InlineData("2023-10-14T19:22:15.1234567Z", "2023-10-14T19:22:15.123456700Z")]
    public void Timestamps_are_written_as_chrono_writes_them(string input, string expected) =>
        Assert.Equal(expected, BootcHost.Rfc3339(DateTimeOffset.Parse(input, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Canonical_json_sorts_members_at_every_level_and_escapes_only_what_it_must()
    {
        var node = new JsonObject
        {
            ["b"] = new JsonArray(new JsonObject { ["z"] = 1, ["a"] = "x+y<z>&'é" }, null, true),
            ["a"] = "quote \" backslash \\ newline \n",
        };
        Assert.Equal("{\"a\":\"quote \\\" backslash \\\\ newline \\n\",\"b\":[{\"a\":\"x+y<z>&'é\",\"z\":1},null,true]}", BootcHost.ToCanonicalJson(node));
    }

    [Theory]
    [InlineData("ostree-unverified-registry:quay.io/example/os:latest", "{\"image\":\"quay.io/example/os:latest\",\"transport\":\"registry\"}")]
    [InlineData("ostree-unverified-image:oci:/srv/images:v2", "{\"image\":\"/srv/images:v2\",\"transport\":\"oci\"}")]
    [InlineData("ostree-image-signed:docker://quay.io/example/os:1", "{\"image\":\"quay.io/example/os:1\",\"signature\":\"containerPolicy\",\"transport\":\"registry\"}")]
    [InlineData("ostree-remote-registry:fedora:quay.io/fedora/coreos:stable", "{\"image\":\"quay.io/fedora/coreos:stable\",\"signature\":{\"ostreeRemote\":\"fedora\"},\"transport\":\"registry\"}")]
    public void Image_references_map_to_bootc_and_back(string ostreeReference, string json)
    {
        var reference = OstreeImageReference.Parse(ostreeReference);
        var node = BootcHost.ImageReference(reference);
        Assert.Equal(json, BootcHost.ToCanonicalJson(node));
        Assert.Equal(reference, BootcHost.ParseImageReference(JsonNode.Parse(json)));
    }

    [Fact]
    public void An_insecure_signature_spelt_out_is_no_signature_and_unknown_ones_are_refused()
    {
        Assert.Equal(SignaturePolicy.AllowInsecure, BootcHost.ParseImageReference(JsonNode.Parse("{\"image\":\"quay.io/a/b:1\",\"transport\":\"registry\",\"signature\":\"insecure\"}")).Policy);
        Assert.Throws<ImageReferenceException>(() => BootcHost.ParseImageReference(JsonNode.Parse("{\"image\":\"quay.io/a/b:1\",\"transport\":\"registry\",\"signature\":\"sigstore\"}")));
        Assert.Throws<ImageReferenceException>(() => BootcHost.ParseImageReference(JsonNode.Parse("{\"image\":\"quay.io/a/b:1\",\"transport\":\"ftp\"}")));
        Assert.Throws<ImageReferenceException>(() => BootcHost.ParseImageReference(JsonNode.Parse("{\"transport\":\"registry\"}")));
    }

    [Fact]
    public void A_system_bootc_did_not_deploy_has_the_empty_host()
    {
        var json = BootcHost.ToCanonicalJson(BootcHost.Empty());
        Assert.Equal("{\"apiVersion\":\"org.containers.bootc/v1\",\"kind\":\"BootcHost\",\"metadata\":{\"name\":\"host\"},\"spec\":{\"bootOrder\":\"default\",\"image\":null},"
            + "\"status\":{\"booted\":null,\"readOnly\":false,\"rollback\":null,\"rollbackQueued\":false,\"staged\":null,\"type\":null,\"usrOverlay\":null}}", json);
    }
}
