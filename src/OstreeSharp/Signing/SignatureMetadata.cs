// Detached metadata edits as libostree makes them: through a GVariantDict, so the dictionary
// comes out in GLib hash-table order.
using OstreeSharp.GVariant;
using OstreeSharp.Internal;

namespace OstreeSharp.Signing;

/// <summary>Sets or removes one <c>aay</c> signature list in an <c>a{sv}</c>, keeping every other key.</summary>
internal static class SignatureMetadata
{
    /// <summary>
    /// <paramref name="detached"/> with <paramref name="key"/> set to <paramref name="values"/>
    /// (removed when empty), rebuilt in hash-table order as ostree does when it signs.
    /// </summary>
    public static GVariantValue WithArray(GVariantValue? detached, string key, IEnumerable<byte[]> values)
    {
        var list = values.ToList();
        var entries = new List<KeyValuePair<string, GVariantValue>>(detached?.GetVarDictEntries() ?? []);
        if (list.Count > 0)
        {
            entries.Add(new(key, GVariantValue.FromArray(GVariantType.ByteArray, list.Select(GVariantValue.FromBytes))));
        }
        else
        {
            entries.RemoveAll(e => e.Key == key);
        }

        return GVariantValue.FromVarDict(GHashTableOrder.Reorder(entries));
    }
}
