using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using OstreeSharp.Containers.Host;

namespace OstreeSharp.Cli;

internal static partial class BootcCommands
{
    private static Command Edit()
    {
        var cmd = new Command("edit", "Change the host's specification (its image, or its boot order) from a YAML or JSON file, or in $EDITOR");
        var filename = new Option<string?>("--filename", "-f") { Description = "Use this file as the new specification" };
        var quiet = new Option<bool>("--quiet") { Description = "Don't display progress" };
        cmd.Options.Add(filename);
        cmd.Options.Add(quiet);
        var registry = new RegistryCliOptions(policy: true);
        registry.AddTo(cmd);
        CliSupport.SetRun(cmd, pr =>
        {
            var (s, l, booted) = OpenBooted();
            using var _ = l;
            var host = BootcHost.Build(s);
            JsonObject edited;
            if (pr.GetValue(filename) is { } file)
            {
                edited = BootcYaml.ReadObject(File.ReadAllText(file), file);
            }
            else
            {
                var tmp = Path.Combine(Path.GetTempPath(), $"bootc-edit-{Environment.ProcessId}.yaml");
                try
                {
                    File.WriteAllText(tmp, BootcYaml.Write(host));
                    var editor = Environment.GetEnvironmentVariable("EDITOR") is { Length: > 0 } e ? e : "vi";
                    using var p = Process.Start(new ProcessStartInfo("/bin/sh") { ArgumentList = { "-c", editor + " \"$1\"", "sh", tmp }, UseShellExecute = false })
                        ?? throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"Could not start {editor}");
                    p.WaitForExit();
                    if (p.ExitCode != 0)
                    {
                        throw new OstreeException(OstreeErrorCode.ExternalCommandFailed, $"{editor} exited with status {p.ExitCode}");
                    }

                    edited = BootcYaml.ReadObject(File.ReadAllText(tmp), tmp);
                }
                finally
                {
                    File.Delete(tmp);
                }
            }

            var oldSpec = host["spec"] as JsonObject ?? [];
            var newSpec = edited["spec"] as JsonObject ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, "The edited host has no spec");
            newSpec["bootOrder"] ??= "default";
            if (!newSpec.ContainsKey("image"))
            {
                newSpec["image"] = null;
            }

            if (JsonNode.DeepEquals(Canonical(oldSpec["image"]), Canonical(newSpec["image"])) && oldSpec["bootOrder"]?.GetValue<string>() == newSpec["bootOrder"]?.GetValue<string>())
            {
                Console.WriteLine("Edit cancelled, no changes made.");
                return 0;
            }

            bool orderChanged = oldSpec["bootOrder"]?.GetValue<string>() != newSpec["bootOrder"]?.GetValue<string>();
            bool imageChanged = !JsonNode.DeepEquals(Canonical(oldSpec["image"]), Canonical(newSpec["image"]));
            if (orderChanged && imageChanged)
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Cannot change the image and the boot order at once");
            }

            if (orderChanged)
            {
                RollbackLocked(s, booted);
                return 0;
            }

            var spec = BootcHost.ParseImageReference(newSpec["image"]);
            var report = Pull(s, spec, registry.Build(pr), pr.GetValue(quiet) ? null : Console.WriteLine, null);
            Stage(s, booted, spec, report.Image, downloadOnly: false, null);
            return 0;
        });
        return cmd;
    }

    private static JsonNode? Canonical(JsonNode? node)
    {
        if (node is JsonObject o && o["signature"] is JsonValue v && v.GetValue<string>() == "insecure")
        {
            // (bootc writes no signature for the insecure policy; a file may spell it out)
            var copy = (JsonObject)o.DeepClone();
            copy.Remove("signature");
            return copy;
        }

        return node;
    }
}
