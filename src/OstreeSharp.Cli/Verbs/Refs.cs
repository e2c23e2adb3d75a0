using System.CommandLine;
using System.Text.Json;
using OstreeSharp.Objects;
using OstreeSharp.Repository;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
    public static Command Refs()
    {
        var cmd = new Command("refs", "List refs");
        var create = new Option<string?>("--create") { Description = "Create a new ref for an existing commit" };
        var delete = new Option<bool>("--delete") { Description = "Delete refs which match PREFIX, rather than listing them" };
        var list = new Option<bool>("--list") { Description = "Do not remove the prefix from the refs" };
        var json = new Option<bool>("--json") { Description = "Print refs and their commits as a JSON object" };
        var revision = new Option<bool>("--revision", "-r") { Description = "Show revisions in listing" };
        var force = new Option<bool>("--force") { Description = "Overwrite existing refs when creating" };
        var alias = new Option<bool>("--alias", "-A") { Description = "If used with --create, create an alias, otherwise just list aliases" };
        var collections = new Option<bool>("--collections", "-c") { Description = "Enable listing collection IDs for refs" };
        var prefix = new Argument<string[]>("PREFIX") { Arity = ArgumentArity.ZeroOrMore };
        foreach (var o in new Option[] { create, delete, list, json, revision, force, alias, collections })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(prefix);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var prefixes = pr.GetValue(prefix) ?? [];
            var pfx = prefixes.FirstOrDefault();
            if (pr.GetValue(collections))
            {
                if (pr.GetValue(json) || pr.GetValue(revision) || pr.GetValue(alias))
                {
                    throw new ArgumentException("--collections cannot be combined with --json, --revision or --alias");
                }

                return RefsWithCollections(repo, pfx, pr.GetValue(create), pr.GetValue(delete), pr.GetValue(force));
            }

            if (pr.GetValue(create) is { } newRef)
            {
                if (pfx is null)
                {
                    throw new ArgumentException("--create requires specifying an existing ref or commit");
                }

                if (prefixes.Length > 1)
                {
                    throw new ArgumentException("You must specify only 1 existing ref when creating a new ref");
                }

                // As ostree, only the ref itself counts (a remote's ref of that name does not); an alias may be
                // pointed elsewhere without --force.
                bool replacingAlias = pr.GetValue(alias) && repo.ListRefAliases().ContainsKey(newRef);
                if (!replacingAlias && !pr.GetValue(force) && repo.HasRef(newRef))
                {
                    throw new OstreeException(OstreeErrorCode.RefExists, $"--create specified but ref {newRef} already exists");
                }

                if (pr.GetValue(alias))
                {
                    if (OstreeRepo.ParseRefspec(newRef).Remote is { } aliasRemote)
                    {
                        throw new OstreeException(OstreeErrorCode.RefInvalid, $"Cannot create alias to remote ref: {aliasRemote}");
                    }

                    if (!repo.ListRefs().ContainsKey(pfx))
                    {
                        throw new OstreeException(OstreeErrorCode.RefNotFound, $"Cannot create alias to non-existent ref: {pfx}");
                    }

                    repo.SetAliasRef(newRef, pfx);
                    return 0;
                }

                var target = repo.Resolve(pfx);
                if (!repo.HasObject(target, ObjectType.Commit))
                {
                    throw new ObjectNotFoundException($"No such commit {target}");
                }

                repo.SetRefImmediate(newRef, target);
                return 0;
            }

            if (pr.GetValue(delete))
            {
                if (pfx is null)
                {
                    throw new ArgumentException("--delete requires a PREFIX");
                }

                // Each PREFIX as ostree matches it: one ref, or the refs in a folder of refs; a ref an alias names stays.
                var aliases = repo.ListRefAliases();
                foreach (var p in prefixes)
                {
                    foreach (var r in ShownRefs(repo, p, cutPrefix: false))
                    {
                        if (aliases.FirstOrDefault(a => a.Value == r.Refspec) is { Key: { } aliasName })
                        {
                            throw new OstreeException(OstreeErrorCode.RefExists, $"Ref '{r.Refspec}' has an active alias: '{aliasName}'");
                        }

                        repo.SetRefImmediate(r.Refspec, null);
                    }
                }

                return 0;
            }

            if (pr.GetValue(alias))
            {
                foreach (var (name, target) in repo.ListRefAliases().Where(a => pfx is null || a.Key.StartsWith(pfx, StringComparison.Ordinal)))
                {
                    Console.WriteLine($"{name} -> {target}");
                }

                return 0;
            }

            if (pr.GetValue(json))
            {
                var all = prefixes.Length == 0 ? ShownRefs(repo, null, cutPrefix: false) : prefixes.SelectMany(p => ShownRefs(repo, p, cutPrefix: false));
                Console.WriteLine(JsonSerializer.Serialize(all.ToDictionary(r => r.Refspec, r => r.Commit.ToHex()), CliJsonContext.Default.DictionaryStringString));
                return 0;
            }

            foreach (var p in prefixes.Length == 0 ? [null] : prefixes.Cast<string?>())
            {
                foreach (var (shown, _, commit) in ShownRefs(repo, p, cutPrefix: !pr.GetValue(list)))
                {
                    Console.WriteLine(pr.GetValue(revision) ? $"{shown}\t{commit}" : shown);
                }
            }

            return 0;
        });
        return cmd;
    }

    // `refs --collections`: (COLLECTION, REF) pairs, PREFIX being a collection id; --create=COLLECTION:REF makes a
    // collection ref (a mirror ref unless it is the repository's own collection), --delete removes a collection's.
    private static int RefsWithCollections(OstreeRepo repo, string? arg, string? create, bool delete, bool force)
    {
        if (create is not null)
        {
            if (arg is null)
            {
                throw new ArgumentException("--create requires specifying an existing ref or commit");
            }

            var parts = create.Split(':', 2);
            if (parts.Length < 2)
            {
                throw new OstreeException(OstreeErrorCode.RefInvalid, $"Invalid collection ref {create}: expected COLLECTION-ID:REF");
            }

            OstreeRepo.ValidateCollectionId(parts[0]);
            OstreeRepo.ValidateRefName(parts[1]);
            // As ostree: the existing ref is looked up as a refspec (so COLLECTION:REF reads as a remote's ref).
            if (!force && repo.ResolveRev(create, allowMissing: true) is not null)
            {
                throw new OstreeException(OstreeErrorCode.RefExists, $"--create specified but ref {create} already exists");
            }

            repo.SetCollectionRefImmediate(parts[0], parts[1], repo.Resolve(arg));
            return 0;
        }

        var refs = repo.ListCollectionRefs(arg);
        if (delete)
        {
            foreach (var (collection, name) in refs.Keys)
            {
                // A remote's ref is listed under the remote's collection but is not a collection ref to delete.
                if (collection == repo.CollectionId || File.Exists(Path.Combine(repo.Path, "refs", "mirrors", collection, name)))
                {
                    repo.SetCollectionRefImmediate(collection, name, null);
                }
            }

            return 0;
        }

        foreach (var (collection, name) in refs.Keys)
        {
            Console.WriteLine($"({collection}, {name})");
        }

        return 0;
    }

    /// <summary>
    /// Refs as <c>ostree refs [--list] PREFIX</c> prints them. PREFIX (<c>REF</c> or <c>REMOTE:REF</c>) names a folder
    /// of refs/heads or refs/remotes/REMOTE, whose refs are listed by their path inside it, or with the folder in front
    /// when the prefix is kept (an empty REF reads as "."; REMOTE: goes in front of each), or one ref, listed as given.
    /// Without PREFIX: every head and every remote ref (REMOTE:REF).
    /// </summary>
    private static List<(string Shown, string Refspec, Checksum Commit)> ShownRefs(OstreeRepo repo, string? prefix, bool cutPrefix)
    {
        if (prefix is null)
        {
            return repo.ListRefs().Select(kv => (kv.Key, kv.Key, kv.Value)).ToList();
        }

        int colon = prefix.IndexOf(':', StringComparison.Ordinal);
        string? remote = colon < 0 ? null : prefix[..colon];
        var refPrefix = colon < 0 ? prefix : prefix[(colon + 1)..];
        if (refPrefix == ".")
        {
            refPrefix = string.Empty; // REMOTE:. is REMOTE:, as ostree keeps it for flatpak
        }

        var all = remote is null ? repo.ListRefs(includeRemotes: false) : repo.ListRefs($"{remote}:");
        var stem = remote is null ? string.Empty : remote + ":";
        var result = new List<(string, string, Checksum)>();
        if (all.TryGetValue(stem + refPrefix, out var single))
        {
            result.Add((prefix, stem + refPrefix, single));
            return result;
        }

        var folder = refPrefix.Length == 0 ? string.Empty : refPrefix.TrimEnd('/') + "/";
        foreach (var (key, commit) in all)
        {
            var name = key[stem.Length..];
            if (name.StartsWith(folder, StringComparison.Ordinal))
            {
                var rel = name[folder.Length..];
                result.Add((stem + (cutPrefix ? rel : (refPrefix.Length == 0 ? "." : refPrefix.TrimEnd('/')) + "/" + rel), key, commit));
            }
        }

        return result;
    }
}
