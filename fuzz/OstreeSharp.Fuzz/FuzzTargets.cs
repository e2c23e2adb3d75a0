// The fuzz targets: one per parser of bytes that come from elsewhere (servers, registries, images, files users are
// handed). Each takes the raw input and drives the parser the way the product does. A target may end with an
// OstreeException (the typed error every bad input must get); any other exception, a crash or a hang is a finding.
// Shared by the AFL++ harness (Program.cs) and the corpus replay test of the unit test suite.
using System.Text;
using OstreeSharp.Composefs;
using OstreeSharp.Containers;
using OstreeSharp.Containers.Deltas;
using OstreeSharp.Containers.Oci;
using OstreeSharp.Containers.Rechunk;
using OstreeSharp.Containers.References;
using OstreeSharp.Containers.Registry;
using OstreeSharp.Containers.Signatures;
using OstreeSharp.Containers.Store;
using OstreeSharp.Deltas;
using OstreeSharp.GVariant;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;
using OstreeSharp.SELinux;
using OstreeSharp.Signing;
using OstreeSharp.Sysroot;
using OstreeSharp.Tar;

namespace OstreeSharp.Fuzz;

/// <summary>The fuzz targets by name.</summary>
public static class FuzzTargets
{
    // Inputs a target reads as text are decoded leniently, as the product reads files (invalid UTF-8 becomes U+FFFD).
    private static string Text(ReadOnlySpan<byte> data) => Encoding.UTF8.GetString(data);

    // Types the GVariant target parses: the first input byte picks one. Lazy, as everything here that runs library
    // code: under AFL, instrumented code must not run before SharpFuzz has set up the coverage map.
    private static readonly Lazy<GVariantType[]> GVariantTypes = new(() =>
    [
        GVariantType.Parse("v"), GVariantType.VarDict, GVariantType.StringArray, GVariantType.ByteArrayArray,
        Commit.Type, DirTree.Type, DirMeta.Type, Summary.Type, DeltaSuperblock.Type, DeltaSuperblock.PartPayloadType,
        GVariantType.Parse("(tuuuusa(ayay))"), GVariantType.Parse("a{sa{sv}}"), GVariantType.Parse("mv"),
        GVariantType.Parse("(bynqiuxtdsogh)"), GVariantType.Parse("a(sayay)"), GVariantType.Parse("maay"),
    ]);

