// `selinux label`: the label a policy gives paths, as matchpathcon prints it.
using System.CommandLine;
using System.Text;
using OstreeSharp.Internal;
using OstreeSharp.Objects;
using OstreeSharp.SELinux;

namespace OstreeSharp.Cli;

internal static class SelinuxCommand
{
    public static Command Create()
    {
        var cmd = new Command("selinux", "SELinux file contexts of a root filesystem's policy");
        var label = new Command("label", "Print the label the policy of --policy-root gives each PATH (as matchpathcon), or every path of --tree");
        var root = new Option<string>("--policy-root") { Description = "Root filesystem whose etc/selinux (or usr/etc/selinux) holds the policy", Required = true };
        var type = new Option<string?>("-m") { Description = "File type of the PATHs: file, dir, pipe, chr_file, blk_file, lnk_file, sock_file (default: any)" };
        var tree = new Option<string?>("--tree") { Description = "Label every path of this folder (lstat gives each type), paths shown relative to it" };
        var noPath = new Option<bool>("-n") { Description = "Print only the label" };
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.ZeroOrMore };
        foreach (var o in new Option[] { root, type, tree, noPath })
        {
            label.Options.Add(o);
        }

        label.Arguments.Add(paths);
        CliSupport.SetRun(label, pr =>
        {
            var policy = SePolicy.Load(pr.GetValue(root)!);
            var contexts = policy.Contexts ?? throw new OstreeException(OstreeErrorCode.InvalidData, $"{pr.GetValue(root)}: no SELinux policy (no etc/selinux/config)");
            uint mode = pr.GetValue(type) switch
            {
                null => 0,
                "file" => UnixMode.Regular,
                "dir" => UnixMode.Directory,
                "pipe" => UnixMode.Fifo,
                "chr_file" => UnixMode.CharDevice,
                "blk_file" => UnixMode.BlockDevice,
                "lnk_file" => UnixMode.Symlink,
                "sock_file" => UnixMode.Socket,
                var t => throw new ArgumentException($"unknown file type '{t}'"),
            };
            bool onlyLabel = pr.GetValue(noPath);
            using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16);
            void Print(string path, uint m)
            {
                var l = contexts.Lookup(path, m) ?? "<<none>>";
                output.Write(onlyLabel ? l + "\n" : path + "\t" + l + "\n");
            }

            foreach (var p in pr.GetValue(paths) ?? [])
            {
                Print(p, mode);
            }

            if (pr.GetValue(tree) is { } dir)
            {
                Print("/", Native.LStat(dir).Mode);
                void Walk(string path, string rel)
                {
                    foreach (var e in Directory.EnumerateFileSystemEntries(path).Order(StringComparer.Ordinal))
                    {
                        var r = rel + "/" + Path.GetFileName(e);
                        var st = Native.LStat(e);
                        Print(r, st.Mode);
                        if (st.Type == UnixMode.Directory)
                        {
                            Walk(e, r);
                        }
                    }
                }

                Walk(dir, string.Empty);
            }

            return 0;
        });
        cmd.Subcommands.Add(label);
        return cmd;
    }
}
