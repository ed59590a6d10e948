namespace Transformer2.Core.Kernels;

/// <summary>Scalar conversions between BF16 bit patterns and F32.</summary>
/// <remarks>BF16 is the upper 16 bits of an IEEE F32; narrowing rounds to nearest, ties to even, as libtorch does.</remarks>
internal static class BF16
{
    /// <summary>The F32 value of a BF16 bit pattern (exact).</summary>
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>The BF16 bit pattern nearest to <paramref name="value"/> (ties to even; NaN stays a quiet NaN).</summary>
    public static ushort FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
