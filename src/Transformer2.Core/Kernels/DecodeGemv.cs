using System.Diagnostics.CodeAnalysis;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Transformer2.Core.Kernels;

/// <summary>
/// Batch-1 projections (y = x·Wᵀ + b with F32, BF16 or int8-block weights, and SVF's factored y = ((x·V)·s)·Uᵀ + b)
/// computed by managed SIMD kernels that stream the weights on every core, for token-by-token decoding on the CPU.
/// </summary>
/// <remarks>
/// libtorch's batch-1 <c>linear</c> runs on a single core (docs/benchmarks.md measures ~16 GB/s where a reduction over
/// the same bytes reaches ~46 GB/s on two), so a decode step is bound by one core's bandwidth. The kernels here read the
/// contiguous weight's memory directly, widen BF16 to F32 in registers, accumulate in F32, and split the output rows
/// over <see cref="DecodeWorkerPool.Shared"/>. They are used only where they compute the same function as libtorch:
/// CPU tensors, one input row (batch × sequence = 1), F32 or BF16 throughout, a contiguous weight, and no autograd graph
/// needed (grad mode off, or nothing requires a gradient); F32 unless <see cref="Float32Enabled"/> is cleared. Everything else returns false and the caller falls back to
/// libtorch. Results differ from libtorch only by summation order (F32 rounding; BF16 outputs are rounded once, to
/// nearest even, as libtorch rounds its F32 accumulator).
/// </remarks>
public static unsafe class DecodeGemv
{
    /// <summary>Weights smaller than this many elements are not worth a second thread.</summary>
    const long MinElementsPerPart = 1L << 15;

    /// <summary>Column slices for xᵀ·V stay whole 512-bit BF16 loads (32 values) so only the last slice has a tail.</summary>
    const int ColumnAlignment = 32;

    /// <summary>
    /// Whether the kernels are used at all (default true). Set false to run every projection through libtorch, for example
    /// to compare the two in a benchmark. Process-wide.
    /// </summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>
    /// Whether F32 products use the kernels too (default true). They lost to libtorch's F32 <c>linear</c> while libgomp's
    /// threads spun between operations; with <c>OMP_WAIT_POLICY=PASSIVE</c> set before libtorch loads (see
    /// <see cref="TorchRuntime"/>) the quiet-machine run of docs/benchmarks.md (issue 14, run 4) measured F32 decode at
    /// 40.1 ms/token with the kernels vs 70.3 ms with libtorch. Set false to compare, or if your process loads libtorch
    /// before Transformer2 and keeps libgomp spinning. Process-wide.
    /// </summary>
    public static bool Float32Enabled { get; set; } = true;

    static long _productsComputed;

    /// <summary>How many products the kernels have computed in this process; lets tests prove a path really used them.</summary>
    internal static long ProductsComputed => Interlocked.Read(ref _productsComputed);

    /// <summary>
    /// Runs <paramref name="module"/> on <paramref name="input"/>, through <see cref="TryLinear"/> when the module is a plain
    /// <see cref="Linear"/> and the call qualifies, otherwise through the module's own forward.
    /// </summary>
    /// <param name="module">The projection, typically a model's <c>q_proj</c>, <c>down_proj</c> or <c>lm_head</c>.</param>
    /// <param name="input">[..., in].</param>
    /// <returns>[..., out].</returns>
    public static Tensor Call(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (module is Linear linear && linear.weight is { } weight && TryLinear(input, weight, linear.bias, out var output)) return output;
        return module.call(input);
    }

    /// <summary>y = x·Wᵀ + b for a single input row, or false when the kernel does not apply (see the remarks).</summary>
    /// <param name="input">[..., in] with one row in all (e.g. [1, 1, in]).</param>
    /// <param name="weight">[out, in], contiguous, the input's dtype.</param>
    /// <param name="bias">[out] or null.</param>
    /// <param name="output">[..., out] in the input's dtype, owned by the caller's dispose scope.</param>
    public static bool TryLinear(Tensor input, Tensor weight, Tensor? bias, [NotNullWhen(true)] out Tensor? output)
    {
        output = null;
        if (weight.ndim != 2 || !InputApplies(input, weight.shape[1]) || !MatrixApplies(weight, input.dtype, weight.shape[0], weight.shape[1])
            || !BiasApplies(bias, weight.shape[0]) || !NeedsNoGraph(input, weight, bias)) return false;
        output = Linear(input, weight, bias, PartsFor(weight));
        return true;
    }

