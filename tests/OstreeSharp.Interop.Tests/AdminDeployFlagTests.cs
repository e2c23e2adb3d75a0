namespace OstreeSharp.Interop.Tests;

/// <summary>
/// `admin deploy` refuses the flag combinations ostree refuses, with its words, in its order: three usage errors, then
/// the --stage ones once the refspec resolved. Both tools run on the same fresh sysroot on a private tmpfs (inside
/// `unshare -m`), though none of these cases gets as far as writing a deployment.
/// </summary>
public sealed class AdminDeployFlagTests
{
    private static (int Code, string LastError) Deploy(string tool, string flags)
    {
        using var t = new TempDir();
        var script = $"""
            set -e
            W='{t.Path}'
            mount -t tmpfs none "$W"
            mkdir "$W/empty" "$W/s"
            ostree admin init-fs "$W/s" >/dev/null 2>&1
            ostree admin os-init --sysroot="$W/s" x >/dev/null
            ostree --repo="$W/s/ostree/repo" commit -b y --tree=dir="$W/empty" >/dev/null
            set +e
            {tool} admin deploy --sysroot="$W/s" --os=x {flags} y 2>"$W/err" >/dev/null
            echo "rc=$?"
            tail -n 1 "$W/err"
            """;
        var lines = Tools.Run("unshare", ["--mount", "--propagation", "private", "sh", "-c", script]).Ok("admin deploy in a private tmpfs").Split('\n');
        return (int.Parse(lines[0]["rc=".Length..], System.Globalization.CultureInfo.InvariantCulture), lines.Length > 1 ? lines[1] : string.Empty);
    }

    [Theory]
    [InlineData("--karg-none --karg-proc-cmdline", "error: Can't specify both --karg-proc-cmdline and --karg-none")]
    [InlineData("--karg-none --karg-delete=quiet", "error: Can't specify both --karg-none and --karg-delete")]
    [InlineData("--no-merge --karg-delete=quiet", "error: Can't specify both --no-merge and --karg-delete")]
    [InlineData("--stage --retain-pending", "error: --stage cannot currently be combined with --retain arguments")]
    [InlineData("--stage --not-as-default", "error: --stage cannot currently be combined with --not-as-default")]
    public void Refused_as_ostree_refuses_them(string flags, string expected)
    {
        Assert.Equal((1, expected), Deploy("ostree", flags));
        Assert.Equal((1, expected), Deploy(Tools.OursShell, flags));
    }
}
