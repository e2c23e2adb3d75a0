using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Transfer;

namespace OstreeSharp.Cli;

internal static class RepoCommands
{
    public static Command Init()
    {
        var cmd = new Command("init", "Initialize a new empty repository");
        var mode = new Option<string>("--mode") { Description = "Initialize repository in given mode (bare, bare-user, bare-user-only, archive)", DefaultValueFactory = _ => "bare" };
        var cid = new Option<string?>("--collection-id") { Description = "Globally unique ID for this repository's collection of refs" };
        var extra = new Argument<string[]>("ARGS") { Arity = ArgumentArity.ZeroOrMore, Hidden = true };
        cmd.Options.Add(mode);
        cmd.Options.Add(cid);
        cmd.Arguments.Add(extra);
        CliSupport.SetRun(cmd, pr =>
        {
            // ostree's init ignores arguments (libostree's own tests pass one); say so rather than fail.
            if (pr.GetValue(extra) is { Length: > 0 } ignored)
            {
                Console.Error.WriteLine($"warning: init takes no arguments; ignoring {string.Join(' ', ignored)}");
            }

            var path = CliSupport.RepoPath(pr);
            OstreeRepo.Create(path, RepoModeNames.Parse(pr.GetValue(mode)!), pr.GetValue(cid));
            return 0;
        });
        return cmd;
    }

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
                    throw new OstreeException(OstreeErrorCode.InvalidData, $"selinux-policy: opendir({policyRoot}): No such file or directory");
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

