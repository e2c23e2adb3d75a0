namespace OstreeSharp.GVariant;

/// <summary>An append-only byte buffer used by the serializer.</summary>
internal sealed class GrowableBuffer(int capacity)
{
    private byte[] _data = new byte[Math.Max(16, capacity)];

    public int Length { get; private set; }

    public Span<byte> Extend(int count)
    {
        Ensure(count);
        var span = _data.AsSpan(Length, count);
        Length += count;
        return span;
    }

    public void WriteByte(byte b)
    {
        Ensure(1);
        _data[Length++] = b;
    }

    /// <summary>Pads with zeros so that the length, relative to <paramref name="start"/>, is a multiple of <paramref name="alignment"/>.</summary>
    public void PadTo(int start, int alignment)
    {
        int rel = Length - start;
        int pad = GVariantType.AlignUp(rel, alignment) - rel;
        if (pad > 0)
        {
            Extend(pad).Clear();
        }
    }

    public byte[] ToArray() => _data.AsSpan(0, Length).ToArray();

    public ReadOnlySpan<byte> WrittenSpan => _data.AsSpan(0, Length);

    private void Ensure(int count)
    {
        if (Length + count > _data.Length)
        {
            Array.Resize(ref _data, Math.Max(_data.Length * 2, Length + count));
        }
    }
}
