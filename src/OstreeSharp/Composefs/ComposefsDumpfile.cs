// The composefs "dumpfile" text format (composefs-dump(5)), read as mkcomposefs --from-file of
// composefs 1.0.8 reads it and written as composefs-info dump writes it. One line per file:
//   PATH SIZE MODE NLINK UID GID RDEV MTIME PAYLOAD CONTENT DIGEST [KEY=VALUE]...
// Fields are separated by single spaces, lines by '\n'; see docs/composefs.md for the escaping.
using System.Buffers;
using System.Globalization;
using System.Text;
using OstreeSharp.Objects;

namespace OstreeSharp.Composefs;

/// <summary>Reads and writes the composefs dumpfile text format.</summary>
internal static class ComposefsDumpfile
{
    private const int FixedFields = 11;
    private const int FieldPath = 0;
    private const int FieldSize = 1;
    private const int FieldMode = 2;
    private const int FieldNlink = 3;
    private const int FieldUid = 4;
    private const int FieldGid = 5;
    private const int FieldRdev = 6;
    private const int FieldMtime = 7;
    private const int FieldPayload = 8;
    private const int FieldContent = 9;
    private const int FieldDigest = 10;

    [Flags]
    private enum Escape
    {
        Standard = 0,
        NoEscapeSpace = 1,
        EscapeEqual = 2,
        EscapeLoneDash = 4,
    }

    /// <summary>Parses a dumpfile held in memory.</summary>
    public static ComposefsNode Parse(ReadOnlySpan<byte> text)
    {
        var p = new Parser();
        while (!text.IsEmpty)
        {
            int nl = text.IndexOf((byte)'\n');
            if (nl < 0)
            {
                p.ParseLine(text);
                break;
            }

            p.ParseLine(text[..nl]);
            text = text[(nl + 1)..];
        }

        return p.Finish();
    }

