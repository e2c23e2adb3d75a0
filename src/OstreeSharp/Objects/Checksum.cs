// SHA-256 object ids (spec: ostree-repo-format.md, sections 2 and 4).
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace OstreeSharp.Objects;

/// <summary>A SHA-256 object id: 32 raw bytes, written as 64 lowercase hex characters.</summary>
public readonly struct Checksum : IEquatable<Checksum>, IComparable<Checksum>
{
    private readonly ulong _a, _b, _c, _d;

    /// <summary>Creates a checksum from 32 raw bytes.</summary>
    public Checksum(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != 32)
        {
            throw new OstreeFormatException($"checksum has {raw.Length} bytes, expected 32");
        }

        _a = BinaryPrimitives.ReadUInt64BigEndian(raw);
        _b = BinaryPrimitives.ReadUInt64BigEndian(raw[8..]);
        _c = BinaryPrimitives.ReadUInt64BigEndian(raw[16..]);
        _d = BinaryPrimitives.ReadUInt64BigEndian(raw[24..]);
    }

    /// <summary>The 32 raw bytes.</summary>
    public byte[] ToBytes()
    {
        var b = new byte[32];
        WriteTo(b);
        return b;
    }

    /// <summary>Writes the 32 raw bytes to <paramref name="dest"/>.</summary>
    public void WriteTo(Span<byte> dest)
    {
        BinaryPrimitives.WriteUInt64BigEndian(dest, _a);
        BinaryPrimitives.WriteUInt64BigEndian(dest[8..], _b);
        BinaryPrimitives.WriteUInt64BigEndian(dest[16..], _c);
        BinaryPrimitives.WriteUInt64BigEndian(dest[24..], _d);
    }

    /// <summary>The lowercase hex form.</summary>
    public string ToHex()
    {
        Span<byte> b = stackalloc byte[32];
        WriteTo(b);
        return Convert.ToHexStringLower(b);
    }

    /// <summary>Parses 64 hex characters.</summary>
    /// <exception cref="OstreeFormatException">Not a valid checksum string.</exception>
    public static Checksum Parse(string hex)
    {
        if (!TryParse(hex, out var c))
        {
            throw new OstreeFormatException($"invalid checksum '{hex}'");
        }

        return c;
    }

    /// <summary>Tries to parse 64 lowercase or uppercase hex characters.</summary>
    public static bool TryParse([NotNullWhen(true)] string? hex, out Checksum checksum)
    {
        checksum = default;
        if (hex is null || hex.Length != 64)
        {
            return false;
        }

        Span<byte> b = stackalloc byte[32];
        if (Convert.FromHexString(hex, b, out _, out int written) != System.Buffers.OperationStatus.Done || written != 32)
        {
            return false;
        }

        checksum = new Checksum(b);
        return true;
    }

    /// <summary>True for a 64-character lowercase hex string.</summary>
    public static bool IsValidHex(string s) => s.Length == 64 && s.All(ch => ch is (>= '0' and <= '9') or (>= 'a' and <= 'f'));

    /// <summary>SHA-256 of <paramref name="data"/>.</summary>
    public static Checksum Compute(ReadOnlySpan<byte> data)
    {
        Span<byte> h = stackalloc byte[32];
        SHA256.HashData(data, h);
        return new Checksum(h);
    }

    /// <summary>Creates a checksum from a finished hash.</summary>
    public static Checksum FromHash(IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        Span<byte> h = stackalloc byte[32];
        hash.GetHashAndReset(h);
        return new Checksum(h);
    }

    /// <inheritdoc />
    public bool Equals(Checksum other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Checksum c && Equals(c);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_a, _d);

    /// <inheritdoc />
    public int CompareTo(Checksum other)
    {
        int r = _a.CompareTo(other._a);
        if (r == 0) r = _b.CompareTo(other._b);
        if (r == 0) r = _c.CompareTo(other._c);
        if (r == 0) r = _d.CompareTo(other._d);
        return r;
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(Checksum left, Checksum right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Checksum left, Checksum right) => !left.Equals(right);

    /// <summary>Ordering.</summary>
    public static bool operator <(Checksum left, Checksum right) => left.CompareTo(right) < 0;

    /// <summary>Ordering.</summary>
    public static bool operator >(Checksum left, Checksum right) => left.CompareTo(right) > 0;

    /// <summary>Ordering.</summary>
    public static bool operator <=(Checksum left, Checksum right) => left.CompareTo(right) <= 0;

    /// <summary>Ordering.</summary>
    public static bool operator >=(Checksum left, Checksum right) => left.CompareTo(right) >= 0;

    /// <inheritdoc />
    public override string ToString() => ToHex();
}
