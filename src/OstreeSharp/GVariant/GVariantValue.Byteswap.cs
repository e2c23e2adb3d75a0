using System.Buffers.Binary;

namespace OstreeSharp.GVariant;

public sealed partial class GVariantValue
{
    /// <summary>
    /// The value with every number's byte order reversed (g_variant_byteswap): ostree prints raw
    /// metadata this way on little-endian machines, so big-endian fields read naturally.
    /// </summary>
    public GVariantValue Byteswap() => Type.Kind switch
    {
        'n' or 'q' => FromNumberBits(Type, BinaryPrimitives.ReverseEndianness((ushort)_number)),
        'i' or 'u' or 'h' => FromNumberBits(Type, BinaryPrimitives.ReverseEndianness((uint)_number)),
        'x' or 't' or 'd' => FromNumberBits(Type, BinaryPrimitives.ReverseEndianness(_number)),
        'v' => FromVariant(GetVariant().Byteswap()),
        'm' => FromMaybe(Type.Element!, GetMaybe()?.Byteswap()),
        'a' when Type.Element!.Kind is 'y' or 'b' or 's' or 'o' or 'g' => this,
        'a' => FromArray(Type.Element!, GetChildren().Select(c => c.Byteswap())),
        '(' => FromTuple([.. GetChildren().Select(c => c.Byteswap())]),
        '{' => FromDictEntry(this[0].Byteswap(), this[1].Byteswap()),
        _ => this,
    };
}