    private static readonly Lazy<OstreeRepo> Scratch = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ostree-sharp-fuzz-{Environment.ProcessId}");
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        return OstreeRepo.Create(dir, RepoMode.Archive);
    });

    /// <summary>Every target, by the name <c>fuzz/run.sh</c> and the corpus folders use.</summary>
    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new SortedDictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["gvariant"] = data =>
        {
            if (data.Length == 0)
            {
                return;
            }

            var v = GVariantValue.Parse(GVariantTypes.Value[data[0] % GVariantTypes.Value.Length], data.AsSpan(1));
            // What `show` and `log` do with metadata: print it, and the printed text parses back to the same value.
            var text = v.Print();
            var again = GVariantTextParser.Parse(text, v.Type);
            if (!again.ToBytes().AsSpan().SequenceEqual(v.ToBytes()))
            {
                var back = again.Print();
                int at = 0;
                while (at < Math.Min(text.Length, back.Length) && text[at] == back[at])
                {
                    at++;
                }

                throw new InvalidOperationException($"printed value does not parse back: at {at}: '{text[Math.Max(0, at - 40)..Math.Min(text.Length, at + 40)]}' became '{back[Math.Max(0, at - 40)..Math.Min(back.Length, at + 40)]}'");
            }
        },
        ["gvariant-text"] = data =>
        {
            // `commit --add-metadata KEY=VALUE` and `config set`: GVariant text from the command line or a script.
            var v = GVariantTextParser.Parse(Text(data));
            _ = GVariantValue.Parse(v.Type, v.ToBytes());
        },
        ["objects"] = data =>
        {
            if (data.Length == 0)
            {
                return;
            }

            var body = data.AsSpan(1);
            switch (data[0] % 5)
            {
                case 0:
                    var c = Commit.Parse(body);
                    _ = c.ToBytes();
                    break;
                case 1:
                    _ = DirTree.Parse(body).ToBytes();
                    break;
                case 2:
                    _ = DirMeta.Parse(body).ToBytes();
                    break;
                case 3:
                    _ = FileHeader.ParseFileHeader(body);
                    break;
                default:
                    _ = FileHeader.ParseArchiveHeader(body);
                    break;
            }
        },
        ["summary"] = data =>
        {
            foreach (var (name, commit, size, meta) in Summary.ReadRefs(data))
            {
                _ = (name.Length, commit.ToHex(), size, meta.Print());
            }
        },
        ["delta-superblock"] = data =>
        {
            var sb = DeltaSuperblock.Parse(data, "fuzz/superblock");
            for (int i = 0; i < sb.Parts.Count; i++)
            {
                _ = StaticDeltas.InlinePart(sb, i);
            }
        },
        ["delta-part"] = data =>
        {
            // [object count: 1 byte][count x 33-byte (type, id) entries, as a part header lists them][part file]. The
            // payload runs into a transaction that is never committed: every operation, object check and limit runs,
            // nothing is published.
            if (data.Length == 0 || data.Length < 1 + (data[0] * 33))
            {
                return;
            }

            var objects = DeltaSuperblock.ParseObjects(data.AsSpan(1, data[0] * 33));
            var payload = DeltaPartExecutor.Decompress(data.AsSpan(1 + (data[0] * 33)), "fuzz/part", 64L << 20);
            _ = DeltaPartExecutor.Describe(objects, payload, "fuzz/part");
            using var tx = Scratch.Value.BeginTransaction();
            DeltaPartExecutor.ExecutePayload(tx, objects, payload, "fuzz/part");
        },
        ["bsdiff"] = data =>
        {
            // [old length: 1 byte][new length: 2 bytes][old][patch]
            if (data.Length < 3)
            {
                return;
            }

            int oldLength = Math.Min(data[0], data.Length - 3);
            int newLength = data[1] | (data[2] << 8);
            var output = new byte[newLength];
            Bsdiff.Patch(data.AsSpan(3, oldLength), data.AsSpan(3 + oldLength), output);
        },
        ["xz"] = data => _ = Xz.Decompress(data, 16L << 20, "fuzz/xz"),
        ["layer-delta"] = data =>
        {
            // A container layer delta read against an empty repository: its header must name the diff-id it rebuilds,
            // so that is taken from the input itself and the records behind it are what gets fuzzed.
            if (data.Length < 41)
            {
                return;
            }

            var diffId = Digest.Parse("sha256:" + Convert.ToHexStringLower(data.AsSpan(9, 32)));
            // A version 2 delta is read as a client with the ostree.commit label reads it: without the diff-id check.
            using var s = new LayerDeltaStream(new MemoryStream(data), Scratch.Value, diffId, "fuzz/delta", verifyDiffId: data[8] != ContainerDeltaFormat.NewObjectsOnly);
            s.CopyTo(Stream.Null);
        },
        ["tar"] = data =>
        {
            using var reader = new TarReader(new MemoryStream(data));
            for (int n = 0; reader.GetNextEntry() is { } e && n < 10_000; n++)
            {
                _ = (e.Name, e.LinkName, e.Mode, e.Size);
                reader.DataStream.CopyTo(Stream.Null);
            }
        },
        ["oci"] = data =>
        {
            if (data.Length == 0)
            {
                return;
            }

            var json = data[1..];
            switch (data[0] % 5)
            {
                case 0:
                    var m = new ManifestBlob(json, MediaTypes.OciManifest, "fuzz/manifest").AsManifest();
                    foreach (var l in m.Layers)
                    {
                        _ = l.GetDigest();
                    }

                    _ = m.Config.GetDigest();
                    break;
                case 1:
                    var index = new ManifestBlob(json, MediaTypes.OciIndex, "fuzz/index").AsIndex();
                    foreach (var d in index.Manifests)
                    {
                        _ = (d.GetDigest(), d.Platform?.ToString());
                    }

                    break;
                case 2:
                    _ = new ManifestBlob(json, null, "fuzz/untyped").MediaType;
                    break;
                case 3:
                    _ = ImageConfig.Parse(json, "fuzz/config");
                    break;
                default:
                    _ = ContentMeta.Parse(json, "fuzz/content-meta");
                    break;
            }
        },
        ["www-authenticate"] = data =>
        {
            foreach (var c in AuthChallenge.Parse(Text(data), "https://registry.fuzz/v2/"))
            {
                _ = c.ToString();
            }
        },
        ["signatures"] = data =>
        {
            // What a registry or a lookaside store hands a policy check, and the configuration files it reads: the
            // first byte picks the parser.
            if (data.Length == 0)
            {
                return;
            }

            var rest = data[1..];
            switch (data[0] % 5)
            {
                case 0:
                    _ = SigstoreVerifier.ParsePayload(rest);
                    break;
                case 1:
                    _ = SigstoreVerifier.ParseBundle(new SigstoreBundle(Digest.Sha256(rest), rest));
                    break;
                case 2:
                    _ = SigstoreVerifier.ParsePayload(SimpleSigning.Parse(rest).Payload, "atomic container signature");
                    break;
                case 3:
                    _ = ImagePolicy.Parse(rest, "fuzz.json").RequirementsFor(ImageReference.Parse("docker://registry.fuzz/ns/app:v1"));
                    break;
                default:
                    _ = RegistriesConf.Parse(Text(rest), "fuzz.conf").PullSources(DockerReference.Parse("registry.fuzz/ns/app:v1"));
                    break;
            }
        },
        ["packages"] = data =>
        {
            // What `container rechunk` reads from an image's package databases: the first byte picks the parser.
            if (data.Length == 0)
            {
                return;
            }

            var rest = data[1..];
            switch (data[0] % 3)
            {
                case 0:
                    foreach (var p in RpmDatabase.Read(rest, null, "fuzz/rpmdb.sqlite"))
                    {
                        _ = (p.Name, p.Files.Count, p.Changelog.Count);
                    }

                    break;
                case 1:
                    _ = RpmDatabase.Header(rest, "fuzz/header")?.Files.Count;
                    break;
                default:
                    _ = Components.ParseRfc2822(Text(rest));
                    break;
            }
        },
        ["image-reference"] = data =>
        {
            var text = Text(data);
            _ = text.StartsWith("ostree-", StringComparison.Ordinal) ? OstreeImageReference.Parse(text).ToString() : ImageReference.Parse(text).ToString();
        },
        ["keyfile"] = data =>
        {
            // Repository config, remotes, deployment .origin files and prepare-root.conf are key files.
            var text = Text(data);
            var kf = KeyFile.Parse(text, "fuzz/config");
            _ = (kf.Get("core", "mode"), kf.HasGroup("origin"), kf.ToString());
            _ = PrepareRootConfig.Parse(text, "fuzz/prepare-root.conf");
        },
        ["bls"] = data =>
        {
            var e = BootEntry.Parse(Text(data), "fuzz/ostree-1.conf");
            _ = BootEntry.Parse(e.Serialize(), "fuzz/again.conf");
        },
        ["file-contexts"] = data =>
        {
            var fc = FileContexts.Parse(Text(data), "fuzz/file_contexts");
            foreach (var (path, mode) in new[] { ("/", 0x41edu), ("/usr/bin/sh", 0x81edu), ("/etc/passwd", 0x81a4u), ("/var/lib/x", 0xa1ffu) })
            {
                _ = fc.Lookup(path, mode);
            }
        },
        ["openpgp"] = data =>
        {
            if (data.Length == 0)
            {
                return;
            }

            var body = data[1..];
            if ((data[0] & 1) == 0)
            {
                // A keyring (binary, armored or a keybox) as remotes and --keyring hand it over.
                var keyring = new GpgKeyring();
                keyring.AddStream(new MemoryStream(body), "fuzz/keyring");
                _ = keyring.Find(0x1234);
            }
            else
            {
                // Signatures in a commit's detached metadata, checked against an empty keyring.
                var signatures = GVariantValue.FromArray(GVariantType.ByteArray, [GVariantValue.FromBytes(body)]);
                var detached = GVariantValue.FromVarDict([new(GpgCommitSigner.MetadataKey, signatures)]);
                _ = GpgCommitSigner.Check("commit"u8, detached, new GpgKeyring(), new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc));
            }
        },
        ["sexp"] = data =>
        {
            var e = SExpression.Parse(data);
            _ = e.IsList;
        },
        ["composefs-dump"] = data => _ = ComposefsWriter.ToArray(ComposefsDumpfile.Parse(data)),
    };

    /// <summary>
    /// Runs target <paramref name="name"/> on <paramref name="data"/>: true when it parsed, false when it ended with the
    /// typed error a bad input must get. Anything else propagates: that is a finding.
    /// </summary>
    public static bool Run(string name, byte[] data)
    {
        try
        {
            All[name](data);
            return true;
        }
        catch (OstreeException)
        {
            return false;
        }
    }
}
