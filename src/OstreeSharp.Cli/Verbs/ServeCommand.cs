// `serve --repo`: the repository over HTTP until Ctrl+C.
using System.CommandLine;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;
using OstreeSharp.Server;

namespace OstreeSharp.Cli;

internal static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "Serve a repository over HTTP as an archive repository (GET/HEAD /repo/...; bare repositories are converted on the fly), or with --image the commit inside a container image");
        var bind = new Option<string>("--bind") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port)", DefaultValueFactory = _ => 8080 };
        var cache = new Option<string?>("--cache-dir") { Description = "Where content objects of bare repositories converted to .filez are kept (default: a temporary folder)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No access log" };
        var image = new Option<string?>("--image") { Description = "Serve the commit inside this ostree-container image (oci:DIR[:TAG], oci-archive:FILE, docker://..., or an ostree image reference) instead of --repo; it is imported into an archive repository under --cache-dir first (only missing layers on later runs)" };
        var refName = new Option<string?>("--ref") { Description = "With --image: the ref that names the image's commit (default: the commit's ref binding, else 'image')" };
        var registry = new RegistryCliOptions(policy: true);
        registry.AddTo(cmd);
        cmd.Options.Add(image);
        cmd.Options.Add(refName);
        cmd.Options.Add(bind);
        cmd.Options.Add(port);
        cmd.Options.Add(cache);
        cmd.Options.Add(quiet);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            string? temp = null;
            Repository.OstreeRepo repo;
            var cacheDir = pr.GetValue(cache);
            try
            {
                if (pr.GetValue(image) is { } imgref)
                {
                    if (cacheDir is null)
                    {
                        temp = Directory.CreateTempSubdirectory("ostree-sharp-serve-").FullName;
                        cacheDir = temp;
                    }

                    var served = await OstreeSharp.Containers.Store.ServedImage.PrepareAsync(Path.Combine(cacheDir, "image-repo"), imgref, pr.GetValue(refName), registry.Build(pr), CliSupport.MakePullProgress(pr, "import", Console.Error), CliSupport.Stopping);
                    repo = served.Repository;
                    Console.Error.WriteLine($"Image {imgref}: {served.Ref} => {served.Commit.ToHex()}");
                }
                else
                {
                    repo = CliSupport.OpenRepo(pr);
                }

                var log = pr.GetValue(quiet) ? null : new Action<string>(line =>
                {
                    lock (Console.Out)
                    {
                        Console.Out.WriteLine(line);
                        Console.Out.Flush();
                    }
                });
                var server = await RepositoryServer.StartAsync(new RepositoryServerOptions { Repository = repo.Path, Bind = pr.GetValue(bind)!, Port = pr.GetValue(port), CacheDirectory = cacheDir is null ? null : Path.Combine(cacheDir, "filez"), AccessLog = log });
                Console.WriteLine($"Serving {repo.Path} at {server.Address}repo/");
                Console.Out.Flush();
                try
                {
                    // Ctrl+C or SIGTERM is how a server ends: the first stops it gracefully (exit 0), a second at once.
                    await Task.Delay(Timeout.Infinite, ct).ContinueWith(_ => { }, TaskScheduler.Default);
                }
                finally
                {
                    await server.DisposeAsync();
                }

                Console.WriteLine("Stopped");
            }
            finally
            {
                // The image's repository when no --cache-dir kept it, also when the import failed or was stopped.
                if (temp is not null)
                {
                    FileUtil.DeleteAny(temp);
                }
            }

            return 0;
        });
        return cmd;
    }
}
