using System.CommandLine;
using System.Text;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Checkout()
    {
        var cmd = new Command("checkout", "Check out a commit into a filesystem tree");
        var user = new Option<bool>("--user-mode", "-U") { Description = "Do not change file ownership or initialize extended attributes" };
        var union = new Option<bool>("--union") { Description = "Keep existing directories, overwrite existing files" };
        var unionAdd = new Option<bool>("--union-add") { Description = "Keep existing files/directories, only add new" };
        var unionIdentical = new Option<bool>("--union-identical") { Description = "When layering checkouts, error out if a file would be replaced with a different version, but add new files and directories" };
        var subpath = new Option<string?>("--subpath") { Description = "Checkout sub-directory PATH" };
        var requireHl = new Option<bool>("--require-hardlinks", "-H") { Description = "Do not fall back to full copies if hardlinking fails" };
        var forceCopy = new Option<bool>("--force-copy", "-C") { Description = "Never hardlink (but may reflink if available)" };
        var composefs = new Option<bool>("--composefs") { Description = "Only create a composefs blob" };
        var composefsNoVerity = new Option<bool>("--composefs-noverity") { Description = "Only create a composefs blob, and disable fsverity" };
        var skipList = new Option<string?>("--skip-list") { Description = "File containing list of files to skip" };
        var zeroSized = new Option<bool>("--force-copy-zerosized", "-z") { Description = "Do not hardlink zero-sized files (always the case)" };
        var bareUserOnlyDirs = new Option<bool>("--bareuseronly-dirs", "-M") { Description = "Suppress mode bits outside of 0775 for directories (suid, world writable, etc.)" };
        var allowNoent = new Option<bool>("--allow-noent") { Description = "Do nothing if specified path does not exist" };
        var whiteouts = new Option<bool>("--whiteouts") { Description = "Process 'whiteout' (Docker style) entries" };
        var passthroughWhiteouts = new Option<bool>("--process-passthrough-whiteouts") { Description = "Enable overlayfs whiteout extraction into char 0:0 devices" };
        var fromStdin = new Option<bool>("--from-stdin") { Description = "Process many checkouts from standard input" };
        var fromFile = new Option<string?>("--from-file") { Description = "Process many checkouts from input file" };
        var fsync = new Option<string?>("--fsync") { Description = "Specify how to invoke fsync()" };
        var disableCache = new Option<bool>("--disable-cache") { Description = "Do not update or use the internal repository uncompressed object cache" };
        var selinuxPolicy = new Option<string?>("--selinux-policy") { Description = "Set SELinux labels based on policy in root filesystem PATH (may be /); implies --force-copy" };
        var selinuxPrefix = new Option<string?>("--selinux-prefix") { Description = "When setting SELinux labels, prefix all paths by PREFIX" };
        var rev = new Argument<string>("COMMIT");
        var dest = new Argument<string?>("DESTINATION") { Arity = ArgumentArity.ZeroOrOne };
        foreach (var o in new Option[]
        {
            user, union, unionAdd, unionIdentical, subpath, requireHl, forceCopy, composefs, composefsNoVerity, skipList, zeroSized, bareUserOnlyDirs,
            allowNoent, whiteouts, passthroughWhiteouts, fromStdin, fromFile, fsync, disableCache, selinuxPolicy, selinuxPrefix,
        })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(rev);
        cmd.Arguments.Add(dest);
        CliSupport.SetRun(cmd, pr =>
        {
            if (pr.GetValue(union) && pr.GetValue(unionAdd))
            {
                throw new ArgumentException("Cannot specify both --union and --union-add");
            }

            if (pr.GetValue(unionIdentical))
            {
                if (pr.GetValue(union) || pr.GetValue(unionAdd))
                {
                    throw new ArgumentException($"Cannot specify both {(pr.GetValue(union) ? "--union" : "--union-add")} and --union-identical");
                }

                if (!pr.GetValue(requireHl))
                {
                    throw new ArgumentException("--union-identical requires --require-hardlinks");
                }
            }

            if (pr.GetValue(requireHl) && (pr.GetValue(forceCopy) || pr.GetValue(selinuxPolicy) is not null))
            {
                throw new ArgumentException("Cannot specify both --require-hardlinks and --force-copy");
            }

            if (pr.GetValue(selinuxPrefix) is not null && pr.GetValue(selinuxPolicy) is null)
            {
                throw new ArgumentException("Cannot specify --selinux-prefix without --selinux-policy");
            }

            // As ostree: the value is checked first; checkout itself never fsyncs its files, and --fsync=false turns off
            // the repository's flushes, which here are those of the uncompressed-objects cache.
            bool fsyncWanted = pr.GetValue(fsync) is not { } fsyncPolicy || CliSupport.ParseOstreeBoolean(fsyncPolicy);
            var repo = CliSupport.OpenRepo(pr);
            if (!fsyncWanted)
            {
                repo.Fsync = false;
            }

            var r = pr.GetValue(rev)!;
            bool many = pr.GetValue(fromStdin) || pr.GetValue(fromFile) is not null;
            var commit = many ? default : repo.Resolve(r);
            if (pr.GetValue(composefs) || pr.GetValue(composefsNoVerity))
            {
                if (many)
                {
                    throw new ArgumentException("--from-stdin and --from-file cannot be combined with --composefs");
                }

                // The composefs image of the commit, written to DESTINATION. ostree refuses -H, -C and --union-add with it
                // and ignores -U, --union and --subpath; we refuse these and every other layering option rather than accept what we would ignore.
                if (pr.GetValue(requireHl) || pr.GetValue(forceCopy) || pr.GetValue(unionAdd) || pr.GetValue(subpath) is not null
                    || pr.GetValue(user) || pr.GetValue(union) || pr.GetValue(unionIdentical) || pr.GetValue(skipList) is not null || pr.GetValue(bareUserOnlyDirs)
                    || pr.GetValue(whiteouts) || pr.GetValue(passthroughWhiteouts) || pr.GetValue(disableCache) || pr.GetValue(selinuxPolicy) is not null
                    || pr.GetValue(allowNoent))
                {
                    throw new ArgumentException("Specified options are incompatible with --composefs");
                }

                var verity = pr.GetValue(composefsNoVerity) ? Composefs.ComposefsVerity.None : Composefs.ComposefsVerity.Required;
                Composefs.OstreeComposefs.WriteImageFile(repo, commit, verity, pr.GetValue(dest) ?? r);
                return 0;
            }

            SELinux.SePolicy? policy = null;
            if (pr.GetValue(selinuxPolicy) is { } policyRoot)
            {
                if (!Directory.Exists(policyRoot))
                {
                    throw new OstreeException(OstreeErrorCode.IOFailed, $"selinux-policy: opendir({policyRoot}): No such file or directory");
                }

                policy = SELinux.SePolicy.Load(policyRoot);
            }

            // As ostree: a checkout given none of the options its newer code path takes uses the uncompressed cache.
            bool plain = !(pr.GetValue(disableCache) || pr.GetValue(whiteouts) || pr.GetValue(requireHl) || pr.GetValue(unionAdd) || pr.GetValue(forceCopy)
                || pr.GetValue(zeroSized) || pr.GetValue(bareUserOnlyDirs) || pr.GetValue(unionIdentical) || pr.GetValue(skipList) is not null
                || policy is not null || pr.GetValue(passthroughWhiteouts));
            CheckoutOptions Options(string? path) => new()
            {
                UseUncompressedCache = plain,
                UserMode = pr.GetValue(user),
                Overwrite = pr.GetValue(union) ? CheckoutOverwrite.UnionFiles : pr.GetValue(unionAdd) ? CheckoutOverwrite.AddFiles : pr.GetValue(unionIdentical) ? CheckoutOverwrite.UnionIdentical : CheckoutOverwrite.None,
                Subpath = path,
                AllowMissingSubpath = pr.GetValue(allowNoent),
                DockerWhiteouts = pr.GetValue(whiteouts),
                ProcessWhiteouts = pr.GetValue(passthroughWhiteouts),
                SePolicy = policy,
                SePolicyPrefix = pr.GetValue(selinuxPrefix),
                SkipList = pr.GetValue(skipList) is { } skipFile ? CommitModifier.ReadSkipList(skipFile) : new HashSet<string>(),
                RequireHardlinks = pr.GetValue(requireHl),
                ForceCopy = pr.GetValue(forceCopy) || policy is not null,

                // As ostree since 2017: empty files are never hardlinked (all of them would share one inode); -z
                // asks for what is done anyway.
                ForceCopyZeroSized = true,
                BareUserOnlyDirs = pr.GetValue(bareUserOnlyDirs),
            };
            if (!many)
            {
                new Checkout(repo, Options(pr.GetValue(subpath))).Run(commit, pr.GetValue(dest) ?? r, CliSupport.Stopping);
                return 0;
            }

            // As ostree: COMMIT is then the destination, and the input holds NUL-terminated pairs of revision and subpath.
            if (pr.GetValue(dest) is not null)
            {
                throw new ArgumentException("--from-stdin and --from-file take the destination as their only argument");
            }

            byte[] input;
            if (pr.GetValue(fromStdin))
            {
                using var ms = new MemoryStream();
                using var stdin = Console.OpenStandardInput();
                stdin.CopyTo(ms);
                input = ms.ToArray();
            }
            else
            {
                input = File.ReadAllBytes(pr.GetValue(fromFile)!);
            }

            var fields = Encoding.UTF8.GetString(input).Split('\0');
            for (int i = 0; i + 1 < fields.Length && fields[i].Length > 0; i += 2)
            {
                var resolved = repo.Resolve(fields[i]);
                try
                {
                    new Checkout(repo, Options(fields[i + 1].Length > 0 ? fields[i + 1] : null)).Run(resolved, r, CliSupport.Stopping);
                }
                catch (OstreeException e)
                {
                    throw new OstreeException(OstreeErrorCodes.Of(e, OstreeErrorCode.Failed), $"Processing tree {resolved}: {e.Message}", e);
                }
            }

            return 0;
        });
        return cmd;
    }
}
