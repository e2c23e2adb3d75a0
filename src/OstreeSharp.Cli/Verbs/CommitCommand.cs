using System.CommandLine;
using System.Text;
using System.Text.Json;
using OstreeSharp.Containers.Store;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.Tar;

namespace OstreeSharp.Cli;

internal static class CommitCommand
{
    /// <summary><c>-P</c>: the policy of the first tree, a folder or a commit.</summary>
    private static SELinux.SePolicy PolicyFromFirstTree(OstreeRepo repo, IReadOnlyList<string> trees)
    {
        var first = trees.FirstOrDefault() ?? throw new ArgumentException("--selinux-policy-from-base needs a --tree");
        int eq = first.IndexOf('=', StringComparison.Ordinal);
        var (kind, arg) = eq < 0 ? ("dir", first) : (first[..eq], first[(eq + 1)..]);
        return kind switch
        {
            "dir" => SELinux.SePolicy.Load(arg),
            "ref" => SELinux.SePolicy.LoadFromCommit(repo, repo.Resolve(arg)),
            _ => throw new ArgumentException($"--selinux-policy-from-base: cannot read a policy from {first}"),
        };
    }

    // --tar-pathname-filter REGEX,REPLACEMENT: GLib's regular expression replacement (\N and \g<N> name groups).
    private static Func<string, string> TarPathnameFilter(string text)
    {
        int comma = text.IndexOf(',', StringComparison.Ordinal);
        if (comma < 0)
        {
            throw new ArgumentException("Missing ',' in --tar-pathname-filter");
        }

        System.Text.RegularExpressions.Regex regex;
        try
        {
            regex = new System.Text.RegularExpressions.Regex(text[..comma], System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--tar-pathname-filter: {e.Message}", e);
        }

        var replacement = new StringBuilder();
        var glib = text[(comma + 1)..];
        for (int i = 0; i < glib.Length; i++)
        {
            char ch = glib[i];
            if (ch == '$')
            {
                replacement.Append("$$");
            }
            else if (ch == '\\' && i + 1 < glib.Length && char.IsAsciiDigit(glib[i + 1]))
            {
                replacement.Append("${").Append(glib[i + 1]).Append('}');
                i++;
            }
            else if (ch == '\\' && i + 1 < glib.Length && glib[i + 1] == 'g' && glib.IndexOf('>', i) is var close and > 0 && i + 2 < glib.Length && glib[i + 2] == '<')
            {
                replacement.Append("${").Append(glib, i + 3, close - i - 3).Append('}');
                i = close;
            }
            else if (ch == '\\' && i + 1 < glib.Length)
            {
                replacement.Append(glib[i + 1] switch { 'n' => '\n', 't' => '\t', var other => other });
                i++;
            }
            else
            {
                replacement.Append(ch);
            }
        }

        var r = replacement.ToString();
        return path => regex.Replace(path, r);
    }

    public static Command Create()
    {
        var cmd = new Command("commit", "Commit a new revision");
        var branch = new Option<string?>("--branch", "-b") { Description = "Branch" };
        var subject = new Option<string?>("--subject", "-s") { Description = "One line subject" };
        var body = new Option<string?>("--body", "-m") { Description = "Full description" };
        var bodyFile = new Option<string?>("--body-file", "-F") { Description = "Commit message from FILE path" };
        var trees = new Option<string[]>("--tree") { Description = "Overlay the given argument as a tree: dir=PATH, tar=TARFILE or ref=COMMIT", AllowMultipleArgumentsPerToken = false };
        var timestamp = new Option<string?>("--timestamp") { Description = "Override the timestamp of the commit" };
        var ownerUid = new Option<uint?>("--owner-uid") { Description = "Set file ownership user id" };
        var ownerGid = new Option<uint?>("--owner-gid") { Description = "Set file ownership group id" };
        var canonical = new Option<bool>("--canonical-permissions") { Description = "Canonicalize permissions in the same way bare-user does for hardlinked files" };
        var noXattrs = new Option<bool>("--no-xattrs") { Description = "Do not import extended attributes" };
        var roExec = new Option<bool>("--mode-ro-executables") { Description = "Ensure executable files are not writable" };
        var metaString = new Option<string[]>("--add-metadata-string") { Description = "Add a key/value pair to metadata (KEY=VALUE)" };
        var meta = new Option<string[]>("--add-metadata") { Description = "Add a key/value pair to metadata, where the VALUE is in GVariant text format" };
        var detachedString = new Option<string[]>("--add-detached-metadata-string") { Description = "Add a key/value pair to detached metadata" };
        var parent = new Option<string?>("--parent") { Description = "Parent commit checksum, or \"none\"" };
        var orphan = new Option<bool>("--orphan") { Description = "Create a commit without writing a ref" };
        var bindRef = new Option<string[]>("--bind-ref") { Description = "Add a ref to ref binding commit metadata" };
        var noBindings = new Option<bool>("--no-bindings") { Description = "Do not write any ref bindings" };
        var bootable = new Option<bool>("--bootable") { Description = "Flag this commit as a bootable OSTree (e.g. contains a Linux kernel)" };
        var skipList = new Option<string?>("--skip-list") { Description = "File containing list of files to skip" };
        var statOverride = new Option<string?>("--statoverride") { Description = "File containing list of modifications to make to permissions" };
        var tarParents = new Option<bool>("--tar-autocreate-parents") { Description = "When loading tar archives, automatically create parent directories as needed" };
        var filterLayer = new Option<bool>("--filter-container-layer") { Description = "Treat tar trees as container layers: etc -> usr/etc, drop /run /tmp /proc /sys /dev contents and other top-level folders, and report what was dropped" };
        var skipUnchanged = new Option<bool>("--skip-if-unchanged") { Description = "If the contents are unchanged from previous commit, do nothing" };
        var consume = new Option<bool>("--consume") { Description = "Consume (delete) content after commit (for local directories)" };
        var linkSpeedup = new Option<bool>("--link-checkout-speedup") { Description = "Optimize for commits of trees composed of hardlinks into the repository" };
        var sizes = new Option<bool>("--generate-sizes") { Description = "Generate size information along with commit metadata" };
        var composefsMeta = new Option<bool>("--generate-composefs-metadata") { Description = "Generate composefs commit metadata" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var sign = new Option<string[]>("--sign") { Description = "Sign the commit with this key (see --sign-type)" };
        var signFromFile = new Option<string?>("--sign-from-file") { Description = "Sign the commit with the ed25519 secret keys in FILE" };
        var gpgSign = new Option<string[]>("--gpg-sign") { Description = "GPG Key ID to sign the commit with (the key is read from --gpg-secret-key)" };
        var gpgOptions = new CliSupport.GpgSigningOptions();
        gpgOptions.AddTo(cmd);
        var signType = new Option<string>("--sign-type") { Description = "Signature type to use (defaults to 'ed25519')", DefaultValueFactory = _ => "ed25519" };
        var selinuxPolicy = new Option<string?>("--selinux-policy") { Description = "Set SELinux labels based on policy in root filesystem PATH (may be /)" };
        var selinuxFromBase = new Option<bool>("--selinux-policy-from-base", "-P") { Description = "Set SELinux labels based on first --tree argument" };
        var labelingEpoch = new Option<int>("--selinux-labeling-epoch") { Description = "0 (default, as libostree 2022.7): label /usr/etc paths as themselves; 1: label them as the /etc paths they become" };
        var baseRev = new Option<string?>("--base") { Description = "Start from the given commit as a base (no modifiers apply)" };
        var keepMeta = new Option<string[]>("--keep-metadata") { Description = "Keep metadata KEY and its associated VALUE from parent" };
        var devinoCanonical = new Option<bool>("--devino-canonical", "-I") { Description = "Assume hardlinked objects are unmodified.  Implies --link-checkout-speedup" };
        var tarFilter = new Option<string?>("--tar-pathname-filter") { Description = "When loading tar archives, use REGEX,REPLACEMENT against path names" };
        var tableOutput = new Option<bool>("--table-output") { Description = "Output more information in a KEY: VALUE format" };
        var fsync = new Option<string?>("--fsync") { Description = "Specify how to invoke fsync()" };
        var path = new Argument<string?>("PATH") { Arity = ArgumentArity.ZeroOrOne, Description = "Directory to commit" };
        foreach (var o in new Option[] { branch, subject, body, bodyFile, trees, timestamp, ownerUid, ownerGid, canonical, noXattrs, roExec, metaString, meta, detachedString, parent, orphan, bindRef, noBindings, bootable, skipList, statOverride, tarParents, filterLayer, skipUnchanged, consume, linkSpeedup, sizes, composefsMeta, json, sign, signFromFile, signType, gpgSign, selinuxPolicy, selinuxFromBase, labelingEpoch,
            baseRev, keepMeta, devinoCanonical, tarFilter, tableOutput, fsync })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(path);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var b = pr.GetValue(branch);
            if (b is null && !pr.GetValue(orphan))
            {
                throw new ArgumentException("A branch must be specified with --branch, or use --orphan");
            }

            bool isBuo = repo.Mode == RepoMode.BareUserOnly;
            if (pr.GetValue(canonical) && ((pr.GetValue(ownerUid) ?? 0) != 0 || (pr.GetValue(ownerGid) ?? 0) != 0))
            {
                throw new ArgumentException("--canonical-permissions cannot be combined with a non-zero --owner-uid/--owner-gid");
            }

            if (pr.GetValue(selinuxPolicy) is not null && pr.GetValue(selinuxFromBase))
            {
                throw new ArgumentException("Cannot specify both --selinux-policy and --selinux-policy-from-base");
            }

            if (pr.GetValue(fsync) is { } fsyncPolicy && !CliSupport.ParseOstreeBoolean(fsyncPolicy))
            {
                repo.Fsync = false;
            }

            Checksum? baseCommit = pr.GetValue(baseRev) is { } baseText ? repo.Resolve(baseText) : null;
            Func<string, string>? translate = pr.GetValue(tarFilter) is { } filterText ? TarPathnameFilter(filterText) : null;
            var modifier = new CommitModifier
            {
                SePolicy = (pr.GetValue(selinuxPolicy) is { } policyRoot ? SELinux.SePolicy.Load(policyRoot)
                    : pr.GetValue(selinuxFromBase) && baseCommit is { } bc ? SELinux.SePolicy.LoadFromCommit(repo, bc)
                    : pr.GetValue(selinuxFromBase) ? PolicyFromFirstTree(repo, [.. pr.GetValue(trees) ?? [], .. pr.GetValue(path) is { } pth ? new[] { "dir=" + pth } : []]) : null)?.WithEpoch(pr.GetValue(labelingEpoch)),
                OwnerUid = pr.GetValue(ownerUid),
                OwnerGid = pr.GetValue(ownerGid),
                CanonicalPermissions = pr.GetValue(canonical) || isBuo,
                NoXattrs = pr.GetValue(noXattrs) || isBuo,
                ModeRoExecutables = pr.GetValue(roExec),
                SkipList = pr.GetValue(skipList) is { } sl ? CommitModifier.ReadSkipList(sl) : new HashSet<string>(),
                StatOverrides = pr.GetValue(statOverride) is { } so ? CommitModifier.ReadStatOverrides(so) : new Dictionary<string, (uint, uint?)>(),
            };
            var sources = new List<string>(pr.GetValue(trees) ?? []);
            if (pr.GetValue(path) is { } p)
            {
                sources.Add("dir=" + p);
            }

            if (sources.Count == 0)
            {
                sources.Add("dir=.");
            }

            var metadata = new List<KeyValuePair<string, GVariantValue>>();
            // ostree's parsing and words: KEY may be empty here (the commit then refuses it).
            static (string Key, string Value) SplitMetadata(string kv)
            {
                int eq = kv.IndexOf('=', StringComparison.Ordinal);
                return eq < 0 ? throw new ArgumentException($"Missing '=' in KEY=VALUE metadata '{kv}'") : (kv[..eq], kv[(eq + 1)..]);
            }

            foreach (var kv in pr.GetValue(metaString) ?? [])
            {
                var (k, v) = SplitMetadata(kv);
                metadata.Add(new(k, GVariantValue.FromString(v)));
            }

            foreach (var kv in pr.GetValue(meta) ?? [])
            {
                var (k, v) = SplitMetadata(kv);
                try
                {
                    metadata.Add(new(k, GVariantTextParser.Parse(v)));
                }
                catch (OstreeFormatException e)
                {
                    throw new OstreeFormatException($"Parsing {kv}: {e.Message}");
                }
            }

            if (pr.GetValue(keepMeta) is { Length: > 0 } keys)
            {
                // As ostree: from the parent the commit will have (--parent, else the branch's commit).
                var parentForKeep = pr.GetValue(parent) is { } pt ? (pt == "none" ? null : repo.Resolve(pt))
                    : !pr.GetValue(orphan) && b is not null ? repo.ResolveRev(b, allowMissing: true) : null;
                if (parentForKeep is not { } keepFrom)
                {
                    throw new ArgumentException("Either --branch or --parent must be specified when using --keep-metadata");
                }

                var parentMeta = repo.LoadCommit(keepFrom).Metadata;
                foreach (var key in keys)
                {
                    var value = parentMeta.Lookup(key)
                        ?? throw new OstreeException(OstreeErrorCode.ObjectNotFound, $"Missing metadata key '{key}' from commit '{keepFrom}'");
                    metadata.Add(new(key, value));
                }
            }

            var detached = (pr.GetValue(detachedString) ?? []).Select(kv =>
            {
                var (k, v) = SplitMetadata(kv);
                return new KeyValuePair<string, GVariantValue>(k, GVariantValue.FromString(v));
            }).ToList();

            // One engine per key, each with its secret key set before anything is written.
            var signers = new List<Signing.SignEngine>();
            foreach (var k in pr.GetValue(sign) ?? [])
            {
                var e = Signing.SignEngine.Create(pr.GetValue(signType)!);
                e.SetSecretKey(k);
                signers.Add(e);
            }

            if (pr.GetValue(signFromFile) is { } skf)
            {
                if (Signing.SignEngine.Create(pr.GetValue(signType)!) is not Signing.Ed25519SignEngine)
                {
                    throw new ArgumentException("--sign-from-file reads ed25519 keys: use --sign-type=ed25519");
                }

                foreach (var key in Signing.Ed25519Keys.ReadKeyFile(skf, Signing.Ed25519SecretKey.Parse))
                {
                    var e = new Signing.Ed25519SignEngine();
                    e.SetSecretKey(key);
                    signers.Add(e);
                }
            }

            var gpgKeys = (pr.GetValue(gpgSign) ?? []).Select(k => gpgOptions.Load(pr, k)).ToList();

            var bodyText = pr.GetValue(body) ?? (pr.GetValue(bodyFile) is { } bf ? File.ReadAllText(bf) : string.Empty);
            var parentText = pr.GetValue(parent);
            var request = new CommitRequest
            {
                Branch = b,
                Subject = pr.GetValue(subject) ?? string.Empty,
                Body = bodyText,
                Timestamp = pr.GetValue(timestamp) is { } ts ? CliSupport.ParseTimestamp(ts) : null,
                NoParent = parentText == "none",
                Parent = parentText is null or "none" ? null : repo.Resolve(parentText),
                Orphan = pr.GetValue(orphan),
                Metadata = metadata,
                DetachedMetadata = detached,
                BindRefs = pr.GetValue(bindRef) ?? [],
                NoBindings = pr.GetValue(noBindings),
                Bootable = pr.GetValue(bootable),
                GenerateSizes = pr.GetValue(sizes),
                GenerateComposefsMetadata = pr.GetValue(composefsMeta),
                SkipIfUnchanged = pr.GetValue(skipUnchanged),
                Signers = [.. gpgKeys.Select(g => new CommitSigner(Signing.GpgCommitSigner.MetadataKey, data => Signing.GpgCommitSigner.SignBytes(g.Key, g.Public, data))),
                           .. signers.Select(e => new CommitSigner(e.MetadataKey, data => e.Sign(data)))],
            };

            var progress = CliSupport.MakeProgress(pr, "commit");
            CommitResult result;
            TransactionStats stats;
            using (var tx = repo.BeginTransaction())
            {
                if (pr.GetValue(sizes))
                {
                    tx.TrackObjectSizes();
                }

                // As ostree: --base starts from a commit's tree as it is; the modifiers apply to the trees laid over it.
                var root = baseCommit is { } bse && repo.LoadCommit(bse) is var based ? MutableTree.FromRepo(repo, based.RootTree, based.RootMeta) : new MutableTree();
                foreach (var src in sources)
                {
                    int eq = src.IndexOf('=', StringComparison.Ordinal);
                    var kind = eq < 0 ? string.Empty : src[..eq];
                    var arg = eq < 0 ? src : src[(eq + 1)..];
                    switch (kind)
                    {
                        case "dir":
                            new DirectoryImporter(tx, modifier)
                            {
                                Progress = progress,
                                RepoInodes = pr.GetValue(linkSpeedup) || pr.GetValue(devinoCanonical) ? repo.ScanHardlinks() : null,
                                DevinoCanonical = pr.GetValue(devinoCanonical),
                                Adopt = pr.GetValue(consume),
                            }.Import(arg, root, CliSupport.Stopping);
                            break;
                        case "ref":
                            {
                                var c = repo.LoadCommit(repo.Resolve(arg));
                                TreeOverlay.OverlayCommit(repo, tx, root, c, modifier);
                                break;
                            }

                        case "tar":
                            {
                                using var file = arg == "-" ? Console.OpenStandardInput() : new FileStream(arg, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                                using var stream = OstreeSharp.Containers.Store.Tarballs.OpenDecompressed(file, arg);
                                var dropped = TarTreeImporter.Import(tx, modifier, stream, arg, root, new TarTreeOptions
                                {
                                    AutocreateParents = pr.GetValue(tarParents),
                                    FilterContainerLayer = pr.GetValue(filterLayer),
                                    TranslatePathname = translate,
                                });
                                if (dropped.Count > 0)
                                {
                                    Console.Error.WriteLine("Image contains non-ostree compatible file paths: " + string.Join(' ', dropped.Select(kv => $"{kv.Key}: {kv.Value}")));
                                }

                                break;
                            }
                        default:
                            throw new ArgumentException($"Invalid --tree argument '{src}': expected dir=PATH, tar=TARFILE or ref=COMMIT");
                    }
                }

                result = CommitWriter.Write(tx, root, request);
                stats = tx.Commit();
            }

            if (pr.GetValue(consume) && !result.Skipped)
            {
                // As ostree, the folder goes with its contents (the current folder is only emptied).
                foreach (var src in sources.Where(s => s.StartsWith("dir=", StringComparison.Ordinal)))
                {
                    var dir = Path.GetFullPath(src[4..]);
                    if (dir.TrimEnd('/') == Path.GetFullPath(".").TrimEnd('/'))
                    {
                        foreach (var e in Directory.EnumerateFileSystemEntries(dir))
                        {
                            FileUtil.DeleteAny(e);
                        }
                    }
                    else
                    {
                        FileUtil.DeleteAny(dir);
                    }
                }
            }

            if (pr.GetValue(tableOutput))
            {
                // ostree's --table-output lines.
                Console.WriteLine($"Commit: {result.Commit.ToHex()}");
                Console.WriteLine($"Metadata Total: {stats.MetadataTotal}");
                Console.WriteLine($"Metadata Written: {stats.MetadataWritten}");
                Console.WriteLine($"Content Total: {stats.ContentTotal}");
                Console.WriteLine($"Content Written: {stats.ContentWritten}");
                Console.WriteLine($"Content Cache Hits: {stats.DevinoCacheHits}");
                Console.WriteLine($"Content Bytes Written: {stats.ContentBytesWritten}");
            }
            else if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new CommitJson(result.Commit.ToHex(), result.Skipped, stats.ContentWritten, stats.ContentBytesWritten, stats.MetadataWritten), CliJsonContext.Default.CommitJson));
            }
            else
            {
                Console.WriteLine(result.Commit.ToHex());
            }

            return 0;
        });
        return cmd;
    }
}
