using System.CommandLine;
using OstreeSharp.Internal;
using OstreeSharp.Operations;
using OstreeSharp.Signing;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static class RemoteCommand
{
    public static Command Create()
    {
        var cmd = new Command("remote", "Remote commands that may involve server access");
        cmd.Subcommands.Add(Add());
        cmd.Subcommands.Add(List());
        cmd.Subcommands.Add(Delete());
        cmd.Subcommands.Add(ShowUrl());
        cmd.Subcommands.Add(GpgImport());
        cmd.Subcommands.Add(GpgListKeys());
        cmd.Subcommands.Add(AddCookie());
        cmd.Subcommands.Add(DeleteCookie());
        cmd.Subcommands.Add(ListCookies());
        cmd.Subcommands.Add(Summary());
        cmd.Subcommands.Add(Refs());
        return cmd;
    }

    // `remote refs NAME`: the refs of the remote's (verified) summary, as NAME:REF lines.
    private static Command Refs()
    {
        var cmd = new Command("refs", "List remote refs");
        var name = new Argument<string>("NAME");
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var remote = pr.GetValue(name)!;
            var fetched = RemoteSummary.FetchAsync(repo, remote, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
            foreach (var r in Operations.Summary.ReadRefs(fetched.Summary).Select(x => x.Ref).Order(StringComparer.Ordinal))
            {
                Console.WriteLine($"{remote}:{r}");
            }

            return 0;
        });
        return cmd;
    }

    private static int ImportKeys(OstreeSharp.Repository.OstreeRepo repo, string remote, IEnumerable<string> files, IReadOnlyCollection<string>? ids = null, bool stdin = false)
    {
        repo.RequireRemote(remote);
        var target = Path.Combine(repo.Path, remote + ".trustedkeys.gpg");
        var source = new GpgKeyring();
        foreach (var f in files)
        {
            source.AddPath(f);
        }

        if (stdin)
        {
            // AddStream reads the whole stream into memory first, so a pipe will do.
            using var input = Console.OpenStandardInput();
            source.AddStream(input, "standard input");
        }

        // KEY-IDs pick the keys to import from the sources, as ostree does.
        if (ids is { Count: > 0 } && source.KeepOnly(ids) is { } missing)
        {
            throw new SignatureException($"No key {missing} in the keys to import");
        }

        var keyring = new GpgKeyring();
        if (File.Exists(target))
        {
            keyring.AddFile(target);
        }

        // A key already there gets what is new in it (a later expiry, a revocation) and is not counted, as with
        // gpg --import.
        int n = source.Rings.Count(keyring.Merge);
        FileUtil.WriteAtomic(target, keyring.ToBinary(), repo.Fsync);
        Console.WriteLine($"Imported {n} GPG key{(n == 1 ? string.Empty : "s")} to remote \"{remote}\"");
        return n;
    }

    // `remote gpg-list-keys [NAME]`: the keys a remote trusts (its own keyring and gpgkeypath), or without NAME the
    // global keyring folder's, in ostree's layout.
    private static Command GpgListKeys()
    {
        var cmd = new Command("gpg-list-keys", "Show remote GPG keys");
        var name = new Argument<string?>("NAME") { Arity = ArgumentArity.ZeroOrOne };
        var sysroot = SysrootOption();
        cmd.Arguments.Add(name);
        cmd.Options.Add(sysroot);
        CliSupport.SetRun(cmd, pr =>
        {
            GpgKeyring keys;
            if (pr.GetValue(name) is { } remote)
            {
                keys = VerificationPolicy.RemoteGpgKeys(OpenRepoOrSysroot(pr, sysroot), remote, globalFallback: false);
            }
            else
            {
                keys = new GpgKeyring();
                keys.AddGlobalKeys();
            }

            Console.Write(GpgKeyListing.Format(keys, DateTime.UtcNow));
            return 0;
        });
        return cmd;
    }

    // `remote add-cookie|delete-cookie|list-cookies`: the remote's cookie jar, REMOTE.cookies.txt in the repository,
    // sent with its pulls. As ostree, the remote need not exist yet.
    private static Command AddCookie()
    {
        var cmd = new Command("add-cookie", "Add a cookie to remote");
        var args = new[] { "NAME", "DOMAIN", "PATH", "COOKIE_NAME", "VALUE" }.Select(n => new Argument<string>(n)).ToArray();
        foreach (var a in args)
        {
            cmd.Arguments.Add(a);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var v = args.Select(a => pr.GetValue(a)!).ToArray();
            OstreeSharp.Transfer.CookieJar.Add(OstreeSharp.Transfer.CookieJar.PathOf(repo.Path, v[0]), v[1], v[2], v[3], v[4], DateTimeOffset.UtcNow);
            return 0;
        });
        return cmd;
    }

    private static Command DeleteCookie()
    {
        var cmd = new Command("delete-cookie", "Remove one cookie from remote");
        var args = new[] { "NAME", "DOMAIN", "PATH", "COOKIE_NAME" }.Select(n => new Argument<string>(n)).ToArray();

        // ostree reads four words and passes over the rest (its own tests pass the value too).
        var rest = new Argument<string[]>("VALUE") { Arity = ArgumentArity.ZeroOrMore, Description = "Not used (ostree takes and drops it too)" };
        foreach (var a in args)
        {
            cmd.Arguments.Add(a);
        }

        cmd.Arguments.Add(rest);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var v = args.Select(a => pr.GetValue(a)!).ToArray();
            if (!OstreeSharp.Transfer.CookieJar.Delete(OstreeSharp.Transfer.CookieJar.PathOf(repo.Path, v[0]), v[1], v[2], v[3], repo.Fsync))
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "Cookie not found in jar");
            }

            return 0;
        });
        return cmd;
    }

    private static Command ListCookies()
    {
        var cmd = new Command("list-cookies", "Show remote repository cookies");
        var name = new Argument<string>("NAME");
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            Console.Write(OstreeSharp.Transfer.CookieJar.Format(OstreeSharp.Transfer.CookieJar.Read(OstreeSharp.Transfer.CookieJar.PathOf(repo.Path, pr.GetValue(name)!))));
            return 0;
        });
        return cmd;
    }

    private static Command Summary()
    {
        var cmd = new Command("summary", "Show remote summary (verified as the remote's gpg-verify-summary and sign-verify-summary say)");
        var name = new Argument<string>("NAME");
        var raw = new Option<bool>("--raw") { Description = "Show raw variant data" };
        cmd.Arguments.Add(name);
        cmd.Options.Add(raw);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var fetched = RemoteSummary.FetchAsync(repo, pr.GetValue(name)!, cancellationToken: CliSupport.Stopping).GetAwaiter().GetResult();
            if (pr.GetValue(raw))
            {
                Console.WriteLine(GVariant.GVariantValue.Parse(Operations.Summary.Type, fetched.Summary).Byteswap().Print(true));
            }
            else
            {
                Console.Write(SummaryDump.Format(fetched.Summary));
            }

            if (fetched.Gpg is { } statuses && !pr.GetValue(raw))
            {
                Console.Write($"\nGPG: Verification enabled, found {statuses.Count} signature{(statuses.Count == 1 ? string.Empty : "s")}:\n");
                foreach (var st in statuses)
                {
                    Console.Write("\n" + st.Describe());
                }
            }

            return 0;
        });
        return cmd;
    }

    private static Command GpgImport()
    {
        var cmd = new Command("gpg-import", "Import GPG keys");
        var keyring = new Option<string[]>("--keyring", "-k") { Description = "Import keys from a keyring file (repeatable)" };
        var stdin = new Option<bool>("--stdin") { Description = "Import keys from standard input" };
        var name = new Argument<string>("NAME");
        var ids = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.ZeroOrMore };
        cmd.Options.Add(keyring);
        cmd.Options.Add(stdin);
        cmd.Arguments.Add(name);
        cmd.Arguments.Add(ids);
        CliSupport.SetRun(cmd, pr =>
        {
            var files = pr.GetValue(keyring) ?? [];
            if (files.Length == 0 && !pr.GetValue(stdin))
            {
                throw new ArgumentException("--keyring=FILE or --stdin is required (reading the user's GnuPG keyring by key id is not supported)");
            }

            ImportKeys(CliSupport.OpenRepo(pr), pr.GetValue(name)!, files, pr.GetValue(ids), pr.GetValue(stdin));
            return 0;
        });
        return cmd;
    }

    private static Command Add()
    {
        var cmd = new Command("add", "Add a remote repository");
        var set = new Option<string[]>("--set") { Description = "Set config option KEY=VALUE for remote" };
        var noGpg = new Option<bool>("--no-gpg-verify") { Description = "Disable GPG verification" };
        var signVerify = new Option<string[]>("--sign-verify") { Description = "Verify signatures using KEYTYPE=inline:PUBKEY or KEYTYPE=file:/path/to/key" };
        var ifNotExists = new Option<bool>("--if-not-exists") { Description = "Do nothing if the provided remote exists" };
        var gpgImport = new Option<string?>("--gpg-import") { Description = "Import GPG key from FILE" };
        var noSignVerify = new Option<bool>("--no-sign-verify") { Description = "Disable signature verification" };
        var force = new Option<bool>("--force") { Description = "Replace the provided remote if it exists" };
        var contentUrl = new Option<string?>("--contenturl") { Description = "Use URL when fetching content" };
        var collectionId = new Option<string?>("--collection-id") { Description = "Globally unique ID for this repository as a collection of refs for redistribution to other repositories" };
        var customBackend = new Option<string?>("--custom-backend") { Description = "This remote has content not fetched via libostree" };
        var sysroot = SysrootOption();
        var name = new Argument<string>("NAME");
        var url = new Argument<string?>("URL") { Arity = ArgumentArity.ZeroOrOne, Description = "Optional with --custom-backend" };
        var branches = new Argument<string[]>("BRANCH") { Arity = ArgumentArity.ZeroOrMore };
        foreach (var o in new Option[] { set, noGpg, signVerify, ifNotExists, gpgImport, noSignVerify, force, contentUrl, collectionId, customBackend, sysroot })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(name);
        cmd.Arguments.Add(url);
        cmd.Arguments.Add(branches);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree: a remote whose content something else fetches needs no URL.
            if (pr.GetValue(url) is null && pr.GetValue(customBackend) is null)
            {
                throw new ArgumentException("NAME and URL must be specified");
            }

            var repo = OpenRepoOrSysroot(pr, sysroot);
            var options = new List<KeyValuePair<string, string>>();
            foreach (var kv in pr.GetValue(set) ?? [])
            {
                var (k, v) = CliSupport.SplitKeyValue(kv, "--set");
                options.Add(new(k, v));
            }

            var sv = pr.GetValue(signVerify) ?? [];
            var engines = new List<string>();
            foreach (var spec in sv)
            {
                // TYPE=inline:KEY or TYPE=file:PATH, checked in ostree's order and words; the key is kept as given.
                var parts = spec.Split('=', 2);
                if (parts.Length < 2)
                {
                    throw new ArgumentException($"Failed to parse KEYTYPE=[inline|file]:DATA in {spec}");
                }

                var engine = SignEngine.Create(parts[0]);
                var how = parts[1].Split(':', 2);
                if (how[0] is not ("inline" or "file"))
                {
                    throw new ArgumentException($"Invalid key reference {how[0]}, expected inline|file");
                }

                if (how.Length < 2)
                {
                    throw new ArgumentException($"Failed to parse KEYTYPE=[inline|file]:DATA in {spec}");
                }

                options.Add(new($"verification-{engine.Name}-{(how[0] == "inline" ? "key" : "file")}", how[1]));
                engines.Add(engine.Name);
            }

            if (engines.Count > 0)
            {
                options.Add(new("sign-verify", string.Join(',', engines)));
            }

            // As ostree: --no-sign-verify turns off GPG verification too.
            if (pr.GetValue(noGpg) || pr.GetValue(noSignVerify))
            {
                options.Add(new("gpg-verify", "false"));
            }

            if (pr.GetValue(noSignVerify))
            {
                if (sv.Length > 0)
                {
                    throw new ArgumentException("Cannot specify both --sign-verify and --no-sign-verify");
                }

                options.Add(new("sign-verify", "false"));
            }

            if (pr.GetValue(contentUrl) is { } cu)
            {
                options.Add(new("contenturl", cu));
            }

            if (pr.GetValue(collectionId) is { } cid)
            {
                options.Add(new("collection-id", cid));
            }

            if (pr.GetValue(customBackend) is { } backend)
            {
                options.Add(new("custom-backend", backend));
            }

            if (pr.GetValue(ifNotExists) && pr.GetValue(force))
            {
                throw new ArgumentException("Can only specify one of --if-not-exists and --force");
            }

            repo.AddRemote(pr.GetValue(name)!, pr.GetValue(url), pr.GetValue(branches) ?? [], options, pr.GetValue(ifNotExists), replace: pr.GetValue(force));
            if (pr.GetValue(gpgImport) is { } keys)
            {
                ImportKeys(repo, pr.GetValue(name)!, [keys]);
            }

            return 0;
        });
        return cmd;
    }

    private static Command List()
    {
        var cmd = new Command("list", "List remote repository names");
        var urls = new Option<bool>("--show-urls", "-u") { Description = "Show remote URLs in list" };
        cmd.Options.Add(urls);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var names = repo.ListRemotes().Order(StringComparer.Ordinal).ToList();
            int width = names.Count == 0 ? 0 : names.Max(n => n.Length);
            foreach (var n in names)
            {
                Console.WriteLine(pr.GetValue(urls) ? $"{n.PadRight(width)}  {repo.GetRemote(n)!.Url}" : n);
            }

            return 0;
        });
        return cmd;
    }

    private static Command Delete()
    {
        var cmd = new Command("delete", "Delete a remote repository");
        var ifExists = new Option<bool>("--if-exists") { Description = "Do nothing if the provided remote does not exist" };
        var sysroot = SysrootOption();
        var name = new Argument<string>("NAME");
        cmd.Options.Add(ifExists);
        cmd.Options.Add(sysroot);
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            OpenRepoOrSysroot(pr, sysroot).DeleteRemote(pr.GetValue(name)!, pr.GetValue(ifExists));
            return 0;
        });
        return cmd;
    }

    private static Option<string?> SysrootOption() => new("--sysroot") { Description = "Use sysroot at PATH (overrides --repo)" };

    // As ostree's remote add and delete: --sysroot names a sysroot whose repository is a system repository (its
    // remotes may live in the deployment's etc/ostree/remotes.d); else --repo and its defaults.
    private static OstreeSharp.Repository.OstreeRepo OpenRepoOrSysroot(ParseResult pr, Option<string?> sysroot) =>
        pr.GetValue(sysroot) is { } path ? OstreeSharp.Repository.OstreeRepo.OpenForSysroot(path) : CliSupport.OpenRepo(pr);

    private static Command ShowUrl()
    {
        var cmd = new Command("show-url", "Show remote repository URL");
        var name = new Argument<string>("NAME");
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            Console.WriteLine(CliSupport.OpenRepo(pr).RequireRemote(pr.GetValue(name)!).RequireUrl());
            return 0;
        });
        return cmd;
    }
}