    /// <summary>
    /// SVF's factored product y = ((x·V) ⊙ scale)·Uᵀ + b for a single input row, or false when the kernel does not apply.
    /// </summary>
    /// <param name="input">[..., in] with one row in all.</param>
    /// <param name="v">V [in, k], contiguous, the input's dtype.</param>
    /// <param name="scale">The scaled singular values S ⊙ z [k], any floating dtype (used in F32).</param>
    /// <param name="u">U [out, k], contiguous, the input's dtype.</param>
    /// <param name="bias">[out] or null.</param>
    /// <param name="output">[..., out] in the input's dtype, owned by the caller's dispose scope.</param>
    public static bool TryFactored(Tensor input, Tensor v, Tensor scale, Tensor u, Tensor? bias, [NotNullWhen(true)] out Tensor? output)
    {
        output = null;
        if (v.ndim != 2 || u.ndim != 2 || !InputApplies(input, v.shape[0])) return false;
        long rank = v.shape[1], outFeatures = u.shape[0];
        if (!MatrixApplies(v, input.dtype, v.shape[0], rank) || !MatrixApplies(u, input.dtype, outFeatures, rank) || !BiasApplies(bias, outFeatures)) return false;
        if (scale.device_type != DeviceType.CPU || scale.ndim != 1 || scale.shape[0] != rank || !scale.is_floating_point()) return false;
        if (!NeedsNoGraph(input, v, scale, u, bias)) return false;
        output = Factored(input, v, scale, u, bias, Math.Max(PartsFor(v), PartsFor(u)));
        return true;
    }

    /// <summary>
    /// y = x·Wᵀ + b for a single input row where W is int8 in blocks of 32 with an F32 scale per block (see
    /// <see cref="Quantization.Q8Linear"/>), or false when the kernel does not apply. x is rounded to int8 per block of 32
    /// first, close to what llama.cpp's Q8_0 product does, so each block is an exact integer dot product (two multiply-add
    /// instructions per 64 values) and one F32 multiply-add.
    /// </summary>
    /// <param name="input">[..., in] with one row in all, F32 or BF16.</param>
    /// <param name="quantized">int8 [out, in], contiguous, in a multiple of 32.</param>
    /// <param name="scales">F32 [out, in / 32], contiguous.</param>
    /// <param name="bias">[out] or null.</param>
    /// <param name="output">[..., out] in the input's dtype, owned by the caller's dispose scope.</param>
    public static bool TryQ8(Tensor input, Tensor quantized, Tensor scales, Tensor? bias, [NotNullWhen(true)] out Tensor? output)
    {
        output = null;
        if (quantized.ndim != 2) return false;
        long rows = quantized.shape[0], cols = quantized.shape[1];
        // F32 inputs need no opt-in here: libtorch has no int8 product to fall back on.
        if (!InputApplies(input, cols, allowFloat32: true) || cols % Q8Kernels.BlockSize != 0) return false;
        if (!MatrixApplies(quantized, ScalarType.Int8, rows, cols) || !MatrixApplies(scales, ScalarType.Float32, rows, cols / Q8Kernels.BlockSize)
            || !BiasApplies(bias, rows) || !NeedsNoGraph(input, bias)) return false;
        output = Q8(input, quantized, scales, bias, PartsFor(quantized));
        return true;
    }

