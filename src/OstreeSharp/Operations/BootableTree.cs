// Kernel discovery for `commit --bootable` (ostree.linux): usr/lib/modules/KVER/vmlinuz, then the legacy places.
namespace OstreeSharp.Operations;

/// <summary>Finds the kernel of an OS tree.</summary>
internal static class BootableTree
{
    /// <summary>The kernel version (<c>usr/lib/modules/KVER/vmlinuz</c>, or <c>vmlinuz-KVER</c> in the legacy boot folders).</summary>
    /// <exception cref="OstreeException">The tree has no kernel.</exception>
    public static string? FindKernelVersion(MutableTree root)
    {
        if (Walk(root, "usr", "lib", "modules") is { } modules)
        {
            foreach (var (kver, dir) in modules.Dirs.OrderBy(d => d.Key, StringComparer.Ordinal))
            {
                if (dir.Files.ContainsKey("vmlinuz"))
                {
                    return kver;
                }
            }
        }

        foreach (var legacy in new[] { new[] { "usr", "lib", "ostree-boot" }, new[] { "boot" } })
        {
            if (Walk(root, legacy) is { } d && d.Files.Keys.Where(k => k.StartsWith("vmlinuz-", StringComparison.Ordinal)).Order(StringComparer.Ordinal).FirstOrDefault() is { } k)
            {
                return k["vmlinuz-".Length..];
            }
        }

        // ostree's words (2022.7 and 2026.4): the first folder of usr/lib/modules that is missing, else no kernel in it.
        string[] path = ["usr", "lib", "modules"];
        for (int i = 1; i <= path.Length; i++)
        {
            if (Walk(root, path[..i]) is null)
            {
                throw new OstreeException(OstreeErrorCode.KernelNotFound, "No such file or directory: /" + string.Join('/', path[..i]));
            }
        }

        throw new OstreeException(OstreeErrorCode.KernelNotFound, "No kernel found in /usr/lib/modules");
    }

    private static MutableTree? Walk(MutableTree t, params string[] names)
    {
        foreach (var n in names)
        {
            if (!t.Dirs.TryGetValue(n, out var next))
            {
                return null;
            }

            t = next;
        }

        return t;
    }
}
