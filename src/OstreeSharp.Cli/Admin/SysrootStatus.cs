// `ostree admin status` text, as libostree 2022.7 prints it (spec 4.5).
using System.Text;
using OstreeSharp.Objects;
using OstreeSharp.Sysroot;

namespace OstreeSharp.Cli;

/// <summary>Formats the deployment list.</summary>
internal static class SysrootStatus
{
    /// <summary>The text of <c>ostree admin status</c>.</summary>
    public static string Format(OstreeSysroot sysroot) => Format(sysroot, signatures: true);

    /// <summary>
    /// The text of <c>ostree admin status</c>; with <paramref name="signatures"/>, a deployment whose origin names a
    /// remote that verifies GPG signatures gets a <c>GPG:</c> line for each signature on its commit.
    /// </summary>
    public static string Format(OstreeSysroot sysroot, bool signatures)
    {
        if (sysroot.Deployments.Count == 0)
        {
            return "No deployments.\n";
        }

        var (pending, rollback) = sysroot.PendingAndRollback();
        var sb = new StringBuilder();
        foreach (var d in sysroot.Staged is { } staged ? sysroot.Deployments.Prepend(staged) : sysroot.Deployments)
        {
            string suffix = d.FinalizationLocked ? " (finalization locked)" : d.IsStaged ? " (staged)"
                : d.SameAs(pending) ? " (pending)" : d.SameAs(rollback) ? " (rollback)" : string.Empty;
            sb.Append(d.IsBooted ? '*' : ' ').Append(' ').Append(d.OsName).Append(' ').Append(d.DirectoryName).Append(suffix).Append('\n');
            Commit? commit = null;
            try
            {
                commit = sysroot.Repo.LoadCommit(d.Commit);
            }
            catch (ObjectNotFoundException)
            {
            }

            if (commit?.Version is { } v)
            {
                sb.Append("    Version: ").Append(v).Append('\n');
            }

            if (d.Unlocked != "none")
            {
                sb.Append("    Unlocked: ").Append(d.Unlocked).Append('\n');
            }

            if (d.IsPinned)
            {
                sb.Append("    Pinned: yes\n");
            }

            if (d.Origin is null)
            {
                sb.Append("    origin: none\n");
            }
            else if (d.Refspec is { } r)
            {
                sb.Append("    origin refspec: ").Append(r).Append('\n');
            }
            else
            {
                sb.Append("    origin: <unknown origin type>\n");
            }

            if (commit?.Metadata.Lookup("ostree.source-title") is { Type.Kind: 's' } title)
            {
                sb.Append("    `- ").Append(title.GetString()).Append('\n');
            }

            if (signatures && commit is not null)
            {
                AppendSignatures(sysroot, d, sb);
            }
        }

        return sb.ToString();
    }

    private static void AppendSignatures(OstreeSysroot sysroot, Deployment d, StringBuilder sb)
    {
        if (d.Refspec is not { } refspec || refspec.IndexOf(':', StringComparison.Ordinal) is not (> 0 and var colon))
        {
            return;
        }

        var remote = refspec[..colon];
        var info = sysroot.Repo.GetRemote(remote);
        if (info is null || string.Equals(info.Options.GetValueOrDefault("gpg-verify") ?? "true", "false", StringComparison.Ordinal))
        {
            return;
        }

        var detached = sysroot.Repo.LoadDetachedMetadata(d.Commit);
        if (detached?.Lookup("ostree.gpgsigs") is null)
        {
            return; // not signed
        }

        var keys = Signing.VerificationPolicy.RemoteGpgKeys(sysroot.Repo, remote);
        foreach (var status in Signing.GpgCommitSigner.Check(sysroot.Repo.ReadMetadataBytes(ObjectType.Commit, d.Commit), detached, keys))
        {
            foreach (var line in status.Describe().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                sb.Append("    GPG: ").Append(line.TrimStart(' ')).Append('\n');
            }
        }
    }
}
