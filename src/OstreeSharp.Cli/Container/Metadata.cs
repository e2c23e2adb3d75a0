using System.CommandLine;

namespace OstreeSharp.Cli;

internal static partial class ContainerCommands
{
    private static Command Metadata()
    {
        var cmd = new Command("metadata", "Print a stored image's manifest (or --config) as JSON");
        var image = new Argument<string>("IMGREF");
        var config = new Option<bool>("--config") { Description = "Print the image config instead" };
        cmd.Arguments.Add(image);
        cmd.Options.Add(config);
        CliSupport.SetRun(cmd, pr =>
        {
            var stored = Stored(pr, image);
            Console.Write(pr.GetValue(config) ? stored.ConfigJson ?? "null" : System.Text.Encoding.UTF8.GetString(stored.Manifest.Bytes));
            return 0;
        });
        return cmd;
    }
}
