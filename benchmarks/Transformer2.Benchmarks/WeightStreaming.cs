using System.Runtime.Intrinsics;
using Transformer2.Core.Kernels;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// A plain reduction over a weight's bytes on every core (the decode kernels' worker pool): the bandwidth ceiling a
/// batch-1 matrix-vector product over the same weight can approach.
/// </summary>
internal static unsafe class WeightStreaming
{
    /// <summary>
    /// Σ over a contiguous CPU tensor's memory: F32 as floats, any other dtype (BF16, int8) as raw 16-bit words, since
    /// only the bytes read matter.
    /// </summary>
    public static float Sum(Tensor weight)
    {
        bool f32 = weight.dtype == ScalarType.Float32;
        long count = f32 ? weight.NumberOfElements : weight.NumberOfElements * weight.ElementSize / 2;
        int parts = DecodeWorkerPool.Shared.Workers + 1;
        var partial = new float[parts];
        fixed (byte* p = weight.bytes)
        {
            nint start = (nint)p;
            DecodeWorkerPool.Shared.Run(parts, part =>
            {
                long from = count * part / parts / 64 * 64, to = part == parts - 1 ? count : count * (part + 1) / parts / 64 * 64;
                partial[part] = f32 ? SumSingle((float*)start + from, to - from) : SumUInt16((ushort*)start + from, to - from);
            });
        }
        return partial.Sum();
    }

    static float SumSingle(float* values, long n)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        long i = 0;
        for (; i + 64 <= n; i += 64)
        {
            s0 += Vector512.Load(values + i);
            s1 += Vector512.Load(values + i + 16);
            s2 += Vector512.Load(values + i + 32);
            s3 += Vector512.Load(values + i + 48);
        }
        float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += values[i];
        return sum;
    }

    static float SumUInt16(ushort* values, long n)
    {
        Vector512<ushort> s0 = default, s1 = default;
        long i = 0;
        for (; i + 64 <= n; i += 64)
        {
            s0 += Vector512.Load(values + i);
            s1 += Vector512.Load(values + i + 32);
        }
        float sum = Vector512.Sum(s0 ^ s1);
        for (; i < n; i++) sum += values[i];
        return sum;
    }
}
