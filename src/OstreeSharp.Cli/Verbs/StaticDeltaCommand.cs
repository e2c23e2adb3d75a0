using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OstreeSharp.Deltas;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.Signing;

namespace OstreeSharp.Cli;

/// <summary>`static-delta list|show|delete|generate|apply-offline`, as ostree's.</summary>
internal static class StaticDeltaCommand
{
    public static Command Create()
    {
        var cmd = new Command("static-delta", "Manage static delta files");
        cmd.Subcommands.Add(List());
        cmd.Subcommands.Add(Show());
        cmd.Subcommands.Add(Delete());
        cmd.Subcommands.Add(Generate());
        cmd.Subcommands.Add(ApplyOffline());
        cmd.Subcommands.Add(Verify());
        cmd.Subcommands.Add(Reindex());
        cmd.Subcommands.Add(Indexes());
        return cmd;
    }

    private static Command Reindex()
    {
        var cmd = new Command("reindex", "Regenerate static delta indexes");
        var to = new Option<string?>("--to") { Description = "Only update delta index to revision REV" };
        cmd.Options.Add(to);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            StaticDeltas.WriteIndexes(repo, StaticDeltas.Index(repo), pr.GetValue(to) is { } rev ? repo.Resolve(rev) : null);
            return 0;
        });
        return cmd;
    }

    private static Command Indexes()
    {
        var cmd = new Command("indexes", "List static delta indexes");
        CliSupport.SetRun(cmd, pr =>
        {
            var targets = StaticDeltas.ListIndexes(CliSupport.OpenRepo(pr));
            if (targets.Count == 0)
            {
                Console.WriteLine("(No static deltas indexes)"); // sic, ostree's words
            }

            foreach (var t in targets)
            {
                Console.WriteLine(t.ToHex());
            }

            return 0;
        });
        return cmd;
    }

    private static Command List()
    {
        var cmd = new Command("list", "List static delta files");
        var json = new Option<bool>("--json") { Description = "Print the deltas as a JSON array of names" };
        cmd.Options.Add(json);
        CliSupport.SetRun(cmd, pr =>
        {
            var names = StaticDeltas.List(CliSupport.OpenRepo(pr)).Select(n => n.ToString()).ToList();
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(names, CliJsonContext.Writer.ListString));
            }
            else if (names.Count == 0)
            {
                Console.WriteLine("(No static deltas)");
            }
            else
            {
                names.ForEach(Console.WriteLine);
            }

            return 0;
        });
        return cmd;
    }

    private static Command Show()
    {
        var cmd = new Command("show", "Dump information on a delta");
        var name = new Argument<string>("DELTA") { Description = "FROM-TO, or TO for a delta from nothing" };
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            Console.Write(StaticDeltas.Show(repo, StaticDeltas.Resolve(repo, pr.GetValue(name)!)));
            return 0;
        });
        return cmd;
    }

    private static Command Delete()
    {
        var cmd = new Command("delete", "Remove a delta");
        var name = new Argument<string>("DELTA") { Description = "FROM-TO, or TO for a delta from nothing" };
        cmd.Arguments.Add(name);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            StaticDeltas.Delete(repo, StaticDeltas.Resolve(repo, pr.GetValue(name)!));
            return 0;
        });
        return cmd;
    }

    private static Command Generate()
    {
        var cmd = new Command("generate", "Generate static delta files (from the parent of TO by default)");
        var toArg = new Argument<string?>("TO") { Arity = ArgumentArity.ZeroOrOne, Description = "Target revision (or use --to)" };
        var from = new Option<string?>("--from") { Description = "Create delta from revision REV" };
        var to = new Option<string?>("--to") { Description = "Create delta to revision REV" };
        var empty = new Option<bool>("--empty") { Description = "Create delta from scratch" };
        var ifNotExists = new Option<bool>("--if-not-exists", "-n") { Description = "Only generate if a delta does not already exist" };
        var disableBsdiff = new Option<bool>("--disable-bsdiff") { Description = "Disable use of bsdiff" };
        var noCompress = new Option<bool>("--no-compression") { Description = "Store parts without xz compression" };
        var minFallback = new Option<uint?>("--min-fallback-size") { Description = "Minimum uncompressed size in megabytes for individual HTTP request (default 4, 0 disables)" };
        var maxBsdiff = new Option<uint?>("--max-bsdiff-size") { Description = "Maximum size in megabytes to consider bsdiff compression for input files (default 128)" };
        var maxChunk = new Option<uint?>("--max-chunk-size") { Description = "Maximum size of delta chunks in megabytes (default 32)" };
        var json = new Option<bool>("--json") { Description = "Print what was generated as JSON" };
        var setEndianness = new Option<string?>("--set-endianness") { Description = "Choose metadata endianness ('l' or 'B')" };
        var swapEndianness = new Option<bool>("--swap-endianness") { Description = "Swap metadata endianness from host order" };
        var inline = new Option<bool>("--inline") { Description = "Inline delta parts into main delta" };
        var filename = new Option<string?>("--filename") { Description = "Write the superblock to PATH (its parts beside it) instead of into the repository" };
        var sign = new Option<string[]>("--sign") { Description = "Sign the delta with KEY_ID" };
        var signType = SignTypeOption();
        var keysFile = new Option<string?>("--keys-file") { Description = "Read key(s) from file" };
        cmd.Arguments.Add(toArg);
        foreach (var o in new Option[] { from, to, empty, ifNotExists, disableBsdiff, noCompress, minFallback, maxBsdiff, maxChunk, json, setEndianness, swapEndianness, inline, filename, sign, signType, keysFile })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var toRev = pr.GetValue(to) ?? pr.GetValue(toArg) ?? throw new ArgumentException("TO must be specified");
            var target = repo.Resolve(toRev);
            Checksum? source = null;
            if (pr.GetValue(from) is { } f)
            {
                if (pr.GetValue(empty))
                {
                    throw new ArgumentException("Cannot specify both --empty and --from=REV");
                }

                source = repo.Resolve(f);
            }
            else if (!pr.GetValue(empty))
            {
                source = repo.LoadCommit(target).Parent
                    ?? throw new ObjectNotFoundException($"Commit {target} has no parent; use --empty or --from=REV");
            }

            // One engine per secret key (--sign, then each line of --keys-file), all set before anything is written.
            var keyIds = (pr.GetValue(sign) ?? []).ToList();
            if (pr.GetValue(keysFile) is { } kf)
            {
                keyIds.AddRange(File.Exists(kf) ? File.ReadLines(kf) : throw new ArgumentException($"File object '{kf}' is not a regular file"));
            }

            var signers = keyIds.Select(k =>
            {
                var e = SignEngine.Create(pr.GetValue(signType)!);
                e.SetSecretKey(k);
                return e;
            }).ToList();

            var name = new DeltaName(source, target);
            if (pr.GetValue(ifNotExists) && StaticDeltas.List(repo).Contains(name))
            {
                Console.WriteLine($"Delta {name} already exists.");
                return 0;
            }

            if (!pr.GetValue(json))
            {
                Console.WriteLine("Generating static delta:");
                Console.WriteLine($"  From: {source?.ToHex() ?? "empty"}");
                Console.WriteLine($"  To:   {target.ToHex()}");
            }

            bool bigEndian = pr.GetValue(setEndianness) switch
            {
                null => !BitConverter.IsLittleEndian,
                "l" => false,
                "B" => true,
                var e => throw new ArgumentException($"Invalid endianness '{e}'"),
            };
            if (pr.GetValue(swapEndianness))
            {
                bigEndian = !bigEndian;
            }

            var defaults = new StaticDeltaOptions();
            var options = defaults with
            {
                BigEndian = bigEndian,
                Inline = pr.GetValue(inline),
                Filename = pr.GetValue(filename),
                Bsdiff = !pr.GetValue(disableBsdiff),
                Compress = !pr.GetValue(noCompress),
                MinFallbackSize = pr.GetValue(minFallback) is { } mf ? mf * 1_000_000L : defaults.MinFallbackSize,
                MaxBsdiffSize = pr.GetValue(maxBsdiff) is { } mb ? mb * 1_000_000L : defaults.MaxBsdiffSize,
                MaxChunkSize = pr.GetValue(maxChunk) is { } mc ? mc * 1_000_000L : defaults.MaxChunkSize,
                Signers = signers,
            };
            var stats = StaticDeltaGenerator.Generate(repo, source, target, options);
            if (pr.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(
                    new StaticDeltaJson(stats.Name.ToString(), source?.ToHex(), target.ToHex(), stats.Parts, stats.Objects, stats.Patched, stats.Fallbacks, stats.CompressedSize, stats.UncompressedSize, stats.FallbackSize),
                    CliJsonContext.Writer.StaticDeltaJson));
            }
            else
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{stats.Parts} parts, {stats.Objects} objects ({stats.Patched} bsdiff), {SizeFormat.Format(stats.CompressedSize)} compressed; {stats.Fallbacks} fallback objects ({SizeFormat.Format(stats.FallbackSize)})"));

                // ostree's diagnostics, on stderr, for scripts that read them (no rollsum matching is done here).
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"uncompressed={stats.UncompressedSize} compressed={stats.CompressedSize}"));
                Console.Error.WriteLine("rollsum=0 objects, 0 bytes");
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bsdiff={stats.Patched} objects"));
            }

            return 0;
        });
        return cmd;
    }

    private static Option<string> SignTypeOption() =>
        new("--sign-type") { Description = "Signature type to use (defaults to 'ed25519')", DefaultValueFactory = _ => "ed25519" };

    // The verification keys of apply-offline and verify, as ostree takes them: each KEY-ID, and (when there is none,
    // or with --keys-file) the keys of that file or of the well-known places (--keys-dir).
    private static void LoadVerificationKeys(SignEngine engine, string[] keyIds, string? keysFile, string? keysDir)
    {
        foreach (var k in keyIds)
        {
            engine.AddPublicKey(k);
        }

        if (keyIds.Length == 0 || keysFile is not null)
        {
            engine.LoadPublicKeys(keysFile, keysDir);
        }
    }

    private static Command ApplyOffline()
    {
        var cmd = new Command("apply-offline", "Apply static delta file");
        var path = new Argument<string>("PATH") { Description = "The delta's folder or its superblock" };
        var keys = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.ZeroOrMore, Description = "Keys that verify a signed delta" };
        var signType = SignTypeOption();
        var keysFile = new Option<string?>("--keys-file") { Description = "Read key(s) from file" };
        var keysDir = new Option<string?>("--keys-dir") { Description = "Redefine system-wide directories with public and revoked keys for verification" };
        cmd.Arguments.Add(path);
        cmd.Arguments.Add(keys);
        foreach (var o in new Option[] { signType, keysFile, keysDir })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            SignEngine? verifier = SignEngine.Create(pr.GetValue(signType)!);
            try
            {
                LoadVerificationKeys(verifier, pr.GetValue(keys) ?? [], pr.GetValue(keysFile), pr.GetValue(keysDir));
            }
            catch (SignatureException) when ((pr.GetValue(keys) ?? []).Length == 0 && pr.GetValue(keysFile) is null && pr.GetValue(keysDir) is null)
            {
                verifier = null; // as ostree: no system-wide keys means no verification engine
            }

            var to = StaticDeltas.ApplyOffline(repo, pr.GetValue(path)!, new DeltaApplyOptions { Verifier = verifier, EnforceSignatures = true });
            Console.WriteLine(to.ToHex());
            return 0;
        });
        return cmd;
    }

    private static Command Verify()
    {
        var cmd = new Command("verify", "Verify static delta signatures");
        var delta = new Argument<string>("STATIC-DELTA") { Description = "FROM-TO, TO, or the path of a superblock file" };
        var keys = new Argument<string[]>("KEY-ID") { Arity = ArgumentArity.ZeroOrMore };
        var signType = SignTypeOption();
        var keysFile = new Option<string?>("--keys-file") { Description = "Read key(s) from file" };
        var keysDir = new Option<string?>("--keys-dir") { Description = "Redefine system-wide directories with public and revoked keys for verification" };
        cmd.Arguments.Add(delta);
        cmd.Arguments.Add(keys);
        foreach (var o in new Option[] { signType, keysFile, keysDir })
        {
            cmd.Options.Add(o);
        }

        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var engine = SignEngine.Create(pr.GetValue(signType)!);
            LoadVerificationKeys(engine, pr.GetValue(keys) ?? [], pr.GetValue(keysFile), pr.GetValue(keysDir));
            try
            {
                SignedSuperblock.Verify(StaticDeltas.ReadSuperblockFile(repo, pr.GetValue(delta)!), engine, pr.GetValue(delta)!);
            }
            catch (OstreeException)
            {
                // ostree prints the verdict on stdout, then the reason as its error.
                Console.WriteLine("Verification fails");
                throw;
            }

            Console.WriteLine("Verification OK");
            return 0;
        });
        return cmd;
    }
}
