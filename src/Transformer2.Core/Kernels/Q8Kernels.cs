using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Transformer2.Core.Kernels;

/// <summary>
/// Single-threaded matrix-vector products over int8 weights in blocks of 32 with one F32 scale per block (the layout of
/// llama.cpp's Q8_0), for one slice of the output rows at a time.
/// </summary>
/// <remarks>
/// A row r of the weight is <c>q[r, b·32 + j]·scale[r, b]</c>. Each block's 32 int8 values are sign-extended to int32 and
/// converted to F32 in registers, multiplied by the F32 input, summed, and the block sum is scaled once: the same
/// function as the dequantized weight times x, up to F32 summation order. llama.cpp also rounds the input to int8 per
/// block before an integer dot product; this kernel keeps the input in F32, which costs more arithmetic per weight
/// but no accuracy. A weight costs 1 + 4/32 bytes instead of 4 (F32) or 2 (BF16).
/// </remarks>
internal static unsafe class Q8Kernels
{
    /// <summary>Values per block; every row length is a multiple of it.</summary>
    public const int BlockSize = 32;

    /// <summary>
    /// y[r] = Σ_b scale[r, b]·Σ_j q[r, b·32 + j]·x[b·32 + j] for r in [<paramref name="rowStart"/>, <paramref name="rowEnd"/>);
    /// q is int8 [rows, cols], scale F32 [rows, cols / 32].
    /// </summary>
    public static void Rows(sbyte* q, float* scale, float* x, float* y, long cols, int rowStart, int rowEnd)
    {
        long blocks = cols / BlockSize;
        for (int r = rowStart; r < rowEnd; r++) y[r] = Dot(q + r * cols, scale + r * blocks, x, blocks);
    }

    /// <summary>One row: Σ_b scale[b]·(q_b · x_b) over <paramref name="blocks"/> blocks.</summary>
    public static float Dot(sbyte* q, float* scale, float* x, long blocks)
    {
        if (Avx512F.IsSupported) return DotAvx512(q, scale, x, blocks);
        if (Avx2.IsSupported && Fma.IsSupported) return DotAvx2(q, scale, x, blocks);
        return DotScalar(q, scale, x, blocks, 0);
    }

    internal static float DotAvx512(sbyte* q, float* scale, float* x, long blocks)
    {
        // Two accumulators over alternate blocks keep two FMA chains in flight.
        Vector512<float> acc0 = default, acc1 = default;
        long b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            acc0 = Avx512F.FusedMultiplyAdd(Vector512.Create(scale[b]), Block512(q + b * BlockSize, x + b * BlockSize), acc0);
            acc1 = Avx512F.FusedMultiplyAdd(Vector512.Create(scale[b + 1]), Block512(q + (b + 1) * BlockSize, x + (b + 1) * BlockSize), acc1);
        }
        if (b < blocks) acc0 = Avx512F.FusedMultiplyAdd(Vector512.Create(scale[b]), Block512(q + b * BlockSize, x + b * BlockSize), acc0);
        return Vector512.Sum(acc0 + acc1);
    }

    /// <summary>16 lanes whose sum is q_b · x_b for one block of 32.</summary>
    static Vector512<float> Block512(sbyte* q, float* x)
    {
        var low = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q)));        // q[0..16) as F32
        var high = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + 16)));  // q[16..32)
        return Avx512F.FusedMultiplyAdd(high, Vector512.Load(x + 16), low * Vector512.Load(x));
    }

    internal static float DotAvx2(sbyte* q, float* scale, float* x, long blocks)
    {
        Vector256<float> acc0 = default, acc1 = default;
        for (long b = 0; b < blocks; b++)
        {
            sbyte* qb = q + b * BlockSize;
            float* xb = x + b * BlockSize;
            // vpmovsxbd from memory reads exactly 8 bytes, so the last block of a row never reads past it.
            var p0 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qb)) * Vector256.Load(xb);
            var p1 = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qb + 8)) * Vector256.Load(xb + 8);
            p0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qb + 16)), Vector256.Load(xb + 16), p0);
            p1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qb + 24)), Vector256.Load(xb + 24), p1);
            var s = Vector256.Create(scale[b]);
            acc0 = Fma.MultiplyAdd(s, p0, acc0);
            acc1 = Fma.MultiplyAdd(s, p1, acc1);
        }
        return Vector256.Sum(acc0 + acc1);
    }

    /// <summary>The portable loop, from block <paramref name="first"/> on (also what other CPUs run).</summary>
    internal static float DotScalar(sbyte* q, float* scale, float* x, long blocks, long first)
    {
        float sum = 0f;
        for (long b = first; b < blocks; b++)
        {
            float block = 0f;
            for (int j = 0; j < BlockSize; j++) block = MathF.FusedMultiplyAdd(q[b * BlockSize + j], x[b * BlockSize + j], block);
            sum = MathF.FusedMultiplyAdd(scale[b], block, sum);
        }
        return sum;
    }
}
