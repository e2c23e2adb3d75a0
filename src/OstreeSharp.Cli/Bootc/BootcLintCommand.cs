// `bootc container lint` (bootc 1.16): checks of an image's root filesystem at the end of its build.
using System.CommandLine;
using System.Text;
using OstreeSharp.Containers.Bootc;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static class BootcLintCommand
{
    public static Command Create()
    {
        var cmd = new Command("lint", "Run inexpensive static checks of a root filesystem, as the last step of a container build; fails when a check does");
        var rootfs = new Option<string>("--rootfs") { Description = "The root filesystem to check (the running root, /, by default)", DefaultValueFactory = _ => "/" };
        var fatalWarnings = new Option<bool>("--fatal-warnings") { Description = "Fail on warnings too" };
        var list = new Option<bool>("--list") { Description = "Print the lints (as YAML, a format for people rather than scripts) instead of running them" };
        var skip = new Option<string[]>("--skip") { Description = "Do not run this lint (repeatable; --list names them)", AllowMultipleArgumentsPerToken = false };
        var noTruncate = new Option<bool>("--no-truncate") { Description = "Show every entry a lint found, not only the first five and a count of the rest" };
        var image = new Option<string?>("--image") { Description = "Check this image instead of a root folder (ostree-sharp's own): TRANSPORT:NAME or an ostree image reference, pulled into a temporary repository and checked out as a container sees it" };
        foreach (var o in new Option[] { rootfs, fatalWarnings, list, skip, noTruncate, image })
        {
            cmd.Options.Add(o);
        }

        var registry = new RegistryCliOptions();
        registry.AddTo(cmd);

        CliSupport.SetRun(cmd, pr =>
        {
            using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false));
            if (pr.GetValue(list))
            {
                output.Write(ContainerLint.ListYaml());
                return 0;
            }

            var root = pr.GetValue(rootfs) ?? "/";
            using var checkout = pr.GetValue(image) is { } imageText
                ? (pr.GetResult(rootfs) is { Implicit: false } ? throw new OstreeException(OstreeErrorCode.InvalidArgument, "--image and --rootfs are exclusive") : ImageCheckout.Create(imageText, registry.Build(pr), CliSupport.Stopping))
                : null;
            root = checkout?.Root ?? root;
            // As bootc: only the literal / is the running root (var-tmpfiles runs there, buildah-injected elsewhere).
            var rootType = root == "/" ? LintRootType.Running : LintRootType.Alternative;
            var report = ContainerLint.Run(root, rootType, pr.GetValue(skip) ?? [], CliSupport.Stopping);
            var error = report.Write(output, pr.GetValue(fatalWarnings), pr.GetValue(noTruncate));
            output.Flush();
            if (error is null)
            {
                return 0;
            }

            Console.Error.WriteLine("error: Linting: " + error.TrimEnd('\n'));
            return 1;
        });
        return cmd;
    }
}

/// <summary>An image's root folder as a container sees it (<c>/etc</c>, not <c>/usr/etc</c>), in a temporary folder removed at the end.</summary>
internal sealed class ImageCheckout : IDisposable
{
    private readonly string _work;

    private ImageCheckout(string work, string root)
    {
        _work = work;
        Root = root;
    }

    public string Root { get; }

    public static ImageCheckout Create(string text, Containers.Registry.RegistryOptions registry, CancellationToken ct)
    {
        var reference = Containers.References.OstreeImageReference.TryParse(text, out var r) ? r
            : new Containers.References.OstreeImageReference(Containers.References.SignaturePolicy.AllowInsecure, null, Containers.References.ImageReference.Parse(text));
        var work = Directory.CreateTempSubdirectory("ostree-sharp-lint-").FullName;
        try
        {
            var repo = Repository.OstreeRepo.Create(Path.Combine(work, "repo"), Repository.RepoMode.BareUser);
            var pulled = new OstreeSharp.Containers.Store.ImageStore(repo, new OstreeSharp.Containers.Store.ImageStoreOptions { Registry = registry }).PullAsync(reference, null, ct).GetAwaiter().GetResult();
            var root = Path.Combine(work, "root");
            new Checkout(repo, new CheckoutOptions { UserMode = true }).Run(pulled.Image.MergeCommit, root, ct);
            if (Directory.Exists(Path.Combine(root, "usr/etc")) && !Path.Exists(Path.Combine(root, "etc")))
            {
                Directory.Move(Path.Combine(root, "usr/etc"), Path.Combine(root, "etc"));
            }

            return new ImageCheckout(work, root);
        }
        catch
        {
            FileUtil.DeleteAny(work);
            throw;
        }
    }

    public void Dispose() => FileUtil.DeleteAny(_work);
}
