namespace OstreeSharp.Interop.Tests;

/// <summary>
/// <c>sysroot.boot-counting-tries</c>: boot entries named for systemd's boot counting, as libostree 2026.4 names them.
/// Both tools deploy the same builds on a fresh sysroot on a private tmpfs (inside <c>unshare -m</c>, as the real
/// <c>admin deploy</c> freezes the filesystem of /boot), with a boot "blessed" (its counter removed from the name) and
/// one renamed to a counter in progress between deploys. The names must be the same, counters included.
/// </summary>
public sealed class BootCountingTests
{
    private static string Run(string tool, string opts)
    {
        using var t = new TempDir();
        var script = $$"""
            set -eu
            W='{{t.Path}}'
            mount -t tmpfs none "$W"
            export OSTREE_SYSROOT_OPTS='{{opts}}'
            O() { {{tool}} "$@"; }
            mkdir -p "$W/tree/usr/lib/modules/6.1.0" "$W/tree/usr/etc" "$W/tree/usr/bin" "$W/s"
            echo kernel > "$W/tree/usr/lib/modules/6.1.0/vmlinuz"
            echo initrd > "$W/tree/usr/lib/modules/6.1.0/initramfs.img"
            printf 'NAME=x\nID=x\nPRETTY_NAME=X\n' > "$W/tree/usr/lib/os-release"
            O admin init-fs "$W/s" >/dev/null
            O admin os-init --sysroot="$W/s" x >/dev/null
            O --repo="$W/s/ostree/repo" config set sysroot.boot-counting-tries 3
            E="$W/s/boot/loader/entries"
            names() { (cd "$E" && for f in $(ls | LC_ALL=C sort); do printf '%s(%s) ' "$f" "$(grep ^options "$f" | sed 's|.*/||')"; done); echo; }
            entry() { ls "$E" | grep "^ostree-$1[-+.]"; }
            d() { echo "$1" > "$W/tree/usr/bin/f"; O --repo="$W/s/ostree/repo" commit -b y --tree=dir="$W/tree" >/dev/null; O admin deploy --sysroot="$W/s" --os=x y $2 >/dev/null; echo "after $1: $(names)"; }
            d one ""
            d two ""
            mv "$E/$(entry 2)" "$E/$(entry 2 | sed 's/+.*/.conf/')"
            echo "blessed: $(names)"
            d three ""
            d four --retain
            mv "$E/$(entry 3)" "$E/$(entry 3 | sed 's/+.*/+1-2.conf/')"
            echo "counting: $(names)"
            d five --retain
            O --repo="$W/s/ostree/repo" config set sysroot.boot-counting-tries 0
            d six --retain
            """;
        return Tools.Run("unshare", ["--mount", "--propagation", "private", "bash", "-c", script]).Ok($"{tool}: deploys with boot counting");
    }

    [Theory]
    [InlineData("", "after one: ostree-1+3.conf(0)", "ostree-3+1-2.conf(1) ostree-4+3.conf(0)")]
    [InlineData("bootloader-naming-1", "after one: ostree-1-x+3.conf(0)", "ostree-3-x+1-2.conf(1) ostree-4-x+3.conf(0)")] // before 2024.5
    public void Entries_carry_the_names_and_counters_libostree_gives_them(string opts, string first, string counting)
    {
        var theirs = Run(Tools.PeerCommand(Tools.V2026), opts);
        Assert.Contains(first, theirs, StringComparison.Ordinal);
        Assert.Contains(counting, theirs, StringComparison.Ordinal);
        Assert.Equal(theirs, Run(Tools.OursShell, opts));
    }

    [Theory]
    [InlineData("x", "Parsing sysroot.boot-counting-tries: \u201cx\u201d is not an unsigned number")]
    [InlineData("+3", "Parsing sysroot.boot-counting-tries: \u201c+3\u201d is not an unsigned number")]
    [InlineData("7", "Parsing sysroot.boot-counting-tries: Number \u201c7\u201d is out of bounds [0, 5]")]
    public void An_invalid_count_is_refused_as_ostree_refuses_it(string value, string message)
    {
        using var t = new TempDir();
        foreach (var (tool, run) in Tools.TheirsAndOurs(Tools.V2026))
        {
            // config set checks the new config before it writes it, and writes nothing.
            var repo = t[tool];
            run(["init", "--repo=" + repo, "--mode=bare"]).Ok($"{tool} init");
            var before = File.ReadAllText(Path.Combine(repo, "config"));
            var set = run(["config", "--repo=" + repo, "set", "sysroot.boot-counting-tries", value]);
            Assert.Equal((1, "error: " + message + "\n"), (set.ExitCode, set.Stderr));
            Assert.Equal(before, File.ReadAllText(Path.Combine(repo, "config")));

            // A config written by hand stops the repository from opening.
            File.AppendAllText(Path.Combine(repo, "config"), $"\n[sysroot]\nboot-counting-tries={value}\n");
            var refs = run(["refs", "--repo=" + repo]);
            Assert.Equal((1, "error: opening repo: " + message + "\n"), (refs.ExitCode, refs.Stderr));
        }
    }
}
