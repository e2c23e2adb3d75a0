// An immutable GVariant value tree (spec: ostree-repo-format.md, section 1).
using System.Text;

namespace OstreeSharp.GVariant;

/// <summary>
/// One GVariant value of a known type. Basic numbers, strings, byte arrays (<c>ay</c>),
/// variants, maybes, arrays, tuples and dict entries are supported.
/// </summary>
public sealed partial class GVariantValue
{
    private readonly ulong _number;
    private readonly object? _payload;

    private GVariantValue(GVariantType type, ulong number, object? payload)
    {
        Type = type;
        _number = number;
        _payload = payload;
    }

    /// <summary>The value's type.</summary>
    public GVariantType Type { get; }

    /// <summary>A boolean (<c>b</c>).</summary>
    public static GVariantValue FromBoolean(bool value) => new(GVariantType.Boolean, value ? 1UL : 0UL, null);

    /// <summary>A byte (<c>y</c>).</summary>
    public static GVariantValue FromByte(byte value) => new(GVariantType.Byte, value, null);

    /// <summary>A 16-bit signed integer (<c>n</c>).</summary>
    public static GVariantValue FromInt16(short value) => new(GVariantType.Parse("n"), unchecked((ulong)value), null);

    /// <summary>A 16-bit unsigned integer (<c>q</c>).</summary>
    public static GVariantValue FromUInt16(ushort value) => new(GVariantType.Parse("q"), value, null);

    /// <summary>A 32-bit signed integer (<c>i</c>).</summary>
    public static GVariantValue FromInt32(int value) => new(GVariantType.Parse("i"), unchecked((ulong)value), null);

    /// <summary>A 32-bit unsigned integer (<c>u</c>), stored little-endian.</summary>
    public static GVariantValue FromUInt32(uint value) => new(GVariantType.UInt32, value, null);

    /// <summary>A 64-bit signed integer (<c>x</c>).</summary>
    public static GVariantValue FromInt64(long value) => new(GVariantType.Parse("x"), unchecked((ulong)value), null);

    /// <summary>A 64-bit unsigned integer (<c>t</c>), stored little-endian.</summary>
    public static GVariantValue FromUInt64(ulong value) => new(GVariantType.UInt64, value, null);

    /// <summary>A double (<c>d</c>).</summary>
    public static GVariantValue FromDouble(double value) => new(GVariantType.Parse("d"), BitConverter.DoubleToUInt64Bits(value), null);

    /// <summary>A handle (<c>h</c>).</summary>
    public static GVariantValue FromHandle(int value) => new(GVariantType.Parse("h"), unchecked((ulong)value), null);

    /// <summary>A number of any fixed-size basic type from its raw (sign-extended) bits.</summary>
    public static GVariantValue FromNumberBits(GVariantType type, ulong bits)
    {
        if (!type.IsFixedSize || type.Kind is '(' or '{')
        {
            throw new ArgumentException($"'{type}' is not a basic fixed-size type", nameof(type));
        }

        return new GVariantValue(type, bits, null);
    }

