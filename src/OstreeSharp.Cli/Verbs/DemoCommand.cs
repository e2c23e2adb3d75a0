using System.CommandLine;
using System.Diagnostics;
using OstreeSharp.Containers.Host;
using OstreeSharp.Containers.Store;
using OstreeSharp.Internal;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

/// <summary>The main job end to end on built-in defaults, in a scratch folder.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class DemoCommand
{
    public static Command Create()
    {
        var cmd = new Command("demo", "Run the main job end to end on a built-in sample OS tree (in a temporary folder)");
        var workdir = new Option<string?>("--workdir") { Description = "Folder to work in (default: a new temporary folder)" };
        var keep = new Option<bool>("--keep") { Description = "Keep the work folder afterwards" };
        cmd.Options.Add(workdir);
        cmd.Options.Add(keep);
        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var dir = pr.GetValue(workdir) ?? Path.Combine(Path.GetTempPath(), "ostree-sharp-demo-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(dir);
            try
            {
                await RunAsync(dir);
            }
            finally
            {
                if (!pr.GetValue(keep) && pr.GetValue(workdir) is null)
                {
                    FileUtil.DeleteAny(dir);
                }
                else
                {
                    Console.WriteLine($"kept {dir}");
                }
            }

            return 0;
        });
        return cmd;
    }

    private static async Task RunAsync(string dir)
    {
        var sw = Stopwatch.StartNew();
        var tree = Path.Combine(dir, "rootfs");
        SampleOsTree.Write(tree);
        Console.WriteLine($"1. wrote a sample OS tree with a kernel at {tree}");

        var archive = OstreeRepo.Create(Path.Combine(dir, "build-repo"), RepoMode.Archive);
        var result = CommitVersion(archive, tree, "1.0");

        var commit = archive.LoadCommit(result.Commit);
        Console.WriteLine($"2. committed it to archive repo {archive.Path}: {result.Commit} (kernel {commit.Metadata.Lookup("ostree.linux")?.GetString()})");

        var key = Signing.Ed25519SecretKey.FromSeed(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        Signing.Ed25519CommitSigner.Sign(archive, result.Commit, [key]);
        Console.WriteLine($"3. signed it with a fresh ed25519 key (public key {key.PublicKey.Base64})");

        var imageRef = Containers.References.ImageReference.Parse("oci:" + Path.Combine(dir, "image") + ":1.0");
        var encapsulated = await EncapsulateAsync(archive, result.Commit, imageRef);
        Console.WriteLine($"4. encapsulated it as an OCI image {imageRef}: manifest {encapsulated.ManifestDigest.ToString()[..19]}, one {encapsulated.LayerSize / 1024} KiB gzip layer, labels {string.Join(", ", encapsulated.Labels.Keys.Where(k => k.StartsWith("ostree.", StringComparison.Ordinal)))}");

        var host = OstreeRepo.Create(Path.Combine(dir, "host-repo"), RepoMode.BareUser);
        host.AddRemote("demo", "https://example.invalid/demo", [], [new("gpg-verify", "false"), new("sign-verify", "ed25519"), new("verification-ed25519-key", key.PublicKey.Base64)]);
        var pulled = await OstreeSharp.Containers.Store.Unencapsulator.UnencapsulateAsync(host, Containers.References.OstreeImageReference.Parse("ostree-remote-image:demo:" + imageRef), writeRef: "demo/x86_64/stable");
        if (pulled.Commit != result.Commit)
        {
            throw new OstreeException(OstreeErrorCode.Failed, $"the image round trip changed the commit: {pulled.Commit}");
        }

        Console.WriteLine($"5. pulled the image into a fresh bare-user repo {host.Path}, signature verified with remote \"demo\" before import: same commit {pulled.Commit.ToHex()[..12]}");

        var fsck = Fsck.Run(host, delete: false);
        Console.WriteLine($"6. fsck: {fsck.Objects} objects in {fsck.Commits} commit(s) re-hashed, {fsck.Problems.Count} problems");
        if (fsck.Problems.Count > 0)
        {
            throw new OstreeException(OstreeErrorCode.Failed, "fsck found problems: " + fsck.Problems[0]);
        }

        var deploy = Path.Combine(dir, "deploy");
        new Checkout(host, new CheckoutOptions { UserMode = true, RequireHardlinks = true }).Run(result.Commit, deploy);
        var kernel = Directory.GetFiles(Path.Combine(deploy, "usr", "lib", "modules"), "vmlinuz", SearchOption.AllDirectories).Single();
        Console.WriteLine($"7. checked it out with hardlinks at {deploy} (kernel {Path.GetRelativePath(deploy, kernel)})");
        var diff = TreeDiff.Compare(host, host.LoadCommit(result.Commit), deploy, noXattrs: true);
        Console.WriteLine($"8. verified the checkout against the commit: {diff.Modified.Count + diff.Added.Count + diff.Removed.Count} differences");
        await PullOverHttpAsync(dir, archive, result.Commit, key);
        await UpdateByDeltasAsync(dir, archive, tree, result.Commit, imageRef, key);
        await DeployIntoSysrootAsync(dir, imageRef, key);
        Console.WriteLine($"done in {sw.Elapsed.TotalSeconds:0.00} s");
    }

    private static async Task PullOverHttpAsync(string dir, OstreeRepo archive, Objects.Checksum commit, Signing.Ed25519SecretKey key)
    {
        var server = await Server.RepositoryServer.StartAsync(new Server.RepositoryServerOptions { Repository = archive.Path, Bind = "127.0.0.1", Port = 0 });
        try
        {
            var url = $"{server.Address}repo/";
            var mirror = OstreeRepo.Create(Path.Combine(dir, "http-repo"), RepoMode.BareUser);
            mirror.AddRemote("build", url, [], [new("gpg-verify", "false"), new("sign-verify", "ed25519"), new("verification-ed25519-key", key.PublicKey.Base64)]);
            var pulled = await RemotePull.RunAsync(mirror, "build", ["demo/x86_64/stable"]);
            if (pulled.Refs.Single().Commit != commit)
            {
                throw new OstreeException(OstreeErrorCode.Failed, $"the HTTP pull got another commit: {pulled.Refs.Single().Commit}");
            }

            Console.WriteLine($"9. served the build repo at {url} and pulled it over HTTP into {mirror.Path}: {pulled.MetadataFetched} metadata and {pulled.ContentFetched} content objects, each verified, signature checked with remote \"build\": same commit");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    // Version 1.1 changes one library: clients that have 1.0 fetch a static delta (HTTP) or a container delta (image).
    private static async Task UpdateByDeltasAsync(string dir, OstreeRepo archive, string tree, Objects.Checksum v1, Containers.References.ImageReference v1Image, Signing.Ed25519SecretKey key)
    {
        var lib = Path.Combine(tree, "usr/lib/sample/lib007.so");
        File.AppendAllText(lib, "patched in 1.1\n");
        var v2 = CommitVersion(archive, tree, "1.1");

        Signing.Ed25519CommitSigner.Sign(archive, v2.Commit, [key]);
        var stats = Deltas.StaticDeltaGenerator.Generate(archive, v1, v2.Commit);
        Summary.Update(archive);
        var server = await Server.RepositoryServer.StartAsync(new Server.RepositoryServerOptions { Repository = archive.Path, Bind = "127.0.0.1", Port = 0 });
        try
        {
            var mirror = OstreeRepo.Open(Path.Combine(dir, "http-repo"));
            mirror.Config.Set("remote \"build\"", "url", $"{server.Address}repo/");
            mirror.SaveConfig();
            var pulled = await RemotePull.RunAsync(mirror, "build", ["demo/x86_64/stable"], new PullOptions { RequireStaticDeltas = true });
            Console.WriteLine($"10. committed 1.1 (one library changed), made a static delta from 1.0 ({stats.Objects} objects, {stats.Patched} as a bsdiff patch, {stats.CompressedSize} bytes) and pulled 1.1 over HTTP through it: {pulled.BytesTransferred} bytes, signature checked, same commit {(pulled.Refs.Single().Commit == v2.Commit ? "yes" : "NO")}");
        }
        finally
        {
            await server.DisposeAsync();
        }

        // The image store keeps what a host pulled under a reference; the delta is published next to the new image.
        var layout = v1Image.Path;
        var stable = Containers.References.ImageReference.Parse($"oci:{layout}:stable");
        await EncapsulateAsync(archive, v1, stable);
        var host = OstreeRepo.Create(Path.Combine(dir, "image-store-repo"), RepoMode.BareUser);
        host.AddRemote("demo", "https://example.invalid/demo", [], [new("gpg-verify", "false"), new("sign-verify", "ed25519"), new("verification-ed25519-key", key.PublicKey.Base64)]);
        var imgref = Containers.References.OstreeImageReference.Parse("ostree-remote-image:demo:" + stable);
        var store = new OstreeSharp.Containers.Store.ImageStore(host);
        var first = await store.PullAsync(imgref);
        await EncapsulateAsync(archive, v2.Commit, stable);
        var delta = await Containers.Deltas.ContainerDeltas.GenerateAsync(v1Image, stable, dir);
        var second = await store.PullAsync(imgref);
        Console.WriteLine($"11. pulled image {stable} at 1.0 into an image store ({first.BytesFetched} bytes), published 1.1 there with a container delta, and pulled it again: {second.LayersFromDeltas} layer rebuilt from a {second.BytesFetched}-byte delta (the layer is {delta.Layers.Sum(l => l.TargetLayerSize)} bytes), diff-id checked, signature verified");
    }

    // The sample tree as a bootable commit on demo/x86_64/stable.
    private static CommitResult CommitVersion(OstreeRepo archive, string tree, string version)
    {
        using var tx = archive.BeginTransaction();
        var root = new MutableTree();
        new DirectoryImporter(tx, new CommitModifier { OwnerUid = 0, OwnerGid = 0 }).Import(tree, root);
        var result = CommitWriter.Write(tx, root, new CommitRequest
        {
            Branch = "demo/x86_64/stable",
            Subject = "Sample OS " + version,
            Bootable = true,
            Metadata = [new("version", GVariant.GVariantValue.FromString(version))],
        });
        tx.Commit();
        return result;
    }

    private static async Task<OstreeSharp.Containers.Store.EncapsulateResult> EncapsulateAsync(OstreeRepo repo, Objects.Checksum commit, Containers.References.ImageReference image)
    {
        var destination = Containers.Transports.ImageTransports.OpenDestination(image);
        try
        {
            return await OstreeSharp.Containers.Store.Encapsulator.EncapsulateAsync(repo, commit, destination);
        }
        finally
        {
            await destination.DisposeAsync();
        }
    }

    private static async Task DeployIntoSysrootAsync(string dir, Containers.References.ImageReference imageRef, Signing.Ed25519SecretKey key)
    {
        if (Native.EffectiveUid != 0)
        {
            Console.WriteLine("12. not deploying: a sysroot's bare repository keeps files owned by root, so deploying needs root");
            return;
        }

        var sysroot = Sysroot.OstreeSysroot.InitFs(Path.Combine(dir, "sysroot"));
        // A throw-away sysroot: leave deployment roots mutable so the folder can be deleted afterwards.
        sysroot.MutableDeployments = true;
        sysroot.Log = line => Console.WriteLine("   " + line);
        sysroot.InitOs("sample");
        sysroot.Repo.AddRemote("demo", "https://example.invalid/demo", [], [new("gpg-verify", "false"), new("sign-verify", "ed25519"), new("verification-ed25519-key", key.PublicKey.Base64)]);
        var imgref = Containers.References.OstreeImageReference.Parse("ostree-remote-image:demo:" + imageRef);
        var d = await OstreeSharp.Containers.Host.SysrootImages.DeployAsync(sysroot, new(imgref, new Sysroot.DeployOptions { OsName = "sample", Kargs = ["root=LABEL=root", "quiet"] }));
        Console.WriteLine($"12. deployed {imgref} into sysroot {sysroot.Path} (signature verified again on import): {d.OsName} {d.DirectoryName}");
        var entry = Directory.GetFiles(sysroot.Combine($"boot/loader.{sysroot.BootVersion}/entries")).Single();
        Console.WriteLine($"13. boot entry {Path.GetRelativePath(sysroot.Path, entry)}:");
        foreach (var line in File.ReadAllLines(entry))
        {
            Console.WriteLine("      " + line);
        }

        var etc = Path.Combine(sysroot.DeploymentPath(d), "etc");
        Console.WriteLine($"14. /etc prepared from /usr/etc ({Directory.EnumerateFileSystemEntries(etc).Count()} entries), origin {File.ReadAllText(sysroot.OriginPath(d)).Trim().Replace('\n', ' ')}");
        Console.Write(SysrootStatus.Format(sysroot).Replace("\n", "\n    ", StringComparison.Ordinal).Insert(0, "15. admin status:\n    ").TrimEnd(' '));
    }
}

/// <summary>A small deterministic OS-like tree with a kernel, for the demo.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal static class SampleOsTree
{
    public static void Write(string root)
    {
        void File(string rel, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)
        {
            var p = Path.Combine(root, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            System.IO.File.WriteAllText(p, content);
            System.IO.File.SetUnixFileMode(p, mode);
        }

        const UnixFileMode Exec = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        var kver = "6.1.0-sample-amd64";
        File($"usr/lib/modules/{kver}/vmlinuz", new string('K', 64 * 1024));
        File($"usr/lib/modules/{kver}/initramfs.img", new string('I', 32 * 1024));
        File($"usr/lib/modules/{kver}/kernel/drivers/net/dummy.ko", "module");
        File("usr/etc/os-release", "NAME=\"Sample OS\"\nVERSION_ID=1.0\nID=sample\n");
        File("usr/etc/hostname", "sample\n");
        File("usr/lib/os-release", "NAME=\"Sample OS\"\nID=sample\nVERSION_ID=1.0\nPRETTY_NAME=\"Sample OS\"\n");
        File("usr/bin/hello", "#!/bin/sh\necho hello\n", Exec);
        File("usr/share/doc/sample/README", string.Concat(Enumerable.Repeat("Sample OS documentation line.\n", 200)));
        File("usr/share/licenses/sample/COPYING", "Public domain\n");
        System.IO.File.CreateSymbolicLink(Path.Combine(root, "usr/bin/hi"), "hello");
        foreach (var d in new[] { "var", "boot", "sysroot" })
        {
            Directory.CreateDirectory(Path.Combine(root, d));
        }

        System.IO.File.CreateSymbolicLink(Path.Combine(root, "bin"), "usr/bin");
        System.IO.File.CreateSymbolicLink(Path.Combine(root, "ostree"), "sysroot/ostree");
        for (int i = 0; i < 200; i++)
        {
            File($"usr/lib/sample/lib{i:000}.so", $"ELF-ish {i}\n" + new string((char)('a' + (i % 26)), 100 + (i * 37 % 4000)));
        }
    }
}
