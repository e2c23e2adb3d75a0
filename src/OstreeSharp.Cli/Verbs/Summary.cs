using System.CommandLine;
using OstreeSharp.GVariant;
using OstreeSharp.Operations;

namespace OstreeSharp.Cli;

internal static partial class RepoCommands
{
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
}