    /// <summary>Parses a dumpfile given as text (encoded as UTF-8; <see cref="ToText"/> output is ASCII).</summary>
    public static ComposefsNode Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(Encoding.UTF8.GetBytes(text));
    }

    /// <summary>Reads a dumpfile from <paramref name="input"/> until its end, a line at a time.</summary>
    public static ComposefsNode Read(Stream input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var p = new Parser();
        var buf = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            int start = 0;
            int end = 0;
            while (true)
            {
                if (end == buf.Length)
                {
                    if (start > 0)
                    {
                        Buffer.BlockCopy(buf, start, buf, 0, end - start);
                        end -= start;
                        start = 0;
                    }
                    else
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(buf.Length * 2);
                        Buffer.BlockCopy(buf, 0, bigger, 0, end);
                        ArrayPool<byte>.Shared.Return(buf);
                        buf = bigger;
                    }
                }

                int n = input.Read(buf, end, buf.Length - end);
                if (n == 0)
                {
                    break;
                }

                int scanFrom = end;
                end += n;
                while (true)
                {
                    int nl = buf.AsSpan(scanFrom, end - scanFrom).IndexOf((byte)'\n');
                    if (nl < 0)
                    {
                        break;
                    }

                    nl += scanFrom;
                    p.ParseLine(buf.AsSpan(start, nl - start));
                    start = nl + 1;
                    scanFrom = start;
                }
            }

            if (end > start)
            {
                p.ParseLine(buf.AsSpan(start, end - start));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buf);
        }

        return p.Finish();
    }

    /// <summary>Reads a dumpfile from a file.</summary>
    public static ComposefsNode ReadFile(string path)
    {
        using var f = File.OpenRead(path);
        return Read(f);
    }

    /// <summary>
    /// Writes the tree below <paramref name="root"/> as composefs-info dump prints a tree: depth
    /// first, children in name order, xattrs in the order they were set.
    /// </summary>
    public static void Write(ComposefsNode root, Stream output)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(output);
        var w = new LineWriter(output, root);
        var path = new List<byte>(256);
        var stack = new Stack<(ComposefsNode Node, int Next, int PathLen)>();
        w.WriteNode(root, "/"u8);
        stack.Push((root, 0, 0));
        while (stack.Count > 0)
        {
            var (node, next, pathLen) = stack.Pop();
            var kids = node.ChildList;
            if (kids is null || next >= kids.Count)
            {
                continue;
            }

            stack.Push((node, next + 1, pathLen));
            var child = kids[next];
            path.RemoveRange(pathLen, path.Count - pathLen);
            path.Add((byte)'/');
            path.AddRange(child.Name!);
            w.WriteNode(child, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(path));
            if (child.HardLinkTarget is null && child.ChildList is { Count: > 0 })
            {
                stack.Push((child, 0, path.Count));
            }
        }

        w.Flush();
    }

    /// <summary>The dumpfile of <paramref name="root"/> as a string (it is pure ASCII).</summary>
    public static string ToText(ComposefsNode root)
    {
        using var ms = new MemoryStream();
        Write(root, ms);
        return Encoding.ASCII.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    /// <summary>Escapes bytes as composefs-info escapes a path field.</summary>
    public static string EscapePath(ReadOnlySpan<byte> value)
    {
        var b = new ArrayBufferWriter<byte>();
        AppendEscaped(b, value, Escape.Standard);
        return Encoding.ASCII.GetString(b.WrittenSpan);
    }

    /// <summary>Undoes the dumpfile escaping of one field.</summary>
    public static byte[] Unescape(ReadOnlySpan<byte> escaped)
    {
        var r = UnescapeCore(escaped, out var error);
        return r ?? throw new ComposefsDumpfileException(0, error!);
    }

    private static string Show(ReadOnlySpan<byte> s) => Encoding.UTF8.GetString(s);

    private static byte[]? UnescapeCore(ReadOnlySpan<byte> s, out string? error)
    {
        error = null;
        if (s.IndexOf((byte)'\\') < 0)
        {
            return s.ToArray();
        }

        var res = new byte[s.Length];
        int o = 0;
        for (int i = 0; i < s.Length;)
        {
            byte c = s[i++];
            if (c != '\\')
            {
                res[o++] = c;
                continue;
            }

            if (i >= s.Length)
            {
                error = "no character after escape";
                return null;
            }

            c = s[i++];
            switch (c)
            {
                case (byte)'\\':
                    res[o++] = (byte)'\\';
                    break;
                case (byte)'n':
                    res[o++] = (byte)'\n';
                    break;
                case (byte)'r':
                    res[o++] = (byte)'\r';
                    break;
                case (byte)'t':
                    res[o++] = (byte)'\t';
                    break;
                case (byte)'x':
                    if (i + 2 > s.Length)
                    {
                        error = "no hex characters after hex escape";
                        return null;
                    }

                    int h1 = HexDigit(s[i]);
                    int h2 = HexDigit(s[i + 1]);
                    if (h1 < 0 || h2 < 0)
                    {
                        error = "invalid hex characters after hex escape";
                        return null;
                    }

                    res[o++] = (byte)((h1 << 4) | h2);
                    i += 2;
                    break;
                default:
                    error = $"unsupported escape type {(char)c}";
                    return null;
            }
        }

        return res.AsSpan(0, o).ToArray();
    }

    private static int HexDigit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    private static void AppendEscaped(IBufferWriter<byte> w, ReadOnlySpan<byte> v, Escape escape)
    {
        if ((escape & Escape.EscapeLoneDash) != 0 && v.Length == 1 && v[0] == '-')
        {
            w.Write("\\x2d"u8);
            return;
        }

        bool noEscapeSpace = (escape & Escape.NoEscapeSpace) != 0;
        bool escapeEqual = (escape & Escape.EscapeEqual) != 0;
        int runStart = 0;
        for (int i = 0; i < v.Length; i++)
        {
            byte c = v[i];
            ReadOnlySpan<byte> special = c switch
            {
                (byte)'\\' => "\\\\"u8,
                (byte)'\n' => "\\n"u8,
                (byte)'\r' => "\\r"u8,
                (byte)'\t' => "\\t"u8,
                _ => default,
            };
            bool hex = false;
            if (special.IsEmpty)
            {
                hex = c == '=' ? escapeEqual : noEscapeSpace ? c is < 0x20 or > 0x7e : c is <= 0x20 or > 0x7e;
                if (!hex)
                {
                    continue;
                }
            }

            w.Write(v[runStart..i]);
            runStart = i + 1;
            if (!special.IsEmpty)
            {
                w.Write(special);
            }
            else
            {
                var span = w.GetSpan(4);
                span[0] = (byte)'\\';
                span[1] = (byte)'x';
                span[2] = (byte)"0123456789abcdef"[c >> 4];
                span[3] = (byte)"0123456789abcdef"[c & 15];
                w.Advance(4);
            }
        }

        w.Write(v[runStart..]);
    }

    // strtoull(str, &end, base) with the checks mkcomposefs makes: the field must be non-empty and
    // fully consumed. Leading white space and a sign are accepted; a '-' negates modulo 2^64 and
    // an overflow gives ULLONG_MAX, as in glibc.
    private static bool TryParseUInt64(ReadOnlySpan<byte> s, int radix, out ulong value)
    {
        value = 0;
        int i = 0;
        while (i < s.Length && s[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r')
        {
            i++;
        }

        bool negative = false;
        if (i < s.Length && s[i] is (byte)'+' or (byte)'-')
        {
            negative = s[i] == '-';
            i++;
        }

        int digitsStart = i;
        bool overflow = false;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            int d = s[i] - '0';
            if (d < 0 || d >= radix)
            {
                break;
            }

            if (v > (ulong.MaxValue - (ulong)d) / (ulong)radix)
            {
                overflow = true;
            }

            v = unchecked((v * (ulong)radix) + (ulong)d);
        }

        if (i == digitsStart || i != s.Length)
        {
            return false;
        }

        value = overflow ? ulong.MaxValue : negative ? unchecked(0UL - v) : v;
        return true;
    }

    private sealed class Parser
    {
        private readonly List<(ComposefsNode Node, byte[]? Target, long Line)> hardlinks = [];
        private ComposefsNode? root;
        private long line;

        public void ParseLine(ReadOnlySpan<byte> text)
        {
            line++;
            if (text.IndexOf((byte)0) is int nul and >= 0)
            {
                throw Error($"invalid embedded NUL character at position {nul}");
            }

            Span<Range> fields = stackalloc Range[FixedFields];
            int pos = 0;
            for (int f = 0; f < FixedFields; f++)
            {
                int sp = text[pos..].IndexOf((byte)' ');
                if (sp < 0)
                {
                    fields[f] = pos..text.Length;
                    pos = text.Length;
                }
                else
                {
                    fields[f] = pos..(pos + sp);
                    pos += sp + 1;
                }
            }

            var pathBytes = Unescape(text[fields[FieldPath]], "path");
            if (pathBytes.Length == 0)
            {
                throw Error("invalid empty path");
            }

            if (pathBytes.AsSpan().IndexOf((byte)0) >= 0)
            {
                throw Error("path contains a NUL byte");
            }

            string path = Show(pathBytes);
            var modeField = text[fields[FieldMode]];
            bool isHardlink = !modeField.IsEmpty && modeField[0] == '@';
            if (isHardlink)
            {
                modeField = modeField[1..];
            }

            uint mode = unchecked((uint)ParseInt(modeField, 8));
            if (!IsValidType(mode))
            {
                throw Error($"invalid mode {Convert.ToString(mode, 8)}", path);
            }

            var node = new ComposefsNode(mode);
            AddToTree(pathBytes, path, node);

            if (isHardlink)
            {
                if ((mode & UnixMode.TypeMask) == UnixMode.Directory)
                {
                    throw Error("directories can't be hardlinked", path);
                }

                hardlinks.Add((node, UnescapeOptional(text[fields[FieldPayload]], "payload"), line));
                return;
            }

            ulong size = ParseInt(text[fields[FieldSize]], 10);
            uint nlink = unchecked((uint)ParseInt(text[fields[FieldNlink]], 10));
            uint uid = unchecked((uint)ParseInt(text[fields[FieldUid]], 10));
            uint gid = unchecked((uint)ParseInt(text[fields[FieldGid]], 10));
            ulong rdev = ParseInt(text[fields[FieldRdev]], 10);
            var mtime = text[fields[FieldMtime]];
            int dot = mtime.IndexOf((byte)'.');
            ulong sec = ParseInt(dot < 0 ? mtime : mtime[..dot], 10);
            ulong nsec = ParseInt(dot < 0 ? default : mtime[(dot + 1)..], 10);
            var payload = UnescapeOptional(text[fields[FieldPayload]], "payload");
            var content = UnescapeOptional(text[fields[FieldContent]], "content");
            if (content is not null && (ulong)content.Length != size)
            {
                throw Error($"invalid content size {content.Length}, must match size {size}", path);
            }

            var digestText = UnescapeOptional(text[fields[FieldDigest]], "digest");

            try
            {
                uint type = mode & UnixMode.TypeMask;
                if (type != UnixMode.Symlink)
                {
                    node.Size = size;
                }

                node.Nlink = nlink;
                node.Uid = uid;
                node.Gid = gid;
                if (type is UnixMode.CharDevice or UnixMode.BlockDevice)
                {
                    node.Rdev = unchecked((uint)rdev);
                }

                node.MtimeSeconds = unchecked((long)sec);
                node.MtimeNanoseconds = unchecked((uint)nsec);
                if (type == UnixMode.Symlink)
                {
                    if (payload is null || payload.Length == 0)
                    {
                        throw Error("invalid symlink: no target", path);
                    }

                    node.Payload = payload;
                    node.Size = (ulong)payload.Length;
                }
                else
                {
                    node.Payload = payload;
                    if (content is not null)
                    {
                        node.SetContent(content);
                    }
                }

                if (digestText is not null)
                {
                    node.FsVerityDigest = ParseDigest(digestText, path);
                }

                var rest = text[pos..];
                if (rest.Length > ushort.MaxValue)
                {
                    throw Error("too many xattrs", path);
                }

                while (!rest.IsEmpty)
                {
                    int sp = rest.IndexOf((byte)' ');
                    var item = sp < 0 ? rest : rest[..sp];
                    rest = sp < 0 ? default : rest[(sp + 1)..];
                    int eq = item.IndexOf((byte)'=');
                    if (eq < 0)
                    {
                        throw Error("missing = in xattr", path);
                    }

                    var key = Unescape(item[..eq], "xattr name");
                    var value = Unescape(item[(eq + 1)..], "xattr value");
                    node.SetXattr(key, value);
                }
            }
            catch (ComposefsException e) when (e is not ComposefsDumpfileException)
            {
                throw Error(e.Reason, path);
            }
        }

        public ComposefsNode Finish()
        {
            if (root is null)
            {
                throw new ComposefsDumpfileException(0, "no files in dump file");
            }

            foreach (var (node, target, lineNo) in hardlinks)
            {
                line = lineNo;
                string path = node.GetPath();
                if (target is null)
                {
                    throw Error("no target path for the hardlink", path);
                }

                var t = LookupPath(target) ?? throw Error($"no target at {Show(target)} for hardlink", path);
                if (ReferenceEquals(t, node))
                {
                    throw Error($"self-referential hardlink {Show(target)}", path);
                }

                try
                {
                    node.SetHardLinkTarget(t);
                }
                catch (ComposefsException e)
                {
                    throw Error(e.Reason, path);
                }
            }

            foreach (var (node, _, lineNo) in hardlinks)
            {
                line = lineNo;
                if (node.ResolveHardLink().FileType == UnixMode.Directory)
                {
                    throw Error("hardlink to a directory", node.GetPath());
                }
            }

            return root;
        }

        private static bool IsValidType(uint mode) => (mode & UnixMode.TypeMask) is UnixMode.Regular or UnixMode.Directory
            or UnixMode.Symlink or UnixMode.BlockDevice or UnixMode.CharDevice or UnixMode.Socket or UnixMode.Fifo;

        private void AddToTree(byte[] pathBytes, string path, ComposefsNode node)
        {
            if (pathBytes.AsSpan().SequenceEqual("/"u8))
            {
                if ((node.Mode & UnixMode.TypeMask) != UnixMode.Directory)
                {
                    throw Error("root must be a directory", path);
                }

                if (root is not null)
                {
                    throw Error("can't have multiple roots", path);
                }

                root = node;
                return;
            }

            if (root is null)
            {
                throw Error("root node not present", path);
            }

            // Like mkcomposefs: repeated slashes are skipped; the text after the last slash
            // is the name (so a trailing slash means an empty, invalid name).
            var parent = root;
            ReadOnlySpan<byte> p = pathBytes;
            while (true)
            {
                int i = 0;
                while (i < p.Length && p[i] == '/')
                {
                    i++;
                }

                p = p[i..];
                int slash = p.IndexOf((byte)'/');
                if (slash < 0)
                {
                    break;
                }

                parent = parent.GetChild(p[..slash]) ?? throw Error("parent directory missing", path);
                p = p[slash..];
            }

            if (!parent.IsDirectory)
            {
                throw Error("parent must be a directory", path);
            }

            if (p.SequenceEqual("."u8) || p.SequenceEqual(".."u8))
            {
                throw Error("invalid . or .. in path", path);
            }

            if (p.IsEmpty)
            {
                throw Error("empty file name", path);
            }

            if (parent.GetChild(p) is not null)
            {
                throw Error("path already exists", path);
            }

            try
            {
                parent.AddChild(p, node);
            }
            catch (ComposefsException e)
            {
                throw Error(e.Reason, path);
            }
        }

        private ComposefsNode? LookupPath(ReadOnlySpan<byte> p)
        {
            var n = root!;
            foreach (var part in p.Split((byte)'/'))
            {
                if (part.Start.Equals(part.End))
                {
                    continue;
                }

                var c = n.GetChild(p[part]);
                if (c is null)
                {
                    return null;
                }

                n = c;
            }

            return n;
        }

        private byte[] ParseDigest(byte[] hex, string path)
        {
            if (hex.Length != 2 * FsVerityHasher.DigestSize)
            {
                throw Error($"digest must be {2 * FsVerityHasher.DigestSize} hex digits", path);
            }

            var raw = new byte[FsVerityHasher.DigestSize];
            for (int i = 0; i < raw.Length; i++)
            {
                int h = HexDigit(hex[2 * i]);
                int l = HexDigit(hex[(2 * i) + 1]);
                if (h < 0 || l < 0)
                {
                    throw Error("digest is not hexadecimal", path);
                }

                raw[i] = (byte)((h << 4) | l);
            }

            return raw;
        }

        private ulong ParseInt(ReadOnlySpan<byte> s, int radix) =>
            TryParseUInt64(s, radix, out var v) ? v : throw Error($"invalid integer {Show(s)}");

        private byte[] Unescape(ReadOnlySpan<byte> s, string what) =>
            UnescapeCore(s, out var err) ?? throw Error($"{what}: {err}");

        private byte[]? UnescapeOptional(ReadOnlySpan<byte> s, string what) =>
            s.Length == 1 && s[0] == '-' ? null : Unescape(s, what);

        private ComposefsDumpfileException Error(string message, string? path = null) => new(line, message, path);
    }

    private sealed class LineWriter(Stream output, ComposefsNode root)
    {
        private readonly ArrayBufferWriter<byte> buf = new(1 << 16);

        public void WriteNode(ComposefsNode node, ReadOnlySpan<byte> path)
        {
            var target = node.HardLinkTarget;
            var meta = target is null ? node : node.ResolveHardLink();
            AppendEscaped(buf, path, Escape.Standard);
            var s = string.Create(
                CultureInfo.InvariantCulture,
                $" {meta.Size} {(target is null ? string.Empty : "@")}{Convert.ToString(meta.Mode, 8)} {meta.Nlink} {meta.Uid} {meta.Gid} {meta.Rdev} {meta.MtimeSeconds}.{meta.MtimeNanoseconds} ");
            Ascii(s);
            if (target is not null)
            {
                AppendEscaped(buf, PathBelowRoot(target), Escape.EscapeLoneDash);
            }
            else if (meta.Payload is { } payload)
            {
                AppendEscaped(buf, payload, Escape.EscapeLoneDash);
            }
            else
            {
                buf.Write("-"u8);
            }

            buf.Write(" "u8);
            if (meta.Content is { } content)
            {
                AppendEscaped(buf, content, Escape.EscapeLoneDash);
            }
            else
            {
                buf.Write("-"u8);
            }

            buf.Write(" "u8);
            if (meta.FsVerityDigest is { } digest)
            {
                Ascii(Convert.ToHexStringLower(digest));
            }
            else
            {
                buf.Write("-"u8);
            }

            foreach (var x in meta.Xattrs)
            {
                buf.Write(" "u8);
                AppendEscaped(buf, x.Name, Escape.EscapeEqual);
                buf.Write("="u8);
                AppendEscaped(buf, x.Value, Escape.EscapeEqual);
            }

            buf.Write("\n"u8);
            if (buf.WrittenCount > 1 << 16)
            {
                Flush();
            }
        }

        public void Flush()
        {
            output.Write(buf.WrittenSpan);
            buf.ResetWrittenCount();
        }

        // The path of a hard link target relative to the dumped root, as "/a/b".
        private byte[] PathBelowRoot(ComposefsNode target)
        {
            var parts = new List<byte[]>();
            var n = target;
            while (!ReferenceEquals(n, root) && n.Parent is not null)
            {
                parts.Add(n.Name!);
                n = n.Parent;
            }

            var res = new List<byte>();
            for (int i = parts.Count - 1; i >= 0; i--)
            {
                res.Add((byte)'/');
                res.AddRange(parts[i]);
            }

            return [.. res];
        }

        private void Ascii(string s)
        {
            var span = buf.GetSpan(s.Length);
            int n = Encoding.ASCII.GetBytes(s, span);
            buf.Advance(n);
        }
    }
}