    /// <summary>The <see cref="TryQ8"/> product split into exactly <paramref name="parts"/> row ranges; no eligibility check.</summary>
    internal static Tensor Q8(Tensor input, Tensor quantized, Tensor scales, Tensor? bias, int parts)
    {
        using var scope = NewDisposeScope();
        Interlocked.Increment(ref _productsComputed);
        int rows = checked((int)quantized.shape[0]);
        long cols = quantized.shape[1];
        long blocks = cols / Q8Kernels.BlockSize;
        var x = input.to(ScalarType.Float32).contiguous();                  // [in]
        var xq = empty(cols, ScalarType.Int8);                              // [in]: x rounded to int8 per block, as llama.cpp does
        var xScale = empty(blocks, ScalarType.Float32);                     // [in / 32]
        var y = empty(rows, ScalarType.Float32);                            // [out]
        var b = bias?.to(ScalarType.Float32).contiguous();                  // [out]
        fixed (byte* qp = quantized.bytes, sp = scales.bytes, xp = x.bytes, xqp = xq.bytes, xsp = xScale.bytes, yp = y.bytes)
        fixed (byte* bp = b is null ? default : b.bytes)
        {
            Q8Kernels.QuantizeInput((float*)xp, (sbyte*)xqp, (float*)xsp, blocks);
            nint qs = (nint)qp, ss = (nint)sp, xqs = (nint)xqp, xss = (nint)xsp, ys = (nint)yp, bs = (nint)bp;
            DecodeWorkerPool.Shared.Run(parts, part =>
            {
                var (start, end) = Slice(rows, parts, part, alignment: 1);
                Q8Kernels.RowsQuantizedInput((sbyte*)qs, (float*)ss, (sbyte*)xqs, (float*)xss, (float*)ys, cols, start, end);
                if (bs != 0) AddBias((float*)ys, (float*)bs, start, end);
            });
        }
        return Finish(y, input).MoveToOuterDisposeScope();
    }

    /// <summary>The <see cref="TryLinear"/> product split into exactly <paramref name="parts"/> row ranges; no eligibility check.</summary>
    internal static Tensor Linear(Tensor input, Tensor weight, Tensor? bias, int parts)
    {
        using var scope = NewDisposeScope();
        Interlocked.Increment(ref _productsComputed);
        int rows = checked((int)weight.shape[0]);
        long cols = weight.shape[1];
        var x = input.to(ScalarType.Float32).contiguous();                  // [in]
        var y = empty(rows, ScalarType.Float32);                            // [out]
        var b = bias?.to(ScalarType.Float32).contiguous();                  // [out]
        bool bf16 = weight.dtype == ScalarType.BFloat16;
        fixed (byte* wp = weight.bytes, xp = x.bytes, yp = y.bytes)
        fixed (byte* bp = b is null ? default : b.bytes)
        {
            nint w = (nint)wp, xs = (nint)xp, ys = (nint)yp, bs = (nint)bp;
            DecodeWorkerPool.Shared.Run(parts, part =>
            {
                var (start, end) = Slice(rows, parts, part, alignment: 1);
                if (bf16) GemvKernels.RowsBF16((ushort*)w, (float*)xs, (float*)ys, cols, start, end);
                else GemvKernels.RowsF32((float*)w, (float*)xs, (float*)ys, cols, start, end);
                if (bs != 0) AddBias((float*)ys, (float*)bs, start, end);
            });
        }
        return Finish(y, input).MoveToOuterDisposeScope();
    }

    /// <summary>The <see cref="TryFactored"/> product with both phases split into <paramref name="parts"/>; no eligibility check.</summary>
    internal static Tensor Factored(Tensor input, Tensor v, Tensor scale, Tensor u, Tensor? bias, int parts)
    {
        using var scope = NewDisposeScope();
        Interlocked.Increment(ref _productsComputed);
        long inFeatures = v.shape[0];
        int rank = checked((int)v.shape[1]);
        int rows = checked((int)u.shape[0]);
        var x = input.to(ScalarType.Float32).contiguous();                  // [in]
        var s = scale.to(ScalarType.Float32).contiguous();                  // [k]
        var h = empty(rank, ScalarType.Float32);                            // [k]: x·V, then ⊙ s
        var y = empty(rows, ScalarType.Float32);                            // [out]
        var b = bias?.to(ScalarType.Float32).contiguous();                  // [out]
        bool bf16 = v.dtype == ScalarType.BFloat16;
        fixed (byte* vp = v.bytes, up = u.bytes, xp = x.bytes, sp = s.bytes, hp = h.bytes, yp = y.bytes)
        fixed (byte* bp = b is null ? default : b.bytes)
        {
            nint vs = (nint)vp, us = (nint)up, xs = (nint)xp, ss = (nint)sp, hs = (nint)hp, ys = (nint)yp, bs = (nint)bp;
            DecodeWorkerPool.Shared.Run(parts, part =>
            {
                var (start, end) = Slice(rank, parts, part, ColumnAlignment);
                if (bf16) GemvKernels.ColumnsBF16((ushort*)vs, (float*)xs, (float*)hs, inFeatures, rank, start, end);
                else GemvKernels.ColumnsF32((float*)vs, (float*)xs, (float*)hs, inFeatures, rank, start, end);
                float* hv = (float*)hs, sv = (float*)ss;
                for (int j = start; j < end; j++) hv[j] *= sv[j];
            });
            DecodeWorkerPool.Shared.Run(parts, part =>
            {
                var (start, end) = Slice(rows, parts, part, alignment: 1);
                if (bf16) GemvKernels.RowsBF16((ushort*)us, (float*)hs, (float*)ys, rank, start, end);
                else GemvKernels.RowsF32((float*)us, (float*)hs, (float*)ys, rank, start, end);
                if (bs != 0) AddBias((float*)ys, (float*)bs, start, end);
            });
        }
        return Finish(y, input).MoveToOuterDisposeScope();
    }

