// Binary patches in the streaming bsdiff format libostree embeds (the "bsdiff" library of its submodule): no header
// and no compression of its own (the delta part around it is compressed); a sequence of entries, each a control
// triple of 8-byte sign-magnitude little-endian integers (add length, copy length, seek), then that many "add" bytes
// (summed byte-wise with the old file) and that many literal bytes. The diff is Percival's algorithm: exact matches
// found through a suffix array of the old file, extended forwards and backwards into approximate matches.
using System.Buffers;
using System.Buffers.Binary;

namespace OstreeSharp.Deltas;

/// <summary>Creates and applies bsdiff patches.</summary>
internal static class Bsdiff
{
    /// <summary>Writes a patch that turns <paramref name="oldData"/> into <paramref name="newData"/>.</summary>
    public static void Diff(ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> newData, IBufferWriter<byte> patch)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var sa = SuffixArray.Build(oldData);
        int oldSize = oldData.Length, newSize = newData.Length;
        int scan = 0, len = 0, pos = 0, lastScan = 0, lastPos = 0, lastOffset = 0;
        while (scan < newSize)
        {
            int oldScore = 0;
            scan += len;
            for (int scsc = scan; scan < newSize; scan++)
            {
                len = LongestMatch(sa, oldData, newData[scan..], out pos);
                for (; scsc < scan + len; scsc++)
                {
                    if (scsc + lastOffset < oldSize && oldData[scsc + lastOffset] == newData[scsc])
                    {
                        oldScore++;
                    }
                }

                if ((len == oldScore && len != 0) || len > oldScore + 8)
                {
                    break;
                }

                if (scan + lastOffset < oldSize && oldData[scan + lastOffset] == newData[scan])
                {
                    oldScore--;
                }
            }

            if (len == oldScore && scan != newSize)
            {
                continue;
            }

            // Extend the last match forwards, and this one backwards, as far as at least half the bytes agree.
            int forward = 0;
            for (int i = 0, same = 0, best = 0; lastScan + i < scan && lastPos + i < oldSize;)
            {
                if (oldData[lastPos + i] == newData[lastScan + i])
                {
                    same++;
                }

                i++;
                if ((same * 2) - i > (best * 2) - forward)
                {
                    best = same;
                    forward = i;
                }
            }

            int backward = 0;
            if (scan < newSize)
            {
                for (int i = 1, same = 0, best = 0; scan >= lastScan + i && pos >= i; i++)
                {
                    if (oldData[pos - i] == newData[scan - i])
                    {
                        same++;
                    }

                    if ((same * 2) - i > (best * 2) - backward)
                    {
                        best = same;
                        backward = i;
                    }
                }
            }

            // Where the two extensions overlap, split them at the point that keeps most agreeing bytes.
            if (lastScan + forward > scan - backward)
            {
                int overlap = lastScan + forward - (scan - backward);
                int score = 0, bestScore = 0, split = 0;
                for (int i = 0; i < overlap; i++)
                {
                    if (newData[lastScan + forward - overlap + i] == oldData[lastPos + forward - overlap + i])
                    {
                        score++;
                    }

                    if (newData[scan - backward + i] == oldData[pos - backward + i])
                    {
                        score--;
                    }

                    if (score > bestScore)
                    {
                        bestScore = score;
                        split = i + 1;
                    }
                }

                forward += split - overlap;
                backward -= split;
            }

            int literal = scan - backward - (lastScan + forward);
            long seek = (long)(pos - backward) - (lastPos + forward);
            var control = patch.GetSpan(24);
            WriteOffset(control, forward);
            WriteOffset(control[8..], literal);
            WriteOffset(control[16..], seek);
            patch.Advance(24);

            var add = patch.GetSpan(Math.Max(1, forward))[..forward];
            for (int i = 0; i < forward; i++)
            {
                add[i] = (byte)(newData[lastScan + i] - oldData[lastPos + i]);
            }

            patch.Advance(forward);
            patch.Write(newData.Slice(lastScan + forward, literal));

            lastScan = scan - backward;
            lastPos = pos - backward;
            lastOffset = pos - scan;
        }
    }

    /// <summary>Applies <paramref name="patch"/> to <paramref name="oldData"/>, producing exactly <paramref name="output"/>.Length bytes.</summary>
    /// <exception cref="OstreeFormatException">The patch is malformed or does not fill the output.</exception>
    public static void Patch(ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> patch, Span<byte> output)
    {
        long oldPos = 0;
        int newPos = 0, p = 0;
        while (newPos < output.Length)
        {
            if (patch.Length - p < 24)
            {
                throw new OstreeFormatException($"bsdiff patch ends after {p} bytes, {output.Length - newPos} bytes short of the output");
            }

            long add = ReadOffset(patch[p..]), literal = ReadOffset(patch[(p + 8)..]), seek = ReadOffset(patch[(p + 16)..]);
            p += 24;
            if (add < 0 || literal < 0 || add > output.Length - newPos || literal > output.Length - newPos - add
                || add + literal > patch.Length - p)
            {
                throw new OstreeFormatException($"bsdiff patch has an invalid control entry at byte {p - 24}");
            }

            var target = output.Slice(newPos, (int)add);
            patch.Slice(p, (int)add).CopyTo(target);
            p += (int)add;
            // Add the old bytes where the old file has them (the source may run past either end).
            long from = Math.Max(0, oldPos), to = Math.Min(oldData.Length, oldPos + add);
            for (long i = from; i < to; i++)
            {
                target[(int)(i - oldPos)] += oldData[(int)i];
            }

            newPos += (int)add;
            oldPos += add;
            patch.Slice(p, (int)literal).CopyTo(output.Slice(newPos, (int)literal));
            p += (int)literal;
            newPos += (int)literal;
            oldPos += seek;
        }
    }

    private static int LongestMatch(int[] sa, ReadOnlySpan<byte> oldData, ReadOnlySpan<byte> target, out int pos)
    {
        int lo = 0, hi = oldData.Length;
        while (hi - lo >= 2)
        {
            int mid = lo + ((hi - lo) / 2);
            var suffix = oldData[sa[mid]..];
            int n = Math.Min(suffix.Length, target.Length);
            if (suffix[..n].SequenceCompareTo(target[..n]) < 0)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        int a = oldData[sa[lo]..].CommonPrefixLength(target), b = oldData[sa[hi]..].CommonPrefixLength(target);
        pos = a > b ? sa[lo] : sa[hi];
        return Math.Max(a, b);
    }

    private static void WriteOffset(Span<byte> buffer, long value)
    {
        ulong magnitude = (ulong)Math.Abs(value);
        if (value < 0)
        {
            magnitude |= 1UL << 63;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(buffer, magnitude);
    }

    private static long ReadOffset(ReadOnlySpan<byte> buffer)
    {
        ulong raw = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        long magnitude = (long)(raw & ~(1UL << 63));
        return (raw >> 63) != 0 ? -magnitude : magnitude;
    }
}

/// <summary>Suffix arrays by prefix doubling with radix sorting: O(n log n) time, five integers of memory per byte.</summary>
internal static class SuffixArray
{
    /// <summary>The suffixes of <paramref name="s"/>, the empty one (at <c>s.Length</c>) first, in lexicographic order.</summary>
    public static int[] Build(ReadOnlySpan<byte> s)
    {
        int n = s.Length + 1;
        var sa = new int[n];
        var rank = new int[n];
        var next = new int[n];
        var order = new int[n];
        for (int i = 0; i < s.Length; i++)
        {
            rank[i] = s[i] + 1;
        }

        rank[n - 1] = 0;
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
        }

        int classes = 257;
        var count = new int[Math.Max(n, classes) + 1];
        CountingSort(order, rank, sa, count, classes);
        classes = Rerank(sa, rank, next, 0, n);
        (rank, next) = (next, rank);
        for (int h = 1; classes < n; h <<= 1)
        {
            // Order by the second key (the rank h bytes on), then stably by the first.
            int k = 0;
            for (int i = n - h; i < n; i++)
            {
                if (i >= 0)
                {
                    order[k++] = i;
                }
            }

            for (int i = 0; i < n; i++)
            {
                if (sa[i] >= h)
                {
                    order[k++] = sa[i] - h;
                }
            }

            CountingSort(order, rank, sa, count, classes);
            classes = Rerank(sa, rank, next, h, n);
            (rank, next) = (next, rank);
        }

        return sa;
    }

    private static void CountingSort(int[] order, int[] key, int[] output, int[] count, int classes)
    {
        Array.Clear(count, 0, classes + 1);
        foreach (var i in order)
        {
            count[key[i] + 1]++;
        }

        for (int c = 1; c <= classes; c++)
        {
            count[c] += count[c - 1];
        }

        foreach (var i in order)
        {
            output[count[key[i]]++] = i;
        }
    }

    private static int Rerank(int[] sa, int[] rank, int[] next, int h, int n)
    {
        int classes = 1;
        next[sa[0]] = 0;
        for (int i = 1; i < n; i++)
        {
            int a = sa[i - 1], b = sa[i];
            int sa2 = h > 0 && a + h < n ? rank[a + h] : -1, sb2 = h > 0 && b + h < n ? rank[b + h] : -1;
            if (rank[a] != rank[b] || sa2 != sb2)
            {
                classes++;
            }

            next[b] = classes - 1;
        }

        return classes;
    }
}
