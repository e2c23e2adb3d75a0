using System.Text;
using OstreeSharp.Internal;

namespace OstreeSharp.Interop.Tests;

/// <summary>Input trees with the awkward cases the issue lists.</summary>
internal static class TestTrees
{
    public const string LongDirName = "a-directory-name-that-is-quite-long-to-make-the-total-path-longer-than-two-hundred-and-fifty-five-bytes";

    public static void WriteTricky(string root, bool withOwners, bool withSpecialModes = true)
    {
        Directory.CreateDirectory(root);
        Native.Chmod(root, 0x1ED);
        void F(string rel, string content, uint mode)
        {
            var p = Path.Combine(root, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(p)!);
            File.WriteAllText(p, content);
            Native.Chmod(p, mode);
        }

        F("README", "Hello, OSTree!\n", 0x1A4);
        F("empty", string.Empty, 0x1A4);
        F("bin/tool", "#!/bin/sh\necho tool\n", 0x1ED);
        F("data/binary.bin", "\u0000\u0001\u0002", 0x180);
        F("usr/share/big.txt", string.Concat(Enumerable.Repeat("some compressible text line\n", 40000)), 0x1A4);
        if (withSpecialModes)
        {
            F("bin/setuid", "suid\n", 0x9ED);    // 04755
            F("bin/setgid", "sgid\n", 0x5ED);    // 02755
            Directory.CreateDirectory(Path.Combine(root, "tmpdir"));
            Native.Chmod(Path.Combine(root, "tmpdir"), 0x3FF); // 01777
        }

        F("non-ascii/ünïcödé-файл-名前.txt", "utf8 name\n", 0x1A4);
        var deep = Path.Combine(LongDirName, LongDirName, LongDirName, "leaf.txt");
        F(deep, "deep\n", 0x1A4);
        Assert.True(Encoding.UTF8.GetByteCount("/" + deep) > 255);
        File.CreateSymbolicLink(Path.Combine(root, "link-to-readme"), "README");
        File.CreateSymbolicLink(Path.Combine(root, "data/dangling"), "does/not/exist");
        File.CreateSymbolicLink(Path.Combine(root, "abs-link"), "/usr/share/big.txt");
        Assert.True(Native.TryLink(Path.Combine(root, "README"), Path.Combine(root, "data/hardlink-to-readme")));
        Directory.CreateDirectory(Path.Combine(root, "empty-dir"));
        Directory.CreateDirectory(Path.Combine(root, "private"));
        Native.Chmod(Path.Combine(root, "private"), 0x1C0);
        Native.SetXattr(Path.Combine(root, "data/binary.bin"), "user.b", "beta"u8);
        Native.SetXattr(Path.Combine(root, "data/binary.bin"), "user.a", new byte[] { 0, 1, 0xff });
        Native.SetXattr(Path.Combine(root, "data"), "user.dirnote", "dir"u8);
        if (withOwners)
        {
            Native.LChown(Path.Combine(root, "data/binary.bin"), 1000, 1000);
            Native.LChown(Path.Combine(root, "data"), 1001, 1002);
            Native.LChown(Path.Combine(root, "link-to-readme"), 1003, 0);
            if (withSpecialModes)
            {
                // chown clears setuid/setgid: set them again.
                Native.LChown(Path.Combine(root, "bin/setgid"), 0, 5);
                Native.Chmod(Path.Combine(root, "bin/setgid"), 0x5ED);
            }
        }
    }
}
