// `serve --repo`: the repository over HTTP until Ctrl+C.
using System.CommandLine;
using OstreeSharp.Server;

namespace OstreeSharp.Cli;

internal static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "Serve a repository over HTTP as an archive repository (GET/HEAD /repo/...; bare repositories are converted on the fly)");
        var bind = new Option<string>("--bind") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port)", DefaultValueFactory = _ => 8080 };
        var cache = new Option<string?>("--cache-dir") { Description = "Where content objects of bare repositories converted to .filez are kept (default: a temporary folder)" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No access log" };
        cmd.Options.Add(bind);
        cmd.Options.Add(port);
        cmd.Options.Add(cache);
        cmd.Options.Add(quiet);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            using var stop = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                stop.Cancel();
            };
            using var term = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                stop.Cancel();
            });
            var log = pr.GetValue(quiet) ? null : new Action<string>(line =>
            {
                lock (Console.Out)
                {
                    Console.Out.WriteLine(line);
                    Console.Out.Flush();
                }
            });
            var server = RepositoryServer.StartAsync(new RepositoryServerOptions { Repository = repo.Path, Bind = pr.GetValue(bind)!, Port = pr.GetValue(port), CacheDirectory = pr.GetValue(cache), AccessLog = log }).GetAwaiter().GetResult();
            Console.WriteLine($"Serving {repo.Path} at {server.Address}repo/");
            Console.Out.Flush();
            try
            {
                stop.Token.WaitHandle.WaitOne();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            Console.WriteLine("Stopped");
            return 0;
        });
        return cmd;
    }
}
