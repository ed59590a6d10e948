using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Transformer2.Core.Kernels;

/// <summary>
/// Single-threaded matrix-vector products over int8 weights in blocks of 32 with one F32 scale per block (the layout of
/// llama.cpp's Q8_0), for one slice of the output rows at a time.
/// </summary>
/// <remarks>
/// A row r of the weight is <c>q[r, b·32 + j]·scale[r, b]</c>. As in llama.cpp (not bit for bit), the input is rounded
/// to int8 per block of 32 too (<see cref="QuantizeInput"/>), so each block is an exact integer dot product — with AVX-512BW, |w|·(x with
/// w's sign) by <c>vpmaddubsw</c> and pairs summed by <c>vpmaddwd</c>, two instructions per 64 values and no widening
/// shuffles — scaled once in F32. A weight costs 1 + 4/32 bytes instead of 4 (F32) or 2 (BF16). An earlier version kept
/// the input in F32 and widened every int8 weight to F32 in registers: 1.2–1.8× slower per product (single thread).
/// </remarks>
internal static unsafe class Q8Kernels
{
    /// <summary>Values per block; every row length is a multiple of it.</summary>
    public const int BlockSize = 32;

    /// <summary>
    /// Rounds <paramref name="x"/> [blocks·32] to int8 per block of 32 by llama.cpp's reference Q8_0 rule (d = max|x|/127,
    /// q = roundf(x/d)), into <paramref name="q"/> and <paramref name="scale"/> (F32, not rounded to F16 as llama.cpp's
    /// product uses it; its AVX path also rounds ties to even), so the result is close to llama.cpp's, not identical.
    /// </summary>
    public static void QuantizeInput(float* x, sbyte* q, float* scale, long blocks)
    {
        for (long b = 0; b < blocks; b++)
        {
            float* xb = x + b * BlockSize;
            float amax = 0f;
            for (int j = 0; j < BlockSize; j++) amax = MathF.Max(amax, MathF.Abs(xb[j]));
            float d = amax / 127f, inverse = d != 0f ? 1f / d : 0f;
            scale[b] = d;
            for (int j = 0; j < BlockSize; j++) q[b * BlockSize + j] = (sbyte)MathF.Round(xb[j] * inverse, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>
    /// y[r] = Σ_b scale[r, b]·xScale[b]·(q[r, b] · xq[b]) with an int8 input (see <see cref="QuantizeInput"/>): integer
    /// products summed exactly in 32 bits per block, one F32 multiply-add per block.
    /// </summary>
    public static void RowsQuantizedInput(sbyte* q, float* scale, sbyte* xq, float* xScale, float* y, long cols, int rowStart, int rowEnd)
    {
        long blocks = cols / BlockSize;
        for (int r = rowStart; r < rowEnd; r++)
        {
            sbyte* row = q + r * cols;
            float* rowScale = scale + r * blocks;
            y[r] = Avx512BW.IsSupported ? DotInt8Avx512(row, rowScale, xq, xScale, blocks)
                : Avx2.IsSupported && Fma.IsSupported ? DotInt8Avx2(row, rowScale, xq, xScale, blocks, 0)
                : DotInt8Scalar(row, rowScale, xq, xScale, blocks, 0);
        }
    }

    internal static float DotInt8Avx512(sbyte* q, float* scale, sbyte* xq, float* xScale, long blocks)
    {
        var ones = Vector512.Create((short)1);
        Vector512<float> acc = default;
        long b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            var w = Vector512.Load(q + b * BlockSize);                           // two blocks of 32 int8
            var x = Vector512.Load(xq + b * BlockSize);
            // u8·s8 products: |w| times x with w's sign moved onto x (no value is −128, so |w| fits a byte)
            var negative = Vector512.LessThan(w, Vector512<sbyte>.Zero);
            var signed = (x ^ negative) - negative;
            var pairs = Avx512BW.MultiplyAddAdjacent(Avx512BW.Abs(w), signed);   // 32 × s16: sums of 2 products (|·| ≤ 32258)
            var quads = Avx512BW.MultiplyAddAdjacent(pairs, ones);              // 16 × s32: lanes 0–7 block b, 8–15 block b+1
            var scales = Vector512.Create(Vector256.Create(scale[b] * xScale[b]), Vector256.Create(scale[b + 1] * xScale[b + 1]));
            acc = Avx512F.FusedMultiplyAdd(Avx512F.ConvertToVector512Single(quads), scales, acc);
        }
        float sum = Vector512.Sum(acc);
        if (b < blocks) sum += Avx2.IsSupported && Fma.IsSupported ? DotInt8Avx2(q, scale, xq, xScale, blocks, b) : DotInt8Scalar(q, scale, xq, xScale, blocks, b);
        return sum;
    }

    internal static float DotInt8Avx2(sbyte* q, float* scale, sbyte* xq, float* xScale, long blocks, long first)
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> acc = default;
        for (long b = first; b < blocks; b++)
        {
            var w = Vector256.Load(q + b * BlockSize);
            var x = Vector256.Load(xq + b * BlockSize);
            var pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(w), Avx2.Sign(x, w));   // vpsignb: x·sign(w)
            var quads = Avx2.MultiplyAddAdjacent(pairs, ones);
            acc = Fma.MultiplyAdd(Avx.ConvertToVector256Single(quads), Vector256.Create(scale[b] * xScale[b]), acc);
        }
        return Vector256.Sum(acc);
    }

    internal static float DotInt8Scalar(sbyte* q, float* scale, sbyte* xq, float* xScale, long blocks, long first)
    {
        float sum = 0f;
        for (long b = first; b < blocks; b++)
        {
            int block = 0;
            for (int j = 0; j < BlockSize; j++) block += q[b * BlockSize + j] * xq[b * BlockSize + j];
            sum = MathF.FusedMultiplyAdd(scale[b] * xScale[b], block, sum);
        }
        return sum;
    }
}
