using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;

namespace OstreeSharp.Tests.Containers;

public sealed class BootcYamlTests
{
    [Fact]
    public void The_host_object_is_written_in_bootc_s_member_order_and_read_back_equal()
    {
        var host = BootcHost.Empty();
        host["spec"]!["image"] = new JsonObject { ["image"] = "quay.io/example/os:latest", ["transport"] = "registry" };
        host["status"]!["otherDeployments"] = new JsonArray(new JsonObject { ["pinned"] = true, ["version"] = "true", ["serial"] = 3, ["empty"] = string.Empty });
        var yaml = BootcYaml.Write(host);
        Assert.StartsWith("apiVersion: org.containers.bootc/v1\nkind: BootcHost\nmetadata:\n  name: host\nspec:\n  image:\n    image: quay.io/example/os:latest\n    transport: registry\n  bootOrder: default\n", yaml.Replace("\r", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        // (a string that reads as another type is quoted)
        Assert.Contains("version: 'true'", yaml, StringComparison.Ordinal);
        Assert.Contains("empty: ''", yaml, StringComparison.Ordinal);
        Assert.True(JsonNode.DeepEquals(host, BootcYaml.ReadObject(yaml, "host.yaml")));
    }

    [Fact]
    public void Json_is_yaml_too() =>
        Assert.Equal("rollback", BootcYaml.ReadObject("{\"spec\": {\"bootOrder\": \"rollback\", \"image\": null}}", "f")["spec"]!["bootOrder"]!.GetValue<string>());

    [Theory]
    [InlineData("a: [1, 2\n", "invalid YAML")]
    [InlineData("- 1\n- 2\n", "expected one YAML document with a mapping at its top")]
    [InlineData("a: 1\n---\nb: 2\n", "more than one YAML document")]
    [InlineData("a: &x [1]\nb: *x\n", "YAML aliases are not supported")]
    [InlineData("? [1]\n: 2\n", "a mapping key that is not a scalar")]
    public void Bad_files_are_refused_naming_the_file(string yaml, string message)
    {
        var e = Assert.Throws<OstreeException>(() => BootcYaml.ReadObject(yaml, "spec.yaml"));
        Assert.StartsWith("spec.yaml: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deep_nesting_is_refused_without_recursion()
    {
        var yaml = "spec: " + new string('[', 200_000) + new string(']', 200_000) + "\n";
        var e = Assert.Throws<OstreeException>(() => BootcYaml.ReadObject(yaml, "deep.yaml"));
        Assert.Contains("nested deeper than 64 levels", e.Message, StringComparison.Ordinal);
        Assert.NotNull(BootcYaml.ReadObject("a: " + new string('[', 63) + new string(']', 63) + "\n", "ok.yaml"));
    }
}
