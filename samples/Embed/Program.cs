// Embedding OstreeSharp: what `ostree-sharp demo` does from the command line, as library calls. An OS tree is committed
// to an archive repository and signed, shipped as an OCI image, pulled back into a bare-user repository with the
// signature checked before anything is imported, checked (fsck), checked out and compared with the commit.
//
//   dotnet run --project samples/Embed [-- WORKDIR]
//
// Built against the OstreeSharp packages, as any application would be: scripts/package-check.sh packs them into a
// local feed and builds this project from it.
using System.Security.Cryptography;
using OstreeSharp;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Store;
using OstreeSharp.Containers.Transports;
using OstreeSharp.GVariant;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var work = args.Length > 0 ? Directory.CreateDirectory(args[0]).FullName : Directory.CreateTempSubdirectory("ostree-sharp-sample-").FullName;
try
{
    await RunAsync(work, stop.Token);
    return 0;
}
catch (OstreeException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
finally
{
    if (args.Length == 0)
    {
        Directory.Delete(work, recursive: true);
    }
}

static async Task RunAsync(string work, CancellationToken cancellationToken)
{
    // 1. An OS tree: a kernel and initramfs where bootable commits keep them, a program, its os-release.
    var tree = Path.Combine(work, "rootfs");
    const string Kernel = "6.1.0-sample-amd64";
    WriteFile(tree, $"usr/lib/modules/{Kernel}/vmlinuz", new string('K', 64 << 10));
    WriteFile(tree, $"usr/lib/modules/{Kernel}/initramfs.img", new string('I', 16 << 10));
    WriteFile(tree, "usr/lib/os-release", "NAME=\"Sample OS\"\nID=sample\nVERSION_ID=1.0\n");
    WriteFile(tree, "usr/etc/hostname", "sample\n");
    WriteFile(tree, "usr/bin/hello", "#!/bin/sh\necho hello\n", executable: true);

    // 2. Committed to an archive repository (the kind a web server can serve), in one transaction.
    var build = OstreeRepo.Create(Path.Combine(work, "build-repo"), RepoMode.Archive);
    CommitResult result;
    using (var transaction = build.BeginTransaction())
    {
        var root = new MutableTree();
        new DirectoryImporter(transaction, new CommitModifier { OwnerUid = 0, OwnerGid = 0 }).Import(tree, root);
        result = CommitWriter.Write(transaction, root, new CommitRequest
        {
            Branch = "sample/x86_64/stable",
            Subject = "Sample OS 1.0",
            Bootable = true,
            Metadata = [new("version", GVariantValue.FromString("1.0"))],
        });
        transaction.Commit();
    }

    var commit = result.Commit;
    Console.WriteLine($"committed {commit} to {build.Path}");

    // 3. Signed with an ed25519 key, as `ostree sign` does.
    var key = Ed25519SecretKey.FromSeed(RandomNumberGenerator.GetBytes(32));
    Ed25519CommitSigner.Sign(build, commit, [key]);
    Console.WriteLine($"signed it; public key {key.PublicKey.Base64}");

    // 4. Shipped as an OCI image (here an OCI layout on disk; a docker:// reference pushes to a registry).
    var image = ImageReference.Parse($"oci:{Path.Combine(work, "image")}:1.0");
    EncapsulateResult encapsulated;
    var destination = ImageTransports.OpenDestination(image);
    await using (destination.ConfigureAwait(false))
    {
        encapsulated = await Encapsulator.EncapsulateAsync(build, commit, destination, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    Console.WriteLine($"encapsulated it as {image}: manifest {encapsulated.ManifestDigest}, layer of {encapsulated.LayerSize} bytes");

    // 5. Pulled into a host's image store (its bare-user repository) through a remote that trusts the key. First the
    //    manifest and config (the signature is checked before anything is imported): the store says which layers it
    //    lacks; then the import, with typed progress events.
    var host = OstreeRepo.Create(Path.Combine(work, "host-repo"), RepoMode.BareUser);
    host.AddRemote("sample", "https://example.invalid/sample", [], [new("gpg-verify", "false"), new("sign-verify", "ed25519"), new("verification-ed25519-key", key.PublicKey.Base64)]);
    var store = new ImageStore(host);
    var prepared = await store.PrepareAsync(OstreeImageReference.Parse($"ostree-remote-image:sample:{image}"), cancellationToken).ConfigureAwait(false);
    PullReport pulled;
    await using (prepared.ConfigureAwait(false))
    {
        Console.WriteLine($"prepared {prepared.ManifestDigest}: {prepared.Layers.Count(l => !l.Present)} of {prepared.Layers.Count} layers to fetch ({prepared.BytesToFetch} bytes)");
        pulled = await store.ImportAsync(prepared, new LayerPrinter(), cancellationToken).ConfigureAwait(false);
    }

    if (pulled.Image.BaseCommit != commit)
    {
        throw new OstreeException($"the image gave back another commit: {pulled.Image.BaseCommit}");
    }

    Console.WriteLine($"pulled it into {host.Path}, signature verified: same commit");

    // 6. Every object re-hashed.
    var fsck = Fsck.Run(host, delete: false, cancellationToken: cancellationToken);
    if (fsck.Problems.Count > 0)
    {
        throw new OstreeException($"fsck: {fsck.Problems[0]}");
    }

    Console.WriteLine($"fsck: {fsck.Objects} objects, no problems");

    // 7. Checked out (hardlinks into the repository) and compared with the commit.
    var checkout = Path.Combine(work, "checkout");
    new Checkout(host, new CheckoutOptions { UserMode = true, RequireHardlinks = true }).Run(commit, checkout, cancellationToken);
    var diff = TreeDiff.Compare(host, host.LoadCommit(commit), checkout, noXattrs: true);
    int differences = diff.Added.Count + diff.Removed.Count + diff.Modified.Count;
    if (differences > 0)
    {
        throw new OstreeException($"the checkout differs from the commit in {differences} paths");
    }

    Console.WriteLine($"checked it out at {checkout}: identical to the commit");
}

static void WriteFile(string root, string relative, string content, bool executable = false)
{
    var path = Path.Combine(root, relative);
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    File.WriteAllText(path, content);
    File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead
        | (executable ? UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute : 0));
}

// Prints the layers of an import as they are done (events of layers fetched in parallel come one at a time).
internal sealed class LayerPrinter : IProgress<PullEvent>
{
    public void Report(PullEvent value)
    {
        if (value is PullLayerDone done)
        {
            Console.WriteLine($"  imported {done.Layer.Digest} ({done.Layer.Size} bytes)");
        }
    }
}
