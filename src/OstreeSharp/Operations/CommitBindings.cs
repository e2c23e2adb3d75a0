// The ref and collection a commit says it belongs to (ostree.ref-binding, ostree.collection-binding), checked as
// libostree checks a pulled commit: so that a server cannot pass off one branch's commit as another's.
using OstreeSharp.Objects;

namespace OstreeSharp.Operations;

/// <summary>libostree's binding checks of pulled commits.</summary>
internal static class CommitBindings
{
    /// <summary>
    /// Refuses <paramref name="commit"/> unless its ref binding names <paramref name="refName"/> (when the commit was
    /// asked for by ref) and its collection binding is <paramref name="collectionId"/> (when the remote has one); a
    /// commit without a ref binding passes only from a remote without a collection id.
    /// </summary>
    /// <exception cref="OstreeException">The bindings do not match, in libostree's words.</exception>
    public static void Verify(Checksum id, Commit commit, string? refName, string? collectionId)
    {
        ArgumentNullException.ThrowIfNull(commit);
        if (commit.Metadata.Lookup("ostree.ref-binding") is not { Type.Text: "as" } binding)
        {
            if (collectionId is null)
            {
                return;
            }

            throw new OstreeException(OstreeErrorCode.CommitBindingMismatch, $"Commit {id}: Expected commit metadata to have ref binding information, found none");
        }

        if (refName is not null)
        {
            var refs = binding.GetChildren().Select(v => v.GetString()).ToList();
            if (!refs.Contains(refName, StringComparer.Ordinal))
            {
                var shown = refs.Count > 0 ? string.Join(", ", refs.Select(r => $"\u2018{r}\u2019")) : "no refs";
                throw new OstreeException(OstreeErrorCode.CommitBindingMismatch, $"Commit {id}: Commit has no requested ref \u2018{refName}\u2019 in ref binding metadata ({shown})");
            }
        }

        if (collectionId is not null)
        {
            if (commit.Metadata.Lookup("ostree.collection-binding") is not { Type.Text: "s" } bound)
            {
                throw new OstreeException(OstreeErrorCode.CommitBindingMismatch, $"Commit {id}: Expected commit metadata to have collection ID binding information, found none");
            }

            if (bound.GetString() != collectionId)
            {
                throw new OstreeException(OstreeErrorCode.CommitBindingMismatch, $"Commit {id}: Commit has collection ID \u2018{bound.GetString()}\u2019 in collection binding metadata, while the remote it came from has collection ID \u2018{collectionId}\u2019");
            }
        }
    }
}