    /// <summary>A string (<c>s</c>, <c>o</c> or <c>g</c>).</summary>
    public static GVariantValue FromString(string value, char kind = 's')
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("GVariant strings cannot contain NUL", nameof(value));
        }

        return new GVariantValue(kind == 's' ? GVariantType.String : GVariantType.Parse(kind.ToString()), 0, value);
    }

    /// <summary>A byte array (<c>ay</c>); the array is not copied.</summary>
    public static GVariantValue FromBytes(byte[] value) => new(GVariantType.ByteArray, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>A GLib bytestring: the UTF-8 bytes of <paramref name="value"/> plus a NUL, as <c>ay</c>.</summary>
    public static GVariantValue FromByteString(string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return FromBytes(bytes);
    }

    /// <summary>A variant (<c>v</c>) boxing <paramref name="inner"/>.</summary>
    public static GVariantValue FromVariant(GVariantValue inner) => new(GVariantType.Variant, 0, inner ?? throw new ArgumentNullException(nameof(inner)));

    /// <summary>A maybe value; <paramref name="inner"/> null means Nothing.</summary>
    public static GVariantValue FromMaybe(GVariantType elementType, GVariantValue? inner) =>
        new(GVariantType.Parse("m" + elementType.Text), 0, inner);

    /// <summary>An array of <paramref name="elementType"/>.</summary>
    public static GVariantValue FromArray(GVariantType elementType, IEnumerable<GVariantValue> items)
    {
        var arr = items.ToArray();
        if (elementType.Kind == 'y')
        {
            return FromBytes(arr.Select(i => i.GetByte()).ToArray());
        }

        foreach (var i in arr)
        {
            if (!ReferenceEquals(i.Type, elementType))
            {
                throw new ArgumentException($"array element of type '{i.Type}' in an array of '{elementType}'", nameof(items));
            }
        }

        return new GVariantValue(GVariantType.Parse("a" + elementType.Text), 0, arr);
    }

    /// <summary>A tuple of the given members.</summary>
    public static GVariantValue FromTuple(params GVariantValue[] members)
    {
        var text = new StringBuilder("(");
        foreach (var m in members)
        {
            text.Append(m.Type.Text);
        }

        text.Append(')');
        return new GVariantValue(GVariantType.Parse(text.ToString()), 0, members.ToArray());
    }

    /// <summary>A dict entry.</summary>
    public static GVariantValue FromDictEntry(GVariantValue key, GVariantValue value) =>
        new(GVariantType.Parse("{" + key.Type.Text + value.Type.Text + "}"), 0, new[] { key, value });

    /// <summary>An <c>a{sv}</c> dictionary with entries in the given order.</summary>
    public static GVariantValue FromVarDict(IEnumerable<KeyValuePair<string, GVariantValue>> entries) =>
        FromArray(
            GVariantType.Parse("{sv}"),
            entries.Select(e => FromDictEntry(FromString(e.Key), FromVariant(e.Value))));

    /// <summary>An <c>as</c> array.</summary>
    public static GVariantValue FromStringArray(IEnumerable<string> values) =>
        FromArray(GVariantType.String, values.Select(v => FromString(v)));

    internal static GVariantValue Raw(GVariantType type, ulong number, object? payload) => new(type, number, payload);

    /// <summary>The boolean value.</summary>
    public bool GetBoolean() => Expect('b')._number != 0;

    /// <summary>The byte value.</summary>
    public byte GetByte() => (byte)Expect('y')._number;

    /// <summary>The uint32 value.</summary>
    public uint GetUInt32() => (uint)Expect('u')._number;

    /// <summary>The int32 value.</summary>
    public int GetInt32() => unchecked((int)Expect('i')._number);

    /// <summary>The uint64 value.</summary>
    public ulong GetUInt64() => Expect('t')._number;

    /// <summary>The int64 value.</summary>
    public long GetInt64() => unchecked((long)Expect('x')._number);

    /// <summary>The raw bits of any fixed-size basic value (sign-extended for signed types).</summary>
    public ulong NumberBits => _number;

    /// <summary>The string value (<c>s</c>, <c>o</c>, <c>g</c>).</summary>
    public string GetString() => Type.Kind is 's' or 'o' or 'g'
        ? (string)_payload!
        : throw new GVariantFormatException($"GVariant of type '{Type}' is not a string", -1);

    /// <summary>The bytes of an <c>ay</c>.</summary>
    public byte[] GetBytes() => Type.Text == "ay"
        ? (byte[])_payload!
        : throw new GVariantFormatException($"GVariant of type '{Type}' is not a byte array", -1);

    /// <summary>The child of a variant.</summary>
    public GVariantValue GetVariant() => (GVariantValue)Expect('v')._payload!;

    /// <summary>The child of a maybe, or null for Nothing.</summary>
    public GVariantValue? GetMaybe() => (GVariantValue?)Expect('m')._payload;

    /// <summary>Elements of an array (other than <c>ay</c>) or members of a tuple or dict entry.</summary>
    public IReadOnlyList<GVariantValue> GetChildren()
    {
        if (Type.Text == "ay")
        {
            return ((byte[])_payload!).Select(FromByte).ToArray();
        }

        return Type.Kind is 'a' or '(' or '{'
            ? (GVariantValue[])_payload!
            : throw new GVariantFormatException($"GVariant of type '{Type}' has no children", -1);
    }

    /// <summary>Number of elements of an array, or members of a tuple.</summary>
    public int ChildCount => Type.Text == "ay" ? ((byte[])_payload!).Length : GetChildren().Count;

    /// <summary>Child i of an array, tuple or dict entry.</summary>
    public GVariantValue this[int index] => GetChildren()[index];

    /// <summary>Looks up key <paramref name="key"/> in an <c>a{sv}</c>; returns the unboxed value of the first match.</summary>
    public GVariantValue? Lookup(string key)
    {
        if (Type.Text != "a{sv}")
        {
            throw new GVariantFormatException($"GVariant of type '{Type}' is not a{{sv}}", -1);
        }

        foreach (var e in (GVariantValue[])_payload!)
        {
            var pair = (GVariantValue[])e._payload!;
            if (pair[0].GetString() == key)
            {
                return pair[1].GetVariant();
            }
        }

        return null;
    }

    /// <summary>Entries of an <c>a{sv}</c> in stored order (values unboxed).</summary>
    public IEnumerable<KeyValuePair<string, GVariantValue>> GetVarDictEntries()
    {
        if (Type.Text != "a{sv}")
        {
            throw new GVariantFormatException($"GVariant of type '{Type}' is not a{{sv}}", -1);
        }

        foreach (var e in (GVariantValue[])_payload!)
        {
            var pair = (GVariantValue[])e._payload!;
            yield return new(pair[0].GetString(), pair[1].GetVariant());
        }
    }

    /// <summary>Serializes to normal-form bytes.</summary>
    public byte[] ToBytes() => GVariantSerializer.Serialize(this);

    /// <summary>Parses <paramref name="data"/> as a value of <paramref name="type"/>, requiring normal form.</summary>
    public static GVariantValue Parse(GVariantType type, ReadOnlySpan<byte> data) => GVariantParser.Parse(type, data);

    /// <summary>Parses <paramref name="data"/> as <paramref name="typeString"/>, requiring normal form.</summary>
    public static GVariantValue Parse(string typeString, ReadOnlySpan<byte> data) => GVariantParser.Parse(GVariantType.Parse(typeString), data);

    internal object? Payload => _payload;

    private GVariantValue Expect(char kind) =>
        Type.Kind == kind ? this : throw new GVariantFormatException($"GVariant of type '{Type}' is not '{kind}'", -1);

    /// <summary>The GVariant text form, as <c>g_variant_print</c> gives it.</summary>
    public string Print(bool typeAnnotate = true) => GVariantPrinter.Print(this, typeAnnotate);

    /// <inheritdoc />
    public override string ToString() => Print();
}
