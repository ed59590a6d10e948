using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Core.Kernels;
using static TorchSharp.torch;

namespace Transformer2.Core.Quantization;

/// <summary>
/// A frozen <c>Linear</c> whose weight is stored as int8 in blocks of 32 input values with one scale per block: the
/// layout and rounding of llama.cpp's Q8_0, at 1.125 bytes per weight instead of 4 (F32) or 2 (BF16).
/// </summary>
/// <remarks>
/// <para>
/// Quantization, per block of 32 weights w: d = max|w| / 127, q = round(w / d) (halves away from zero, as C's
/// <c>roundf</c>), and d is kept rounded to F16 as Q8_0 stores it, so the dequantized weight q·d equals what llama.cpp
/// computes from the same F32 weights.
/// </para>
/// <para>
/// Batch-1 calls (token-by-token decoding on the CPU) run <see cref="DecodeGemv.TryQ8"/>, which reads the int8 values
/// directly and, like llama.cpp, rounds the input to int8 per block of 32 so that each block is an integer dot product;
/// every other call applies the same input rounding, dequantizes the weight to the input's dtype for that call and runs
/// libtorch's <c>linear</c>, at the cost of one dequantization per call. In F32 that is the function decoding computes,
/// up to summation order; in BF16 the dequantized weight and rounded input are also rounded to BF16. Gradients pass
/// straight through the input rounding (the weights stay frozen), so adapters in earlier layers can train. The layer has no
/// trainable parameters and its quantized buffers are not in the state dict: a model holding it cannot be saved as a
/// checkpoint (save the model before quantizing).
/// </para>
/// </remarks>
public sealed class Q8Linear : nn.Module<Tensor, Tensor>
{
    /// <summary>Input values per scale.</summary>
    public const int BlockSize = Q8Kernels.BlockSize;

#pragma warning disable IDE1006 // Field names equal buffer names: TorchSharp's to(device) swaps buffers by name.
    Tensor weight_q;       // int8 [out, in]
    Tensor weight_scale;   // F32 [out, in / 32]
#pragma warning restore IDE1006

    /// <summary>The bias [out] in the working dtype, if the replaced layer had one.</summary>
    public Parameter? bias;

