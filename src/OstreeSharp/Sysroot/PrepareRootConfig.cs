// prepare-root.conf as ostree-prepare-root reads it (libotcore otcore_load_config and
// otcore_load_rootfs_config): /usr/lib/ostree/prepare-root.conf, replaced as a whole by
// /etc/ostree/prepare-root.conf when that exists.
using System.Text;
using OstreeSharp.Repository;

namespace OstreeSharp.Sysroot;

/// <summary>The root filesystem settings of a deployment (the parts a deployer needs).</summary>
internal sealed record PrepareRootConfig
{
    /// <summary>Where ostree-prepare-root reads the public keys of <c>signed</c> mode unless <c>composefs.keypath</c> says otherwise.</summary>
    public const string DefaultKeyPath = "/etc/ostree/initramfs-root-binding.key";

    /// <summary>Whether the root is mounted from the deployment's composefs image (<c>composefs.enabled</c>).</summary>
    public Tristate Composefs { get; init; }

    /// <summary>Files must carry fs-verity digests (<c>enabled = verity</c> or <c>signed</c>).</summary>
    public bool RequireVerity { get; init; }

    /// <summary>The commit must be signed by one of the keys in <see cref="KeyPath"/> (<c>enabled = signed</c>).</summary>
    public bool Signed { get; init; }

    /// <summary><c>composefs.keypath</c>.</summary>
    public string KeyPath { get; init; } = DefaultKeyPath;

    /// <summary><c>root.transient</c> (or <c>root.transient-ro</c>).</summary>
    public bool RootTransient { get; init; }

    /// <summary>Reads the configuration of the tree checked out at <paramref name="root"/>.</summary>
    /// <exception cref="OstreeFormatException">A value is invalid.</exception>
    public static PrepareRootConfig Load(string root)
    {
        foreach (var rel in new[] { "etc/ostree/prepare-root.conf", "usr/lib/ostree/prepare-root.conf" })
        {
            var path = Path.Combine(root, rel);
            if (File.Exists(path))
            {
                return Parse(File.ReadAllText(path, Encoding.UTF8), "/" + rel);
            }
        }

        return new PrepareRootConfig();
    }

    /// <summary>Parses prepare-root.conf text; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="OstreeFormatException">A value is invalid.</exception>
    public static PrepareRootConfig Parse(string text, string source)
    {
        var kf = KeyFile.Parse(text, source);
        bool transient = kf.GetBoolean("root", "transient", false);
        bool transientRo = kf.GetBoolean("root", "transient-ro", false);
        if (transient && transientRo)
        {
            throw new OstreeFormatException($"{source}: Parsing rootfs config: Cannot set both root.transient and root.transient-ro");
        }

        var enabled = kf.Get("composefs", "enabled");
        var keyPath = kf.Get("composefs", "keypath") ?? DefaultKeyPath;
        var config = enabled switch
        {
            "signed" => new PrepareRootConfig { Composefs = Tristate.Yes, RequireVerity = true, Signed = true },
            "verity" => new PrepareRootConfig { Composefs = Tristate.Yes, RequireVerity = true },
            null => new PrepareRootConfig(),
            _ => new PrepareRootConfig { Composefs = KeyFile.ParseTristate(enabled.Trim(), $"{source}: composefs.enabled") },
        };
        return config with { KeyPath = keyPath, RootTransient = transient || transientRo };
    }
}
