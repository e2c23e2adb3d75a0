using System.CommandLine;
using System.Globalization;
using System.Text;
using OstreeSharp.Objects;
using OstreeSharp.Operations;
using OstreeSharp.Repository;

namespace OstreeSharp.Cli;

internal static class LsCommand
{
    private sealed record Flags(bool Recursive, bool Xattrs, bool Checksums, bool DirOnly, bool NulNames);

    public static Command Create()
    {
        var cmd = new Command("ls", "List file paths");
        var recursive = new Option<bool>("--recursive", "-R") { Description = "Print directories recursively" };
        var xattrs = new Option<bool>("--xattrs", "-X") { Description = "Show extended attributes" };
        var checksums = new Option<bool>("--checksum", "-C") { Description = "Print checksum" };
        var dironly = new Option<bool>("--dironly", "-d") { Description = "Only print directories" };
        var nul = new Option<bool>("--nul-filenames-only") { Description = "Print only filenames, NUL separated" };
        var rev = new Argument<string>("COMMIT");
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.ZeroOrMore };
        foreach (var o in new Option[] { recursive, xattrs, checksums, dironly, nul })
        {
            cmd.Options.Add(o);
        }

        cmd.Arguments.Add(rev);
        cmd.Arguments.Add(paths);
        CliSupport.SetRun(cmd, pr =>
        {
            var repo = CliSupport.OpenRepo(pr);
            var commit = repo.LoadCommit(repo.Resolve(pr.GetValue(rev)!));
            var flags = new Flags(pr.GetValue(recursive), pr.GetValue(xattrs), pr.GetValue(checksums), pr.GetValue(dironly), pr.GetValue(nul));
            var list = pr.GetValue(paths) is { Length: > 0 } p ? p : ["/"];
            var sb = new StringBuilder();
            foreach (var path in list)
            {
                TreeEntry entry;
                try
                {
                    entry = TreeLookup.Require(repo, commit, path);
                }
                catch (ObjectNotFoundException e)
                {
                    throw new ObjectNotFoundException($"Inspecting path '{path}': {e.Message}");
                }

                if (entry.IsFile)
                {
                    PrintFile(sb, repo, entry.Path, entry.File, flags);
                    continue;
                }

                PrintDir(sb, repo, entry.Path, entry.Tree, entry.Meta, flags);
                if (!flags.DirOnly || flags.Recursive)
                {
                    ListDir(sb, repo, entry.Path, entry.Tree, flags, flags.Recursive);
                }
            }

            using var stdout = Console.OpenStandardOutput();
            stdout.Write(Encoding.UTF8.GetBytes(sb.ToString()));
            return 0;
        });
        return cmd;
    }

    private static void ListDir(StringBuilder sb, OstreeRepo repo, string path, Checksum tree, Flags f, bool recurse)
    {
        // A folder's files, then each subfolder's line and (with -R) its listing, in name order: an explicit stack of
        // folders still to print, as a tree's depth is the input's to choose.
        var pending = new Stack<(string Path, Checksum Tree, Checksum Meta, bool Print)>();
        pending.Push((path, tree, default, false));
        while (pending.TryPop(out var at))
        {
            if (at.Print)
            {
                PrintDir(sb, repo, at.Path, at.Tree, at.Meta, f);
                if (!recurse)
                {
                    continue;
                }
            }

            var dt = repo.LoadDirTree(at.Tree);
            if (!f.DirOnly)
            {
                foreach (var file in dt.Files)
                {
                    PrintFile(sb, repo, Reachability.Join(at.Path, file.Name), file.Checksum, f);
                }
            }

            for (int i = dt.Dirs.Count - 1; i >= 0; i--)
            {
                var d = dt.Dirs[i];
                pending.Push((Reachability.Join(at.Path, d.Name), d.TreeChecksum, d.MetaChecksum, true));
            }
        }
    }

    private static void PrintDir(StringBuilder sb, OstreeRepo repo, string path, Checksum tree, Checksum meta, Flags f)
    {
        if (f.NulNames)
        {
            sb.Append(path).Append('\0');
            return;
        }

        var m = repo.LoadDirMeta(meta);
        Prefix(sb, 'd', m.Mode, m.Uid, m.Gid, 0);
        if (f.Checksums)
        {
            sb.Append(tree.ToHex()).Append(' ').Append(meta.ToHex()).Append(' ');
        }

        if (f.Xattrs)
        {
            sb.Append("{ ").Append(m.Xattrs.ToGVariant().Print()).Append(" } ");
        }

        sb.Append(path).Append('\n');
    }

    private static void PrintFile(StringBuilder sb, OstreeRepo repo, string path, Checksum checksum, Flags f)
    {
        if (f.NulNames)
        {
            sb.Append(path).Append('\0');
            return;
        }

        var obj = repo.LoadContent(checksum);
        var h = obj.Header;
        Prefix(sb, h.IsSymlink ? 'l' : '-', h.Mode, h.Uid, h.Gid, h.IsSymlink ? 0 : obj.Size);
        if (f.Checksums)
        {
            sb.Append(checksum.ToHex()).Append(' ');
        }

        if (f.Xattrs)
        {
            sb.Append("{ ").Append(h.Xattrs.ToGVariant().Print()).Append(" } ");
        }

        sb.Append(path);
        if (h.IsSymlink)
        {
            sb.Append(" -> ").Append(h.SymlinkTarget);
        }

        sb.Append('\n');
    }

    private static void Prefix(StringBuilder sb, char type, uint mode, uint uid, uint gid, long size) =>
        sb.Append(type).Append('0').Append(Convert.ToString(mode & UnixMode.PermissionMask, 8).PadLeft(4, '0'))
          .Append(' ').Append(uid.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(gid.ToString(CultureInfo.InvariantCulture))
          .Append(' ').Append(size.ToString(CultureInfo.InvariantCulture).PadLeft(6)).Append(' ');
}
