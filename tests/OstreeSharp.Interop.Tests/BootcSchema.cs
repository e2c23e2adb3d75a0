using System.Text.Json;
using Json.Schema;
using OstreeSharp.Containers.Host;

namespace OstreeSharp.Interop.Tests;

/// <summary>docs/schemas/bootc-host-v1.schema.json, the BootcHost object bootc documents.</summary>
internal static class BootcSchema
{
    private static readonly Lazy<JsonSchema> Schema = new(() =>
        JsonSchema.FromFile(Path.Combine(Vm.RepoRoot, "docs/schemas/bootc-host-v1.schema.json")));

    /// <summary>Asserts that <paramref name="json"/> is a valid BootcHost; the failure lists each error with its location.</summary>
    public static JsonElement AssertValid(string json, string what)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement.Clone();
        var result = Schema.Value.Evaluate(root, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}"));
            Assert.Fail($"{what} is not a valid BootcHost:\n{string.Join('\n', errors)}\n{json}");
        }

        return root;
    }
}
