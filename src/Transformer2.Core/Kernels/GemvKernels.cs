using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Transformer2.Core.Kernels;

/// <summary>
/// Single-threaded matrix-vector products over raw row-major memory, for one slice of the output at a time.
/// </summary>
/// <remarks>
/// Batch-1 decode reads every weight once per token, so these loops are written to stream memory: 512-bit vectors
/// where the hardware has them (AVX-512), 256-bit otherwise (AVX2 / NEON pairs), a scalar loop for the tails.
/// BF16 weights are widened to F32 in registers (a BF16 value is the top half of an F32), and every product
/// accumulates in F32. Callers split the output range across threads (see <see cref="DecodeGemv"/>).
/// </remarks>
internal static unsafe class GemvKernels
{
    /// <summary>y[r] = Σ_c w[r, c]·x[c] for r in [<paramref name="rowStart"/>, <paramref name="rowEnd"/>); w is F32 [rows, cols].</summary>
    public static void RowsF32(float* w, float* x, float* y, long cols, int rowStart, int rowEnd)
    {
        for (int r = rowStart; r < rowEnd; r++) y[r] = DotF32(w + r * cols, x, cols);
    }

    /// <summary>y[r] = Σ_c w[r, c]·x[c] for r in [<paramref name="rowStart"/>, <paramref name="rowEnd"/>); w is BF16 [rows, cols].</summary>
    /// <remarks>
    /// With AVX-512 the rows are read as pairs of BF16 values in 32-bit lanes: the even value becomes an F32 by a left
    /// shift, the odd one by masking off the low half, so no shuffle is needed to widen (widening shuffles bound the
    /// plain loop on one port). x is reordered once per call to match: per 32 values, the even-indexed 16, then the odd 16.
    /// </remarks>
    public static void RowsBF16(ushort* w, float* x, float* y, long cols, int rowStart, int rowEnd)
    {
        if (!Vector512.IsHardwareAccelerated || cols < 32)
        {
            for (int r = rowStart; r < rowEnd; r++) y[r] = DotBF16(w + r * cols, x, cols);
            return;
        }
        long paired = cols / 32 * 32;
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent((int)paired);
        try
        {
            fixed (float* xp = buffer)
            {
                for (long c = 0; c < paired; c += 32)
                    for (int j = 0; j < 16; j++)
                    {
                        xp[c + j] = x[c + 2 * j];
                        xp[c + 16 + j] = x[c + 2 * j + 1];
                    }
                for (int r = rowStart; r < rowEnd; r++)
                {
                    ushort* row = w + r * cols;
                    float sum = DotBF16Paired(row, xp, paired);
                    for (long i = paired; i < cols; i++) sum = MathF.FusedMultiplyAdd(BF16.ToSingle(row[i]), x[i], sum);
                    y[r] = sum;
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>Σ over <paramref name="n"/> (a multiple of 32) BF16 weights and the even/odd-reordered F32 input of <see cref="RowsBF16"/>.</summary>
    internal static float DotBF16Paired(ushort* w, float* xPaired, long n)
    {
        var highHalf = Vector512.Create(0xFFFF0000u);
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        long i = 0;
        for (; i + 64 <= n; i += 64)
        {
            var p0 = Vector512.Load((uint*)(w + i));
            var p1 = Vector512.Load((uint*)(w + i + 32));
            s0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(p0, 16).AsSingle(), Vector512.Load(xPaired + i), s0);
            s1 = Vector512.FusedMultiplyAdd((p0 & highHalf).AsSingle(), Vector512.Load(xPaired + i + 16), s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(p1, 16).AsSingle(), Vector512.Load(xPaired + i + 32), s2);
            s3 = Vector512.FusedMultiplyAdd((p1 & highHalf).AsSingle(), Vector512.Load(xPaired + i + 48), s3);
        }
        for (; i < n; i += 32)
        {
            var p0 = Vector512.Load((uint*)(w + i));
            s0 = Vector512.FusedMultiplyAdd(Vector512.ShiftLeft(p0, 16).AsSingle(), Vector512.Load(xPaired + i), s0);
            s1 = Vector512.FusedMultiplyAdd((p0 & highHalf).AsSingle(), Vector512.Load(xPaired + i + 16), s1);
        }
        return Vector512.Sum((s0 + s1) + (s2 + s3));
    }

    /// <summary>
    /// y[c] = Σ_r x[r]·a[r, c] for c in [<paramref name="colStart"/>, <paramref name="colEnd"/>); a is F32 [rows, cols].
    /// This is xᵀ·A without transposing A: rows of A are read in order, y stays in cache.
    /// </summary>
    public static void ColumnsF32(float* a, float* x, float* y, long rows, long cols, int colStart, int colEnd)
    {
        int width = colEnd - colStart;
        new Span<float>(y + colStart, width).Clear();
        for (long r = 0; r < rows; r++) AxpyF32(x[r], a + r * cols + colStart, y + colStart, width);
    }

    /// <summary>As <see cref="ColumnsF32"/> for a BF16 matrix.</summary>
    public static void ColumnsBF16(ushort* a, float* x, float* y, long rows, long cols, int colStart, int colEnd)
    {
        int width = colEnd - colStart;
        new Span<float>(y + colStart, width).Clear();
        for (long r = 0; r < rows; r++) AxpyBF16(x[r], a + r * cols + colStart, y + colStart, width);
    }

    /// <summary>Σ a[i]·b[i] over <paramref name="n"/> F32 values.</summary>
    public static float DotF32(float* a, float* b, long n)
    {
        long i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 64 <= n; i += 64)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 32), Vector512.Load(b + i + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 48), Vector512.Load(b + i + 48), s3);
            }
            for (; i + 16 <= n; i += 16) s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 32 <= n; i += 32)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
            }
            for (; i + 8 <= n; i += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(a[i], b[i], sum);
        return sum;
    }

    /// <summary>Σ w[i]·x[i] over <paramref name="n"/> values, w in BF16, x in F32.</summary>
    public static float DotBF16(ushort* w, float* x, long n)
    {
        long i = 0;
        float sum = 0f;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 64 <= n; i += 64)
            {
                var (w0, w1) = WidenBF16(Vector512.Load(w + i));
                var (w2, w3) = WidenBF16(Vector512.Load(w + i + 32));
                s0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + i), s0);
                s1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + i + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(x + i + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(x + i + 48), s3);
            }
            for (; i + 32 <= n; i += 32)
            {
                var (w0, w1) = WidenBF16(Vector512.Load(w + i));
                s0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(x + i), s0);
                s1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(x + i + 16), s1);
            }
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i + 32 <= n; i += 32)
            {
                var (w0, w1) = WidenBF16(Vector256.Load(w + i));
                var (w2, w3) = WidenBF16(Vector256.Load(w + i + 16));
                s0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x + i), s0);
                s1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x + i + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(w2, Vector256.Load(x + i + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(w3, Vector256.Load(x + i + 24), s3);
            }
            for (; i + 16 <= n; i += 16)
            {
                var (w0, w1) = WidenBF16(Vector256.Load(w + i));
                s0 = Vector256.FusedMultiplyAdd(w0, Vector256.Load(x + i), s0);
                s1 = Vector256.FusedMultiplyAdd(w1, Vector256.Load(x + i + 8), s1);
            }
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(BF16.ToSingle(w[i]), x[i], sum);
        return sum;
    }

    /// <summary>y[i] += alpha·a[i] over <paramref name="n"/> F32 values.</summary>
    static void AxpyF32(float alpha, float* a, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(va, Vector512.Load(a + i), Vector512.Load(y + i)).Store(y + i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(va, Vector256.Load(a + i), Vector256.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(alpha, a[i], y[i]);
    }

    /// <summary>y[i] += alpha·a[i] over <paramref name="n"/> values, a in BF16.</summary>
    static void AxpyBF16(float alpha, ushort* a, float* y, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var va = Vector512.Create(alpha);
            for (; i + 32 <= n; i += 32)
            {
                var (a0, a1) = WidenBF16(Vector512.Load(a + i));
                Vector512.FusedMultiplyAdd(va, a0, Vector512.Load(y + i)).Store(y + i);
                Vector512.FusedMultiplyAdd(va, a1, Vector512.Load(y + i + 16)).Store(y + i + 16);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(alpha);
            for (; i + 16 <= n; i += 16)
            {
                var (a0, a1) = WidenBF16(Vector256.Load(a + i));
                Vector256.FusedMultiplyAdd(va, a0, Vector256.Load(y + i)).Store(y + i);
                Vector256.FusedMultiplyAdd(va, a1, Vector256.Load(y + i + 8)).Store(y + i + 8);
            }
        }
        for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(alpha, BF16.ToSingle(a[i]), y[i]);
    }

    /// <summary>32 BF16 values → two vectors of 16 F32 (lanes 0–15, 16–31): each widened to 32 bits and shifted up.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector512<float> Lower, Vector512<float> Upper) WidenBF16(Vector512<ushort> packed)
    {
        var (lower, upper) = Vector512.Widen(packed);
        return (Vector512.ShiftLeft(lower, 16).AsSingle(), Vector512.ShiftLeft(upper, 16).AsSingle());
    }

    /// <summary>16 BF16 values → two vectors of 8 F32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static (Vector256<float> Lower, Vector256<float> Upper) WidenBF16(Vector256<ushort> packed)
    {
        var (lower, upper) = Vector256.Widen(packed);
        return (Vector256.ShiftLeft(lower, 16).AsSingle(), Vector256.ShiftLeft(upper, 16).AsSingle());
    }
}