    /// <summary>How many parts a product over <paramref name="weight"/> is split into: one per available thread, fewer for small weights.</summary>
    static int PartsFor(Tensor weight)
    {
        long byElements = Math.Max(1, weight.NumberOfElements / MinElementsPerPart);
        return (int)Math.Min(DecodeWorkerPool.Shared.Workers + 1, byElements);
    }

    /// <summary>One CPU row of F32 or BF16 with <paramref name="inFeatures"/> values, kernels switched on.</summary>
    static bool InputApplies(Tensor input, long inFeatures, bool? allowFloat32 = null) =>
        Enabled && input.device_type == DeviceType.CPU && input.ndim >= 1 && input.shape[^1] == inFeatures && input.NumberOfElements == inFeatures
        && (input.dtype == ScalarType.BFloat16 || (input.dtype == ScalarType.Float32 && (allowFloat32 ?? Float32Enabled)));

    /// <summary>A contiguous CPU matrix [rows, cols] of <paramref name="dtype"/> that a span can cover (2 GiB at most).</summary>
    static bool MatrixApplies(Tensor matrix, ScalarType dtype, long rows, long cols) =>
        matrix.device_type == DeviceType.CPU && matrix.dtype == dtype && matrix.ndim == 2 && matrix.shape[0] == rows && matrix.shape[1] == cols
        && matrix.is_contiguous() && matrix.NumberOfElements * matrix.ElementSize <= int.MaxValue;

    static bool BiasApplies(Tensor? bias, long rows) =>
        bias is null || (bias.device_type == DeviceType.CPU && bias.ndim == 1 && bias.shape[0] == rows && bias.dtype is ScalarType.Float32 or ScalarType.BFloat16);

    /// <summary>True when the product needs no autograd graph: grad mode is off or no operand requires a gradient.</summary>
    static bool NeedsNoGraph(params Tensor?[] operands) => !is_grad_enabled() || operands.All(t => t is null || !t.requires_grad);

    /// <summary>Part <paramref name="part"/> of [0, <paramref name="count"/>) split into <paramref name="parts"/> near-equal slices whose bounds are multiples of <paramref name="alignment"/>.</summary>
    internal static (int Start, int End) Slice(int count, int parts, int part, int alignment)
    {
        long blocks = (count + alignment - 1) / alignment;
        int start = (int)Math.Min(count, blocks * part / parts * alignment);
        int end = (int)Math.Min(count, blocks * (part + 1) / parts * alignment);
        return (start, end);
    }

    static void AddBias(float* y, float* bias, int start, int end)
    {
        for (int r = start; r < end; r++) y[r] += bias[r];
    }

    /// <summary>The F32 result [out] shaped like the input ([..., out]) and in its dtype (BF16 rounded to nearest even by libtorch).</summary>
    static Tensor Finish(Tensor y, Tensor input)
    {
        var shape = input.shape;
        shape[^1] = y.shape[0];
        var shaped = y.view(shape);
        return input.dtype == ScalarType.Float32 ? shaped : shaped.to(input.dtype);
    }
}
