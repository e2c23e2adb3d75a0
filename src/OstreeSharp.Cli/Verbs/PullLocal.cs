using System.CommandLine;
using OstreeSharp.Internal;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command PullLocalVerb()
    {
        var cmd = new Command("pull-local", "Copy data from SRC_REPO");
        var remote = new Option<string?>("--remote") { Description = "Add REMOTE to refspec" };
        var depth = new Option<int>("--depth") { Description = "Traverse DEPTH parents (-1=infinite) (default: 0)" };
        var metadataOnly = new Option<bool>("--commit-metadata-only") { Description = "Fetch only the commit metadata" };
        var disableFsync = new Option<bool>("--disable-fsync") { Description = "Do not invoke fsync()" };
        var perObjectFsync = new Option<bool>("--per-object-fsync") { Description = "Flush each object to disk on its own instead of with one syncfs at the end" };
        var untrusted = new Option<bool>("--untrusted") { Description = "Verify checksums of local sources (always for non-local repos)" };
        var bareUserOnly = new Option<bool>("--bareuseronly-files") { Description = "Reject regular files with mode outside of 0775 (world writable, suid, etc.)" };
        var gpgVerify = new Option<bool>("--gpg-verify") { Description = "GPG verify commits (must specify --remote)" };
        var gpgVerifySummary = new Option<bool>("--gpg-verify-summary") { Description = "GPG verify summary (must specify --remote)" };
        var src = new Argument<string>("SRC_REPO");
        var refs = new Argument<string[]>("REF") { Arity = ArgumentArity.ZeroOrMore };
        var requireDeltas = new Option<bool>("--require-static-deltas") { Description = "Require static deltas" };
        var noBindings = new Option<bool>("--disable-verify-bindings") { Description = "Do not verify commit bindings" };
        foreach (var o in new Option[] { remote, depth, metadataOnly, disableFsync, perObjectFsync, untrusted, bareUserOnly, gpgVerify, gpgVerifySummary, requireDeltas, noBindings })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(src);
        cmd.Arguments.Add(refs);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(disableFsync))
            {
                repo.Fsync = false;
            }

            if (pr.GetValue(perObjectFsync))
            {
                repo.PerObjectFsync = true;
            }

            var source = OstreeRepo.Open(pr.GetValue(src)!);
            var options = new PullLocalOptions
            {
                Depth = pr.GetValue(depth),
                CommitMetadataOnly = pr.GetValue(metadataOnly),
                BareUserOnlyFiles = pr.GetValue(bareUserOnly),
                Trusted = !pr.GetValue(untrusted),
                RequireStaticDeltas = pr.GetValue(requireDeltas),
                GpgVerify = pr.GetValue(gpgVerify),
                GpgVerifySummary = pr.GetValue(gpgVerifySummary),
                VerifyBindings = !pr.GetValue(noBindings),
                CollectionId = source.CollectionId,
            };
            if ((options.GpgVerify || options.GpgVerifySummary) && pr.GetValue(remote) is null)
            {
                throw new ArgumentException("Must specify remote name to enable gpg verification"); // ostree's words
            }

            var stats = PullLocal.Import(source, repo, pr.GetValue(refs) ?? [], pr.GetValue(remote), options, CliSupport.MakeProgress(pr, "pull-local"), CliSupport.Stopping);
            Console.WriteLine($"{stats.Metadata} metadata, {stats.Content} content objects imported; {SizeFormat.FormatAsGlibPrints(stats.ContentBytesWritten)} content written");
            return 0;
        });
        return cmd;
    }
}