    public static Command Log()
    {
        var cmd = new Command("log", "Show log starting at commit or ref");
        var raw = new Option<bool>("--raw") { Description = "Show raw variant data" };
        var json = new Option<bool>("--json") { Description = "Print the log as JSON" };
        var rev = new Argument<string>("REF");
        cmd.Options.Add(raw);
        cmd.Options.Add(json);
        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            Checksum? c = repo.Resolve(pr.GetValue(rev)!);
            repo.LoadCommit(c.Value);
            var entries = new List<LogEntryJson>();
            var sb = new StringBuilder();
            while (c is { } cc)
            {
                if (!repo.HasObject(cc, ObjectType.Commit))
                {
                    if (!pr.GetValue(json))
                    {
                        sb.Append("<< History beyond this commit not fetched >>\n");
                    }

                    break;
                }

                var commit = repo.LoadCommit(cc);
                if (pr.GetValue(json))
                {
                    entries.Add(ToJson(cc, commit));
                }
                else
                {
                    DumpCommit(sb, repo, cc, commit, pr.GetValue(raw));
                }

                c = commit.Parent;
            }

            Console.Out.Write(pr.GetValue(json) ? JsonSerializer.Serialize(entries, CliJsonContext.Default.ListLogEntryJson) + "\n" : sb.ToString());
            return 0;
        });
        return cmd;
    }

    private static LogEntryJson ToJson(Checksum id, Commit c) => new(
        id.ToHex(),
        c.Parent?.ToHex(),
        c.ContentChecksum.ToHex(),
        c.Time.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        c.Version,
        c.Subject,
        c.Body,
        c.Metadata.GetVarDictEntries().ToDictionary(kv => kv.Key, kv => kv.Value.Print(), StringComparer.Ordinal));

    internal static void DumpCommit(StringBuilder sb, OstreeRepo repo, Checksum id, Commit c, bool raw)
    {
        if (raw)
        {
            sb.Append("commit ").Append(id.ToHex()).Append('\n');
            sb.Append(GVariantValue.Parse(Commit.Type, repo.ReadMetadataBytes(ObjectType.Commit, id)).Byteswap().Print()).Append('\n');
            return;
        }

        sb.Append("commit ").Append(id.ToHex()).Append('\n');
        if (c.Parent is { } p)
        {
            sb.Append("Parent:  ").Append(p.ToHex()).Append('\n');
        }

        sb.Append("ContentChecksum:  ").Append(c.ContentChecksum.ToHex()).Append('\n');
        sb.Append("Date:  ").Append(CliSupport.FormatDate(c.Time)).Append('\n');
        if (c.Version is { } v)
        {
            sb.Append("Version: ").Append(v).Append('\n');
        }

        if (c.Subject.Length > 0)
        {
            sb.Append('\n');
            AppendIndented(sb, c.Subject);
        }
        else
        {
            sb.Append("(no subject)\n");
        }

        if (c.Body.Length > 0)
        {
            sb.Append('\n');
            AppendIndented(sb, c.Body);
        }

        sb.Append('\n');
    }

    private static void AppendIndented(StringBuilder sb, string text)
    {
        foreach (var line in text.Split('\n'))
        {
            sb.Append("    ").Append(line).Append('\n');
        }
    }

    public static Command Show()
    {
        var cmd = new Command("show", "Output a metadata object");
        var key = new Option<string?>("--print-metadata-key") { Description = "Print string value of metadata key" };
        var dkey = new Option<string?>("--print-detached-metadata-key") { Description = "Print string value of detached metadata key" };
        var listKeys = new Option<bool>("--list-metadata-keys") { Description = "List the available metadata keys" };
        var listDetached = new Option<bool>("--list-detached-metadata-keys") { Description = "List the available detached metadata keys" };
        var hex = new Option<bool>("--print-hex") { Description = "For byte array valued keys, output an unquoted hexadecimal string" };
        var related = new Option<bool>("--print-related") { Description = "Show the \"related\" commits" };
        var variantType = new Option<string?>("--print-variant-type") { Description = "Memory map OBJECT (in this case a filename) to the GVariant type string" };
        var sizes = new Option<bool>("--print-sizes") { Description = "Show the commit size metadata" };
        var raw = new Option<bool>("--raw") { Description = "Show raw variant data" };
        var noByteswap = new Option<bool>("--no-byteswap", "-B") { Description = "Do not automatically convert variant data from big endian" };
        var json = new Option<bool>("--json") { Description = "Print the commit as JSON" };
        var gpgHome = new Option<string?>("--gpg-homedir") { Description = "GPG Homedir to use when looking for keyrings" };
        var gpgRemote = new Option<string?>("--gpg-verify-remote") { Description = "Use remote's keyring to verify signatures" };
        var keyring = new Option<string[]>("--keyring") { Description = "Also check signatures with the keys in this keyring file" };
        var rev = new Argument<string>("OBJECT");
        foreach (var o in new Option[] { key, dkey, listKeys, listDetached, hex, related, variantType, sizes, raw, noByteswap, json, gpgHome, gpgRemote, keyring })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree: values are stored big-endian, so they are printed byteswapped unless -B.
            string Dump(GVariantValue v) => (pr.GetValue(noByteswap) ? v : v.Byteswap()).Print();
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(variantType) is { } typeText)
            {
                // OBJECT is then a file holding one serialized variant of that type (the repository is opened all the
                // same, as ostree does).
                var type = GVariantType.Parse(typeText);
                var file = pr.GetValue(rev)!;
                Console.WriteLine(GVariantValue.Parse(type, File.ReadAllBytes(file)).Byteswap().Print());
                return 0;
            }

            var text = pr.GetValue(rev)!;
            if (pr.GetValue(key) is not null || pr.GetValue(dkey) is not null || pr.GetValue(listKeys) || pr.GetValue(listDetached))
            {
                var id = repo.Resolve(text);
                bool detachedWanted = pr.GetValue(dkey) is not null || (pr.GetValue(key) is null && pr.GetValue(listDetached));
                var metadata = detachedWanted
                    ? repo.LoadDetachedMetadata(id) ?? throw new ObjectNotFoundException($"No detached metadata for commit {id}")
                    : repo.LoadCommit(id).Metadata;
                if ((pr.GetValue(key) ?? pr.GetValue(dkey)) is { } k)
                {
                    var v = metadata.Lookup(k) ?? throw new ObjectNotFoundException($"No such metadata key '{k}'");
                    Console.WriteLine(pr.GetValue(hex) && v.Type.Text == "ay" ? Convert.ToHexStringLower(v.GetBytes()) : Dump(v));
                }
                else
                {
                    foreach (var name in metadata.GetVarDictEntries().Select(e => e.Key).Order(StringComparer.Ordinal))
                    {
                        Console.WriteLine(name);
                    }
                }

                return 0;
            }

            if (pr.GetValue(related))
            {
                foreach (var (name, checksum) in repo.LoadCommit(repo.Resolve(text)).Related)
                {
                    Console.WriteLine($"{name} {checksum}");
                }

                return 0;
            }

            if (pr.GetValue(sizes))
            {
                var id = repo.Resolve(text);
                Commit commit;
                try
                {
                    commit = repo.LoadCommit(id);
                }
                catch (OstreeException e)
                {
                    throw new OstreeException(OstreeErrorCodes.Of(e, OstreeErrorCode.Failed), $"Failed to read commit: {e.Message}", e);
                }

                Console.Write(FormatCommitSizes(repo, commit));
                return 0;
            }

            if (pr.GetValue(json))
            {
                var id = repo.Resolve(text);
                Console.WriteLine(JsonSerializer.Serialize(new List<LogEntryJson> { ToJson(id, repo.LoadCommit(id)) }, CliJsonContext.Default.ListLogEntryJson));
                return 0;
            }

            // As ostree: a checksum names any object (commit, dirmeta, dirtree, then file); anything else is a ref.
            if (text.Length == 64 && text.All(char.IsAsciiHexDigitLower) && Checksum.Parse(text) is var named && !repo.HasObject(named, ObjectType.Commit))
            {
                foreach (var type in new[] { ObjectType.DirMeta, ObjectType.DirTree })
                {
                    if (repo.HasObject(named, type))
                    {
                        var variant = GVariantValue.Parse(type == ObjectType.DirMeta ? DirMeta.Type : DirTree.Type, repo.ReadMetadataBytes(type, named));
                        Console.WriteLine($"{type.ToName()} {text}");
                        if (pr.GetValue(noByteswap))
                        {
                            Console.WriteLine(variant.Print());
                        }
                        else if (pr.GetValue(raw))
                        {
                            Console.WriteLine(variant.Byteswap().Print());
                        }

                        return 0;
                    }
                }

                Console.Write(DescribeFileObject(repo.LoadContent(named)));
                return 0;
            }

            var cid = repo.Resolve(text);
            var c = repo.LoadCommit(cid);
            var sb = new StringBuilder();
            if (pr.GetValue(noByteswap))
            {
                sb.Append("commit ").Append(cid.ToHex()).Append('\n');
                sb.Append(GVariantValue.Parse(Commit.Type, repo.ReadMetadataBytes(ObjectType.Commit, cid)).Print()).Append('\n');
                var full = new StringBuilder();
                DumpCommit(full, repo, cid, c, raw: false);
                var dump = full.ToString();
                sb.Append(dump.AsSpan(dump.IndexOf('\n', StringComparison.Ordinal) + 1));
            }
            else
            {
                DumpCommit(sb, repo, cid, c, pr.GetValue(raw));
            }

            var detached = repo.LoadDetachedMetadata(cid);
            if (Signing.GpgCommitSigner.ReadSignatures(detached).Count > 0)
            {
                // As libostree: the remote's keys with --gpg-remote, else the global keyring folder.
                var keys = new Signing.GpgKeyring();
                if (pr.GetValue(gpgRemote) is { } remote)
                {
                    keys = Signing.VerificationPolicy.RemoteGpgKeys(repo, remote);
                }
                else
                {
                    keys.AddGlobalKeys();
                }

                if (pr.GetValue(gpgHome) is { } home)
                {
                    keys.AddHomeDir(home);
                }

                foreach (var path in pr.GetValue(keyring) ?? [])
                {
                    keys.AddPath(path);
                }

                var statuses = Signing.GpgCommitSigner.Check(repo.ReadMetadataBytes(ObjectType.Commit, cid), detached, keys);
                sb.Append(statuses.Count == 1 ? "Found 1 signature:\n" : $"Found {statuses.Count} signatures:\n");
                foreach (var st in statuses)
                {
                    sb.Append('\n').Append(st.Describe());
                }
            }

            Console.Out.Write(sb.ToString());
            return 0;
        });
        return cmd;
    }

    // ostree show --print-sizes: the commit's ostree.sizes totals, and what of them this repository lacks.
    private static string FormatCommitSizes(OstreeRepo repo, Commit commit)
    {
        var entries = commit.Metadata.Lookup("ostree.sizes") is { Type.Text: "aay" } sizes
            ? sizes.GetChildren()
            : throw new ObjectNotFoundException("No metadata key ostree.sizes in commit");
        long archived = 0, unpacked = 0, newArchived = 0, newUnpacked = 0;
        int objects = 0, newObjects = 0;
        foreach (var entry in entries)
        {
            var (checksum, type, a, u) = SizesIndex.ReadEntry(entry.GetBytes());
            archived += (long)a;
            unpacked += (long)u;
            objects++;
            if (!repo.HasObject(checksum, type))
            {
                newArchived += (long)a;
                newUnpacked += (long)u;
                newObjects++;
            }
        }

        static string F(long n) => SizeFormat.FormatAsGlibPrints(n);
        return $"Compressed size (needed/total): {F(newArchived)}/{F(archived)}\n"
            + $"Unpacked size (needed/total): {F(newUnpacked)}/{F(unpacked)}\n"
            + $"Number of objects (needed/total): {newObjects}/{objects}\n";
    }

    // ostree show of a content object's checksum.
    private static string DescribeFileObject(ContentObject obj)
    {
        var h = obj.Header;
        var sb = new StringBuilder();
        sb.Append("Object: ").Append(obj.Checksum.ToHex()).Append("\nType: file\nFile Type: ");
        if (h.IsSymlink)
        {
            sb.Append("symlink\nTarget: ").Append(h.SymlinkTarget).Append('\n');
        }
        else
        {
            sb.Append("regular\nSize: ").Append(obj.Size.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        sb.Append("Mode: 0").Append(Convert.ToString(h.Mode, 8).PadLeft(4, '0')).Append('\n');
        sb.Append("Uid: ").Append(h.Uid.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("Gid: ").Append(h.Gid.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("Extended Attributes: { ").Append(h.Xattrs.ToGVariant().Print()).Append(" }\n");
        return sb.ToString();
    }

    // A file of a commit by path, symlinks followed inside the commit as ostree's GFile reads them (at most 40, as
    // the kernel's ELOOP); refused in ostree's (GIO's) words.
    private static Stream OpenInCommit(OstreeRepo repo, OstreeSharp.Objects.Commit commit, string path)
    {
        var current = path;
        for (int hops = 0; ; hops++)
        {
            var entry = TreeLookup.Require(repo, commit, current);
            if (!entry.IsFile)
            {
                throw new OstreeException(OstreeErrorCode.IOFailed, $"Can't open directory {path}");
            }

            var obj = repo.LoadContent(entry.File);
            if (!obj.Header.IsSymlink)
            {
                return obj.OpenData();
            }

            if (hops == 40)
            {
                throw new OstreeException(OstreeErrorCode.IOFailed, $"Too many levels of symbolic links: {path}");
            }

            var target = obj.Header.SymlinkTarget;
            var parts = new List<string>();
            var joined = target.StartsWith('/') ? target : current[..(current.LastIndexOf('/') + 1)] + target;
            foreach (var part in joined.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == "..")
                {
                    if (parts.Count > 0)
                    {
                        parts.RemoveAt(parts.Count - 1);
                    }
                }
                else if (part != ".")
                {
                    parts.Add(part);
                }
            }

            current = "/" + string.Join('/', parts);
        }
    }

    public static Command Cat()
    {
        var cmd = new Command("cat", "Concatenate contents of files");
        var rev = new Argument<string>("COMMIT");
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        cmd.Arguments.Add(rev);
        cmd.Arguments.Add(paths);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var c = repo.LoadCommit(repo.Resolve(pr.GetValue(rev)!));
            using var stdout = Console.OpenStandardOutput();
            foreach (var p in pr.GetValue(paths)!)
            {
                using var s = OpenInCommit(repo, c, p);
                s.CopyTo(stdout);
            }

            return 0;
        });
        return cmd;
    }

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
                        throw new OstreeException(OstreeErrorCode.RefInvalid, $"Cannot create alias to non-existent ref: {pfx}");
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

    public static Command RevParse()
    {
        var cmd = new Command("rev-parse", "Output the target of a rev");
        var single = new Option<bool>("--single", "-S") { Description = "If the repository has exactly one commit, then print it; any other case will result in an error" };
        var rev = new Argument<string?>("REV") { Arity = ArgumentArity.ZeroOrOne };
        cmd.Options.Add(single);
        cmd.Arguments.Add(rev);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(single))
            {
                var commits = repo.EnumerateObjects().Where(o => o.Type == ObjectType.Commit).ToList();
                if (commits.Count != 1)
                {
                    throw new OstreeException(OstreeErrorCode.InvalidArgument, commits.Count == 0 ? "No commit objects found" : "Multiple commit objects found");
                }

                Console.WriteLine(commits[0].Checksum.ToHex());
                return 0;
            }

            Console.WriteLine(repo.Resolve(pr.GetValue(rev) ?? throw new ArgumentException("A REV argument is required")).ToHex());
            return 0;
        });
        return cmd;
    }

    public static Command Reset()
    {
        var cmd = new Command("reset", "Reset a REF to a previous COMMIT");
        var refArg = new Argument<string>("REF");
        var commitArg = new Argument<string>("COMMIT");
        cmd.Arguments.Add(refArg);
        cmd.Arguments.Add(commitArg);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree: REF must be an existing ref (any commit will do as the target, history or not).
            var repo = CliSupport.OpenRepo(pr);
            var r = pr.GetValue(refArg)!;
            if (!repo.ListRefs().ContainsKey(r))
            {
                throw new OstreeException(OstreeErrorCode.RefInvalid, $"Invalid ref '{r}'");
            }

            var target = repo.Resolve(pr.GetValue(commitArg)!);
            repo.SetRefImmediate(r, target);
            return 0;
        });
        return cmd;
    }

    public static Command ChecksumVerb()
    {
        var cmd = new Command("checksum", "Checksum a file or directory");
        var ignoreX = new Option<bool>("--ignore-xattrs") { Description = "Don't include xattrs in checksum" };
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        cmd.Options.Add(ignoreX);
        cmd.Arguments.Add(paths);
        CliSupport.SetRun(cmd, pr =>
        {
            var list = pr.GetValue(paths)!;
            foreach (var p in list)
            {
                var c = FileChecksum.Compute(p, pr.GetValue(ignoreX));
                Console.WriteLine(list.Length > 1 ? $"{c.ToHex()}  {p}" : c.ToHex());
            }

            return 0;
        });
        return cmd;
    }

    public static Command Config()
    {
        var cmd = new Command("config", "Change repo configuration settings");
        var get = new Command("get", "Print a configuration value");
        var set = new Command("set", "Set a configuration value");
        var unset = new Command("unset", "Remove a configuration value");
        var group = new Option<string?>("--group") { Description = "Group name for remote config", Recursive = true };
        cmd.Options.Add(group);
        var keyG = new Argument<string>("SECTION.KEY");
        var keyS = new Argument<string>("SECTION.KEY");
        var value = new Argument<string>("VALUE");
        var keyU = new Argument<string>("SECTION.KEY");
        get.Arguments.Add(keyG);
        set.Arguments.Add(keyS);
        set.Arguments.Add(value);
        unset.Arguments.Add(keyU);
        var extras = new List<Argument<string[]>>();
        foreach (var c in new[] { get, set, unset })
        {
            var extra = new Argument<string[]>("EXTRA") { Arity = ArgumentArity.ZeroOrMore, Hidden = true };
            c.Arguments.Add(extra);
            extras.Add(extra);
        }

        (string, string) Split(ParseResult pr, string key)
        {
            // ostree's words for a line with arguments left over, which scripts check.
            if (extras.Any(e => pr.GetResult(e) is not null && (pr.GetValue(e)?.Length ?? 0) > 0))
            {
                throw new ArgumentException("Too many arguments given");
            }

            if (pr.GetValue(group) is { } g)
            {
                return (g, key);
            }

            // As ostree does: the group is everything before the first dot (use --group for remotes).
            int dot = key.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0)
            {
                throw new ArgumentException($"Key '{key}' must be of the form SECTION.KEY");
            }

            return (key[..dot], key[(dot + 1)..]);
        }

        CliSupport.SetRun(get, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var (s, k) = Split(pr, pr.GetValue(keyG)!);
            Console.WriteLine(repo.Config.Get(s, k) ?? throw new OstreeException(OstreeErrorCode.InvalidArgument, $"Key file does not have key “{k}” in group “{s}”"));
            return 0;
        });
        CliSupport.SetRun(set, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var (s, k) = Split(pr, pr.GetValue(keyS)!);
            repo.Config.Set(s, k, pr.GetValue(value)!);
            repo.SaveConfig();
            return 0;
        });
        CliSupport.SetRun(unset, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var (s, k) = Split(pr, pr.GetValue(keyU)!);
            repo.Config.Remove(s, k);
            repo.SaveConfig();
            return 0;
        });
        cmd.Subcommands.Add(get);
        cmd.Subcommands.Add(set);
        cmd.Subcommands.Add(unset);
        return cmd;
    }

    public static Command Diff()
    {
        var cmd = new Command("diff", "Compare directory TARGETDIR against revision REV");
        var json = new Option<bool>("--json") { Description = "Print the changes as JSON" };
        var noXattrs = new Option<bool>("--no-xattrs") { Description = "Skip output of extended attributes" };
        var ownerUid = new Option<uint?>("--owner-uid") { Description = "Use file ownership user id for local files" };
        var ownerGid = new Option<uint?>("--owner-gid") { Description = "Use file ownership group id for local files" };
        cmd.Options.Add(noXattrs);
        cmd.Options.Add(ownerUid);
        cmd.Options.Add(ownerGid);
        var a = new Argument<string>("REV");
        var b = new Argument<string>("TARGET");
        cmd.Options.Add(json);
        cmd.Arguments.Add(a);
        cmd.Arguments.Add(b);
        CliSupport.SetRun(cmd, pr =>
        {
            // As ostree, an argument starting with / or ./ is a folder, anything else a revision.
            static bool IsPath(string arg) => arg.StartsWith('/') || arg.StartsWith("./", StringComparison.Ordinal);
            var source = pr.GetValue(a)!;
            var target = pr.GetValue(b)!;
            var owner = new DiffOwner(pr.GetValue(ownerUid), pr.GetValue(ownerGid));
            TreeDiffResult result;
            if (IsPath(source))
            {
                result = IsPath(target)
                    ? TreeDiff.Compare(source, target, pr.GetValue(noXattrs), owner)
                    : throw new ArgumentException($"Cannot compare folder {source} with revision {target}: give the revision first");
            }
            else
            {
                var repo = CliSupport.OpenRepo(pr);
                var ca = repo.LoadCommit(repo.Resolve(source));
                result = IsPath(target)
                    ? TreeDiff.Compare(repo, ca, target, pr.GetValue(noXattrs), owner)
                    : TreeDiff.Compare(repo, ca, repo.LoadCommit(repo.Resolve(target)));
            }

            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new DiffJson([.. result.Modified], [.. result.Removed], [.. result.Added]), CliJsonContext.Default.DiffJson));
                return 0;
            }

            var sb = new StringBuilder();
            foreach (var p in result.Modified)
            {
                sb.Append("M    ").Append(p).Append('\n');
            }

            foreach (var p in result.Removed)
            {
                sb.Append("D    ").Append(p).Append('\n');
            }

            foreach (var p in result.Added)
            {
                sb.Append("A    ").Append(p).Append('\n');
            }

            Console.Out.Write(sb.ToString());
            return 0;
        });
        return cmd;
    }

    public static Command FsckVerb()
    {
        var cmd = new Command("fsck", "Check the repository for consistency");
        var delete = new Option<bool>("--delete") { Description = "Remove corrupted objects" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only print error messages" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var all = new Option<bool>("--all", "-a") { Description = "Don't stop on the first error (every problem is always reported here)" };
        var addTombstones = new Option<bool>("--add-tombstones") { Description = "Add tombstones for missing commits" };
        var verifyBindings = new Option<bool>("--verify-bindings") { Description = "Verify ref bindings" };
        var verifyBackRefs = new Option<bool>("--verify-back-refs") { Description = "Verify back-references (implies --verify-bindings)" };
        cmd.Options.Add(addTombstones);
        cmd.Options.Add(verifyBindings);
        cmd.Options.Add(verifyBackRefs);
        cmd.Options.Add(delete);
        cmd.Options.Add(all);
        cmd.Options.Add(quiet);
        cmd.Options.Add(json);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            bool talk = !pr.GetValue(quiet) && !pr.GetValue(json);
            if (talk)
            {
                // ostree's phases, in its words (scripts grep them).
                Console.WriteLine("Validating refs...");
                Console.WriteLine("Validating refs in collections...");
                Console.WriteLine("Enumerating commits...");
            }

            if (pr.GetValue(verifyBindings) || pr.GetValue(verifyBackRefs))
            {
                Fsck.VerifyBindings(repo, pr.GetValue(verifyBackRefs));
            }

            var result = Fsck.Run(repo, pr.GetValue(delete), CliSupport.MakeProgress(pr, "fsck"), CliSupport.Stopping);
            var tombstoned = pr.GetValue(addTombstones) ? Fsck.AddTombstones(repo) : [];
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(
                    new FsckJson(result.Commits, result.Objects, result.Deleted, result.Problems.Select(p => new FsckProblemJson(p.Kind, p.Checksum.ToHex(), p.Type.ToName(), p.TreePath, p.Commit, p.Message)).ToList(), [.. result.RefProblems]),
                    CliJsonContext.Default.FsckJson));
            }
            else
            {
                // In libostree's words and streams: a corrupt object is an error line ("In commits C: ID.TYPE: ..."),
                // printed without the "error: " prefix under --delete and --all, as a missing object always is;
                // each commit that lost part of its tree is marked partial.
                bool plain = pr.GetValue(delete) || pr.GetValue(all);
                foreach (var p in result.Problems.Where(p => p.Kind != "Missing"))
                {
                    Console.Error.WriteLine((plain ? string.Empty : "error: ") + p);
                }

                foreach (var p in result.Problems.Where(p => p.Kind == "Missing"))
                {
                    Console.Error.WriteLine(p);
                }

                foreach (var c in result.MarkedPartial)
                {
                    Console.Error.WriteLine($"Marking commit as partial: {c}");
                }

                foreach (var p in result.RefProblems)
                {
                    Console.Error.WriteLine("error: " + p);
                }

                if (talk)
                {
                    Console.WriteLine($"Verifying content integrity of {result.Commits} commit objects...");
                    if (result.Deleted > 0)
                    {
                        Console.WriteLine($"Deleted {result.Deleted} corrupted objects");
                    }
                }

                // ostree prints these even with --quiet.
                foreach (var c in tombstoned)
                {
                    Console.WriteLine($"Adding tombstone for commit {c}");
                }

                if (talk && result.PartialCommits > 0 && !pr.GetValue(addTombstones))
                {
                    Console.WriteLine($"{result.PartialCommits} partial commits not verified");
                }
            }

            if (result.Problems.Count + result.RefProblems.Count > 0)
            {
                return pr.GetValue(json) ? CliErrors.Status(OstreeErrorCode.ObjectCorrupted) : CliErrors.Report(OstreeErrorCode.ObjectCorrupted, "Repository corruption encountered");
            }

            if (result.FsckPartialCommits > 0)
            {
                // libostree counts every partial commit here, not only those fsck marked.
                return pr.GetValue(json) ? CliErrors.Status(OstreeErrorCode.ObjectCorrupted)
                    : CliErrors.Report(OstreeErrorCode.ObjectCorrupted, $"{result.PartialCommits} partial commits from fsck-detected corruption");
            }

            if (talk)
            {
                Console.WriteLine($"object fsck of {result.Commits} commits completed successfully - no errors found.");
            }

            return 0;
        });
        return cmd;
    }

    public static Command PruneVerb()
    {
        var cmd = new Command("prune", "Search for unreachable objects");
        var noPrune = new Option<bool>("--no-prune") { Description = "Only display unreachable objects; don't delete" };
        var refsOnly = new Option<bool>("--refs-only") { Description = "Only compute reachability via refs" };
        var depth = new Option<int>("--depth") { Description = "Only traverse DEPTH parents for each commit (default: -1=infinite)", DefaultValueFactory = _ => -1 };
        var younger = new Option<string?>("--keep-younger-than") { Description = "Prune all commits older than the specified date" };
        var deleteCommit = new Option<string[]>("--delete-commit") { Description = "Specify a commit to delete" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var retain = new Option<string[]>("--retain-branch-depth") { Description = "Additionally retain BRANCH=DEPTH commits" };
        var onlyBranch = new Option<string[]>("--only-branch") { Description = "Only prune BRANCH (may be specified multiple times)" };
        var commitOnly = new Option<bool>("--commit-only") { Description = "Only traverse and delete commit objects." };
        var deltasOnly = new Option<bool>("--static-deltas-only") { Description = "Change the behavior of delete-commit and keep-younger-than to prune only static deltas" };
        foreach (var o in new Option[] { noPrune, refsOnly, depth, younger, deleteCommit, json, retain, onlyBranch, commitOnly, deltasOnly })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(deleteCommit) is { Length: > 0 } && pr.GetValue(noPrune))
            {
                throw new ArgumentException("Cannot specify both --delete-commit and --no-prune");
            }

            var keep = pr.GetValue(younger) is { } y ? CliSupport.ParseTimestamp(y) : (DateTimeOffset?)null;
            var retainDepths = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var bd in pr.GetValue(retain) ?? [])
            {
                // ostree's parsing and words.
                int eq = bd.IndexOf('=', StringComparison.Ordinal);
                if (eq < 0)
                {
                    throw new ArgumentException("Invalid value " + bd + ", must specify BRANCH=DEPTH");
                }

                retainDepths[bd[..eq]] = int.TryParse(bd[(eq + 1)..], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var d)
                    ? d : throw new ArgumentException($"Invalid depth {bd[(eq + 1)..]}");
            }

            foreach (var b in pr.GetValue(onlyBranch) ?? [])
            {
                repo.Resolve(b);
            }

            if (pr.GetValue(deltasOnly) && pr.GetValue(deleteCommit) is not { Length: > 0 })
            {
                throw new OstreeException(OstreeErrorCode.InvalidArgument, "--static-deltas-only requires --delete-commit; see https://github.com/ostreedev/ostree/issues/1479");
            }

            var result = Prune.Run(repo, new PruneOptions
            {
                DryRun = pr.GetValue(noPrune),
                RefsOnly = pr.GetValue(refsOnly) || keep is not null || retainDepths.Count > 0 || pr.GetValue(onlyBranch) is { Length: > 0 },
                Depth = pr.GetValue(depth),
                KeepYoungerThan = keep,
                RetainBranchDepth = retainDepths,
                OnlyBranches = pr.GetValue(onlyBranch) ?? [],
                CommitOnly = pr.GetValue(commitOnly),
                StaticDeltasOnly = pr.GetValue(deltasOnly),
                DeleteCommits = (pr.GetValue(deleteCommit) ?? []).Select(repo.Resolve).ToList(),
            });
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new PruneJson(result.TotalObjects, result.Deleted, result.BytesFreed), CliJsonContext.Default.PruneJson));
                return 0;
            }

            Console.WriteLine(pr.GetValue(commitOnly) ? $"Total (commit only) objects: {result.TotalObjects}" : $"Total objects: {result.TotalObjects}");
            Console.WriteLine(result.Deleted == 0
                ? "No unreachable objects"
                : pr.GetValue(noPrune) ? $"Would delete: {result.Deleted} objects, freeing {SizeFormat.Format(result.BytesFreed)}"
                : $"Deleted {result.Deleted} objects, {SizeFormat.Format(result.BytesFreed)} freed");
            return 0;
        });
        return cmd;
    }

    public static Command SummaryVerb()
    {
        var cmd = new Command("summary", "Manage summary metadata");
        var update = new Option<bool>("--update", "-u") { Description = "Update the summary" };
        var view = new Option<bool>("--view", "-v") { Description = "View the local summary file" };
        var meta = new Option<string[]>("--add-metadata", "-m") { Description = "Additional metadata field to add to the summary (KEY=VALUE in GVariant text)" };
        var sign = new Option<string[]>("--sign") { Description = "Sign the summary with this key (see --sign-type)" };
        var signType = new Option<string>("--sign-type") { Description = "Signature type to use (defaults to 'ed25519')", DefaultValueFactory = _ => "ed25519" };
        var gpgSign = new Option<string[]>("--gpg-sign") { Description = "GPG Key ID to sign the summary with (from --gpg-secret-key, else the GnuPG home folder)" };
        var raw = new Option<bool>("--raw") { Description = "Show raw variant data" };
        var gpgOptions = new CliSupport.GpgSigningOptions();
        gpgOptions.AddTo(cmd);
        foreach (var o in new Option[] { update, view, meta, sign, signType, gpgSign, raw })
        {
            cmd.Options.Add(o);
        }
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            if (pr.GetValue(update))
            {
                var extra = (pr.GetValue(meta) ?? []).Select(kv =>
                {
                    var (k, v) = CliSupport.SplitKeyValue(kv, "--add-metadata");
                    return new KeyValuePair<string, GVariantValue>(k, GVariantTextParser.Parse(v));
                });
                var signers = (pr.GetValue(sign) ?? []).Select(k =>
                {
                    var e = Signing.SignEngine.Create(pr.GetValue(signType)!);
                    e.SetSecretKey(k);
                    return e;
                }).ToList();
                var gpgSigners = (pr.GetValue(gpgSign) ?? []).Select(k =>
                {
                    var (key, pub) = gpgOptions.Load(pr, k);
                    return (Func<byte[], byte[]>)(data => Signing.GpgCommitSigner.SignBytes(key, pub, data));
                }).ToList();
                var extraList = extra.ToList();
                if (repo.CollectionId is not null)
                {
                    // As ostree: a collection repository gets a new ostree-metadata commit, signed as the summary is.
                    var metadataCommit = Summary.WriteMetadataCommit(repo, extraList, DateTimeOffset.UtcNow);
                    foreach (var k in pr.GetValue(gpgSign) ?? [])
                    {
                        var (key, pub) = gpgOptions.Load(pr, k);
                        Signing.GpgCommitSigner.Sign(repo, metadataCommit, key, pub);
                    }

                    foreach (var e in signers)
                    {
                        e.SignCommit(repo, metadataCommit);
                    }
                }

                var bytes = Summary.Update(repo, extraList);
                Summary.Sign(repo, bytes, signers, gpgSigners);
                return 0;
            }

            var path = Path.Combine(repo.Path, "summary");
            if (!File.Exists(path))
            {
                throw new ObjectNotFoundException($"No summary file in {repo.Path}");
            }

            var bytes2 = File.ReadAllBytes(path);
            Console.Write(pr.GetValue(raw) ? GVariant.GVariantValue.Parse(Summary.Type, bytes2).Byteswap().Print(true) + "\n" : SummaryDump.Format(bytes2));
            return 0;
        });
        return cmd;
    }

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
