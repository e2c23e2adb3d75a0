using System.CommandLine;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

/// <summary>
/// The verbs that move collection refs between repositories wherever they are found: <c>find-remotes</c> (which
/// remotes or mounted media serve them, and pull from those) and <c>create-usb</c> (copy them onto removable media).
/// </summary>
internal static class CollectionCommands
{
    public static Command FindRemotes()
    {
        var cmd = new Command("find-remotes", "Find remotes to serve the given refs");
        var args = new Argument<string[]>("COLLECTION-ID REF") { Arity = ArgumentArity.ZeroOrMore };
        var cacheDir = new Option<string?>("--cache-dir") { Description = "Use custom cache dir" };
        var disableFsync = new Option<bool>("--disable-fsync") { Description = "Do not invoke fsync()" };
        var finders = new Option<string?>("--finders") { Description = "Use the specified comma separated list of finders (e.g. config,lan,mount)", HelpName = "FINDERS" };
        var pull = new Option<bool>("--pull") { Description = "Pull the updates after finding them" };
        var mirror = new Option<bool>("--mirror") { Description = "Do a mirror pull (see ostree pull --mirror)" };
        cmd.Arguments.Add(args);
        foreach (var o in new Option[] { cacheDir, disableFsync, finders, pull, mirror })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRunAsync(cmd, async (pr, ct) =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var refs = ReadPairs(pr.GetValue(args) ?? [], 0);
            if (pr.GetValue(mirror) && !pr.GetValue(pull))
            {
                throw new ArgumentException("When --mirror is specified, --pull must also be");
            }

            if (pr.GetValue(disableFsync))
            {
                repo.Fsync = false;
            }

            var kinds = pr.GetValue(finders) is { } list ? ParseFinders(list) : RepoFinder.DefaultFinders(repo);
            var results = await RepoFinder.FindAsync(repo, refs, kinds, null, CliSupport.Stopping);
            Console.Out.Write(RepoFinder.Format(results, refs));
            if (results.Count == 0 || !pr.GetValue(pull))
            {
                return 0;
            }

            await RepoFinder.PullAsync(repo, results, pr.GetValue(mirror), new PullOptions { CacheDir = pr.GetValue(cacheDir) }, CliSupport.Stopping);
            Console.WriteLine($"Pulled {refs.Count}/{refs.Count} refs successfully.");
            return 0;
        });
        return cmd;
    }

    public static Command CreateUsb()
    {
        var cmd = new Command("create-usb", "Copy the refs to a USB stick");
        var args = new Argument<string[]>("MOUNT-PATH COLLECTION-ID REF") { Arity = ArgumentArity.ZeroOrMore };
        var disableFsync = new Option<bool>("--disable-fsync") { Description = "Do not invoke fsync()" };
        var destination = new Option<string?>("--destination-repo") { Description = "Use custom repository directory within the mount", HelpName = "DEST" };
        var commit = new Option<string?>("--commit") { Description = "Pull a specific commit (only works when a single ref is specified)", HelpName = "COMMIT" };
        cmd.Arguments.Add(args);
        foreach (var o in new Option[] { disableFsync, destination, commit })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var source = CliSupport.OpenRepo(pr);
            var a = pr.GetValue(args) ?? [];
            if (a.Length < 1)
            {
                throw new ArgumentException("A MOUNT-PATH must be specified");
            }

            var refs = ReadPairs(a, 1);
            if (pr.GetValue(commit) is not null && refs.Count > 1)
            {
                throw new ArgumentException("The --commit option can only be used when a single COLLECTION-ID REF pair is specified");
            }

            var pinned = pr.GetValue(commit) is { } c ? source.Resolve(c) : (Objects.Checksum?)null;
            var dest = UsbStick.Copy(source, a[0], pr.GetValue(destination), refs.Select(r => new CollectionRefRequest(r.Collection, r.Ref, pinned)).ToList(), !pr.GetValue(disableFsync), CliSupport.Stopping);
            Console.WriteLine($"Copied {refs.Count}/{refs.Count} refs successfully from ‘{source.Path}’ to ‘{dest}’ repository in ‘{a[0]}’.");
            return 0;
        });
        return cmd;
    }

    // COLLECTION-ID REF pairs from args[start..], checked in ostree's order and words.
    private static List<CollectionRef> ReadPairs(string[] args, int start)
    {
        int n = args.Length - start;
        if (n < 2)
        {
            throw new ArgumentException("At least one COLLECTION-ID REF pair must be specified");
        }

        if (n % 2 != 0)
        {
            throw new ArgumentException("Only complete COLLECTION-ID REF pairs may be specified");
        }

        var refs = new List<CollectionRef>();
        for (int i = start; i < args.Length; i += 2)
        {
            OstreeRepo.ValidateCollectionId(args[i]);
            OstreeRepo.ValidateRefName(args[i + 1]);
            refs.Add(new CollectionRef(args[i], args[i + 1]));
        }

        return refs;
    }

    // --finders: each of config, lan, mount at most once, in ostree's words; "lan" needs Avahi, which this build does
    // not have, so it is refused as ostree built without it refuses it.
    private static List<RepoFinderKind> ParseFinders(string list)
    {
        var names = list.Split(',');
        if (names.Length == 0 || (names.Length == 1 && names[0].Length == 0))
        {
            throw new ArgumentException("List of finders in --finders option must not be empty");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in names)
        {
            if (n is not ("config" or "lan" or "mount") || !seen.Add(n))
            {
                throw new ArgumentException($"Unknown or duplicate finder type given in --finders option: ‘{n}’");
            }
        }

        if (seen.Contains("lan"))
        {
            throw new ArgumentException("LAN repo finder requested but ostree was compiled without Avahi support");
        }

        return names.Select(n => n == "config" ? RepoFinderKind.Config : RepoFinderKind.Mount).ToList();
    }
}