    /// <summary>Quantizes <paramref name="weight"/> [out, in]; the weight itself is not kept (its owner may free it).</summary>
    /// <param name="name">The weight's full name, used in error messages (e.g. <c>model.layers.0.mlp.up_proj.weight</c>).</param>
    /// <param name="weight">[out, in], F32, F16 or BF16, with in a multiple of 32.</param>
    /// <param name="bias">[out] or null; kept as is.</param>
    /// <exception cref="ArgumentException">The weight is not 2-D floating point, its rows are not a multiple of 32 long, or the bias does not fit.</exception>
    public Q8Linear(string name, Tensor weight, Tensor? bias) : base(nameof(Q8Linear))
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.ndim != 2 || !weight.is_floating_point())
            throw new ArgumentException($"{name}: an int8 weight needs a 2-D floating-point weight, got {weight.dtype} [{string.Join(", ", weight.shape)}].", nameof(weight));
        if (weight.shape[1] % BlockSize != 0)
            throw new ArgumentException($"{name}: {weight.shape[1]} input features is not a multiple of the int8 block size {BlockSize}.", nameof(weight));
        if (bias is not null && (bias.ndim != 1 || bias.shape[0] != weight.shape[0]))
            throw new ArgumentException($"{name}: bias shape [{string.Join(", ", bias.shape)}] does not match {weight.shape[0]} outputs.", nameof(bias));
        Name = name;
        DType = weight.dtype;
        (weight_q, weight_scale) = Quantize(weight);
        weight_q = weight_q.DetachFromDisposeScope();
        weight_scale = weight_scale.DetachFromDisposeScope();
        this.bias = bias is null ? null : (Parameter)new Parameter(bias.detach(), requires_grad: false).DetachFromDisposeScope();
        register_buffer(nameof(weight_q), weight_q, persistent: false);
        register_buffer(nameof(weight_scale), weight_scale, persistent: false);
        if (this.bias is not null) register_parameter(nameof(bias), this.bias);
    }

    /// <summary>The quantized weight's full name.</summary>
    public string Name { get; }

    /// <summary>The dtype of the weight this layer replaced; the output of a multi-row call is computed in the input's dtype.</summary>
    public ScalarType DType { get; }

    /// <summary>Output features.</summary>
    public long OutFeatures => weight_q.shape[0];

    /// <summary>Input features.</summary>
    public long InFeatures => weight_q.shape[1];

    /// <summary>The int8 values [out, in].</summary>
    public Tensor Quantized => weight_q;

    /// <summary>The F32 scales [out, in / 32] (values representable in F16).</summary>
    public Tensor Scales => weight_scale;

    /// <summary>Bytes the weight takes: one per value plus four per block.</summary>
    public long WeightBytes => weight_q.NumberOfElements + weight_scale.NumberOfElements * sizeof(float);

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (weight_q.dtype != ScalarType.Int8)
            throw new InvalidOperationException(
                $"{Name}: the int8 weight was converted to {weight_q.dtype} (by Module.to(dtype)?); convert the model's dtype before quantizing it.");
        if (DecodeGemv.TryQ8(input, weight_q, weight_scale, bias, out var decoded)) return decoded;
        using var scope = NewDisposeScope();
        var weight = Dequantize(input.dtype);                      // [out, in]
        var rounded = RoundInput(input);
        // Rounding has no useful gradient: pass the input's gradient straight through it, so adapters before this layer still train.
        if (input.requires_grad && is_grad_enabled()) rounded = input + (rounded - input).detach();
        return nn.functional.linear(rounded, weight, bias?.to(input.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The input [..., in] rounded to int8 per block of 32 and scaled back (the rounding the batch-1 kernel applies), so a
    /// full pass and token-by-token decoding compute the same function.
    /// </summary>
    internal static Tensor RoundInput(Tensor input)
    {
        using var scope = NewDisposeScope();
        var shape = input.shape;
        long blocks = shape[^1] / BlockSize;
        var (q, d) = RoundBlocks(input.to(ScalarType.Float32).reshape(-1, blocks, BlockSize));   // [rows, blocks, 32], [rows, blocks, 1]
        return (q * d).view(shape).to(input.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The Q8_0 rule on blocks [..., 32] (F32): d = max|v|/127 per block [..., 1] and q = roundf(v/d) (0 where d = 0),
    /// q still in F32. Weights and decode inputs are rounded by it alike.
    /// </summary>
    static (Tensor Values, Tensor Scale) RoundBlocks(Tensor blocks)
    {
        using var scope = NewDisposeScope();
        var d = blocks.abs().amax(new long[] { -1 }, keepdim: true) / 127f;
        var q = RoundHalfAway(blocks * where(d.ne(0), d.reciprocal(), zeros_like(d)));
        return (q.MoveToOuterDisposeScope(), d.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// C's <c>roundf</c>: to nearest, halves away from zero. Not libtorch's round (halves to even), nor floor(|v| + 0.5),
    /// which rounds 0.49999997 up because the sum rounds to 1.
    /// </summary>
    internal static Tensor RoundHalfAway(Tensor values)
    {
        using var scope = NewDisposeScope();
        var whole = values.trunc();
        var up = (values - whole).abs().ge(0.5f).to(values.dtype) * values.sign();   // v − trunc(v) is exact in F32
        return (whole + up).MoveToOuterDisposeScope();
    }

    /// <summary>The weight q·d [out, in] in <paramref name="dtype"/> (by default the replaced weight's dtype).</summary>
    public Tensor Dequantize(ScalarType? dtype = null)
    {
        using var scope = NewDisposeScope();
        long rows = OutFeatures, blocks = InFeatures / BlockSize;
        var values = weight_q.to(ScalarType.Float32).view(rows, blocks, BlockSize) * weight_scale.unsqueeze(-1);  // [out, blocks, 32]
        return values.view(rows, InFeatures).to(dtype ?? DType).MoveToOuterDisposeScope();
    }

    /// <summary>Rows quantized at a time: bounds the F32 temporaries (≈ 4 × 64 MB) for any matrix size.</summary>
    const long ChunkElements = 1L << 24;

    /// <summary>Q8_0 of <paramref name="weight"/> [out, in]: int8 values [out, in] and F16-representable F32 scales [out, in / 32].</summary>
    internal static (Tensor Quantized, Tensor Scales) Quantize(Tensor weight, long chunkElements = ChunkElements)
    {
        using var noGrad = no_grad();
        long rows = weight.shape[0], cols = weight.shape[1], blocks = cols / BlockSize;
        var quantized = empty(new long[] { rows, cols }, ScalarType.Int8, weight.device);
        var scales = empty(new long[] { rows, blocks }, ScalarType.Float32, weight.device);
        long chunk = Math.Max(1, chunkElements / cols);
        for (long start = 0; start < rows; start += chunk)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(chunk, rows - start);
            var (q, d) = RoundBlocks(weight.detach().narrow(0, start, count).to(ScalarType.Float32).reshape(count, blocks, BlockSize));
            quantized.narrow(0, start, count).copy_(q.clamp(-127, 127).to(ScalarType.Int8).view(count, cols));
            scales.narrow(0, start, count).copy_(d.view(count, blocks).to(ScalarType.Float16).to(ScalarType.Float32));   // Q8_0 keeps d in F16
        }
        return (quantized, scales);
    }
}
