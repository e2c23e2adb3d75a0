using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OstreeSharp.GVariant;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
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
}
