// GLib's GHashTable iteration order, needed where libostree builds a{sv} metadata through a
// GVariantDict (e.g. `commit --bootable`): the order is part of the commit bytes.
using System.Text;
using OstreeSharp.GVariant;

namespace OstreeSharp.Internal;

/// <summary>Orders dictionary entries as a GLib 2.74 GHashTable with <c>g_str_hash</c> would iterate them.</summary>
internal static class GHashTableOrder
{
    private static readonly int[] PrimeMod =
    [
        1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
        262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
        268435399, 536870909, 1073741789, 2147483647,
    ];

    /// <summary>GLib's <c>g_str_hash</c> (djb2 over signed chars).</summary>
    public static uint StrHash(string s)
    {
        uint h = 5381;
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            h = unchecked((h << 5) + h + (uint)(sbyte)b);
        }

        return h;
    }

    /// <summary>Inserts the entries in order (later duplicates replace values) and returns them in iteration order.</summary>
    public static List<KeyValuePair<string, GVariantValue>> Reorder(IEnumerable<KeyValuePair<string, GVariantValue>> entries)
    {
        var values = new Dictionary<string, GVariantValue>(StringComparer.Ordinal);
        var keys = new List<string>();
        foreach (var (key, value) in entries)
        {
            if (values.TryAdd(key, value))
            {
                keys.Add(key);
            }

            values[key] = value;
        }

        return Order(keys, StrHash, StringComparer.Ordinal).Select(k => new KeyValuePair<string, GVariantValue>(k, values[k])).ToList();
    }

    /// <summary>
    /// The order in which a GHashTable iterates <paramref name="keys"/> inserted in this order (a later duplicate is
    /// not inserted again), given the table's hash function.
    /// </summary>
    public static List<T> Order<T>(IEnumerable<T> keys, Func<T, uint> hash, IEqualityComparer<T> comparer)
        where T : notnull
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(hash);
        int shift = 3;
        var table = new (bool Used, T Key)[1 << shift];
        var seen = new HashSet<T>(comparer);
        foreach (var key in keys)
        {
            if (!seen.Add(key))
            {
                continue;
            }

            Insert(table, shift, key, hash);
            int count = seen.Count;
            int size = table.Length;
            if ((size > count * 4 && shift > 3) || size <= count + (count / 16))
            {
                int n = count * 2, ns = 0;
                while (n != 0)
                {
                    n >>= 1;
                    ns++;
                }

                shift = Math.Max(ns, 3);
                var old = table.Where(k => k.Used).Select(k => k.Key).ToArray();
                table = new (bool, T)[1 << shift];
                foreach (var k in old)
                {
                    Insert(table, shift, k, hash);
                }
            }
        }

        return table.Where(k => k.Used).Select(k => k.Key).ToList();
    }

    private static void Insert<T>((bool Used, T Key)[] table, int shift, T key, Func<T, uint> hash)
    {
        uint h = hash(key);
        if (h <= 1)
        {
            h = 2;
        }

        int mask = table.Length - 1;
        int idx = (int)(unchecked(h * 11u) % (uint)PrimeMod[shift]);
        int step = 0;
        while (table[idx].Used)
        {
            step++;
            idx = (idx + step) & mask;
        }

        table[idx] = (true, key);
    }
}
