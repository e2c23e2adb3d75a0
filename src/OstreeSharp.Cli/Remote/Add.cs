using System.CommandLine;
using OstreeSharp.Repository;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

internal static partial class RemoteCommand
{
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

            repo.AddRemote(pr.GetValue(name)!, pr.GetValue(url), pr.GetValue(branches) ?? [], options, pr.GetValue(force) ? RemoteExists.Replace : pr.GetValue(ifNotExists) ? RemoteExists.Keep : RemoteExists.Fail);
            if (pr.GetValue(gpgImport) is { } keys)
            {
                ImportKeys(repo, pr.GetValue(name)!, [keys]);
            }

            return 0;
        });
        return cmd;
    }
}
