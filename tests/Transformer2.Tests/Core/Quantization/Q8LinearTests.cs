using System.Runtime.Intrinsics.X86;
using TorchSharp;
using TorchSharp.Modules;
using Transformer2.Core.Kernels;
using Transformer2.Core.Quantization;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Quantization;

/// <summary>int8 weights in llama.cpp's Q8_0 layout: the quantizer, the batch-1 kernel and the module.</summary>
public unsafe class Q8LinearTests
{
    static Tensor Random(int seed, ScalarType dtype, params long[] shape) =>
        randn(shape, generator: new Generator((ulong)seed)).to(dtype);

    static double MaxAbs(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    /// <summary>llama.cpp's <c>quantize_row_q8_0_ref</c> written out per value, as the reference.</summary>
    static (sbyte[] Q, float[] D) ReferenceQ8(float[] row)
    {
        int blocks = row.Length / 32;
        var q = new sbyte[row.Length];
        var d = new float[blocks];
        for (int b = 0; b < blocks; b++)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = MathF.Max(amax, MathF.Abs(row[b * 32 + j]));
            float scale = amax / 127;
            float inverse = scale != 0 ? 1.0f / scale : 0.0f;
            d[b] = (float)(Half)scale;
            for (int j = 0; j < 32; j++) q[b * 32 + j] = (sbyte)MathF.Round(row[b * 32 + j] * inverse, MidpointRounding.AwayFromZero);
        }
        return (q, d);
    }

    [TestCase(1, 32)]
    [TestCase(3, 64)]
    [TestCase(17, 96)]
    public void QuantizeEqualsLlamaCppsReferenceBitForBit(int rows, int cols)
    {
        using var scope = NewDisposeScope();
        var w = Random(1, ScalarType.Float32, rows, cols) * 3;
        // Corner cases: an all-zero block (d = 0), exact halves after scaling, and a block whose largest value is negative.
        w[0, TensorIndex.Slice(0, 32)] = zeros(32);
        if (rows > 1)
        {
            w[1, TensorIndex.Slice(0, 32)] = arange(32, ScalarType.Float32) - 15.5f;
            w[1, 0] = tensor(-127f);
        }
        var (q, d) = Q8Linear.Quantize(w);
        var (chunkedQ, chunkedD) = Q8Linear.Quantize(w, chunkElements: 2 * cols);   // two rows at a time: the bounded-memory path
        Assert.That(chunkedQ.eq(q).all().item<bool>() && chunkedD.eq(d).all().item<bool>(), Is.True, "chunked = whole");
        Assert.That(q.dtype, Is.EqualTo(ScalarType.Int8));
        Assert.That(q.shape, Is.EqualTo(new long[] { rows, cols }));
        Assert.That(d.shape, Is.EqualTo(new long[] { rows, cols / 32 }));
        for (int r = 0; r < rows; r++)
        {
            var (expectedQ, expectedD) = ReferenceQ8(w[r].data<float>().ToArray());
            Assert.That(q[r].data<sbyte>().ToArray(), Is.EqualTo(expectedQ), $"row {r} values");
            Assert.That(d[r].data<float>().ToArray(), Is.EqualTo(expectedD), $"row {r} scales");
        }
    }

    [Test]
    public void RoundingIsCsRoundfEvenWhereAddingAHalfWouldRoundUp()
    {
        using var scope = NewDisposeScope();
        float[] values = [0.49999997f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, -0.49999997f, 126.5f];
        var rounded = Q8Linear.RoundHalfAway(tensor(values)).data<float>().ToArray();
        Assert.That(rounded, Is.EqualTo(values.Select(v => MathF.Round(v, MidpointRounding.AwayFromZero)).ToArray()));
        Assert.That(rounded[0], Is.EqualTo(0f), "floor(0.49999997 + 0.5) would give 1");
    }

    [Test]
    public void GradientsPassStraightThroughTheInputRounding()
    {
        using var scope = NewDisposeScope();
        var w = Random(12, ScalarType.Float32, 16, 64);
        using var layer = new Q8Linear("w", w, null);
        var x = Random(13, ScalarType.Float32, 3, 64).requires_grad_();
        layer.call(x).sum().backward();
        // d(Σ y)/dx = Σ_rows of the dequantized weight, for every input row.
        var expected = layer.Dequantize().sum(dim: 0).expand(3, 64);   // (sum(0) would read 0 as ScalarType.Byte)
        Assert.That(MaxAbs(x.grad!, expected), Is.LessThanOrEqualTo(1e-5));
    }

    [Test]
    public void DequantizedWeightIsWithinHalfAStepOfTheOriginal()
    {
        using var scope = NewDisposeScope();
        var w = Random(2, ScalarType.Float32, 40, 128);
        using var layer = new Q8Linear("w", w, null);
        var restored = layer.Dequantize();
        var step = layer.Scales.repeat_interleave(32, 1);   // [out, in]: each value's block scale
        // |w − q·d| ≤ d/2, plus what rounding d to F16 moves the largest value (127·|d − d16| ≤ 127·d·2⁻¹¹).
        var bound = step * (0.5 + 127.0 / 2048) + 1e-7;
        Assert.That((restored - w).abs().le(bound).all().item<bool>(), Is.True);
        Assert.That(layer.WeightBytes, Is.EqualTo(40 * 128 + 40 * 4 * 4));
    }

    static readonly object[] KernelShapes =
    {
        new object[] { 1, 32, 1 },
        new object[] { 7, 64, 2 },
        new object[] { 33, 96, 3 },
        new object[] { 300, 1024, 2 },
        new object[] { 257, 2816, 7 },
    };

    [TestCaseSource(nameof(KernelShapes))]
    public void KernelMatchesTheDequantizedProduct(int outFeatures, int inFeatures, int parts)
    {
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var scope = NewDisposeScope();
            var w = Random(3, ScalarType.Float32, outFeatures, inFeatures);
            var bias = Random(4, dtype, outFeatures);
            var x = Random(5, dtype, 1, 1, inFeatures);
            using var layer = new Q8Linear("w", w, bias);
            // The kernel rounds x to int8 per block as llama.cpp does; the reference applies the same rounding in F64.
            var expected = nn.functional.linear(Q8Linear.RoundInput(x).to(ScalarType.Float64), layer.Dequantize(ScalarType.Float64), bias.to(ScalarType.Float64));

            var actual = DecodeGemv.Q8(x, layer.Quantized, layer.Scales, bias, parts);

            Assert.That(actual.shape, Is.EqualTo(new long[] { 1, 1, outFeatures }));
            Assert.That(actual.dtype, Is.EqualTo(dtype));
            double tolerance = dtype == ScalarType.BFloat16 ? 2e-2 * Math.Sqrt(inFeatures) : 2e-6 * Math.Sqrt(inFeatures);
            Assert.That(MaxAbs(actual, expected), Is.LessThanOrEqualTo(tolerance), $"{dtype}");
        }
    }

    [Test]
    public void EveryInstructionSetPathGivesTheSameIntegerDot()
    {
        using var scope = NewDisposeScope();
        const int blocks = 37;   // odd: the AVX-512 loop's single-block tail runs
        var w = Random(6, ScalarType.Float32, 1, blocks * 32);
        var x = Random(7, ScalarType.Float32, blocks * 32).contiguous();
        using var layer = new Q8Linear("w", w, null);
        var q = layer.Quantized.contiguous();
        var d = layer.Scales.contiguous();
        var xq = empty(blocks * 32, ScalarType.Int8);
        var xd = empty(blocks, ScalarType.Float32);
        double expected = layer.Dequantize(ScalarType.Float64).matmul(Q8Linear.RoundInput(x).to(ScalarType.Float64)).item<double>();
        fixed (byte* qp = q.bytes, dp = d.bytes, xp = x.bytes, xqp = xq.bytes, xdp = xd.bytes)
        {
            Q8Kernels.QuantizeInput((float*)xp, (sbyte*)xqp, (float*)xdp, blocks);
            Assert.That(MaxAbs(xq.to(ScalarType.Float32).view(blocks, 32) * xd.unsqueeze(1), Q8Linear.RoundInput(x).view(blocks, 32)), Is.LessThanOrEqualTo(1e-6),
                "the kernel's input rounding = the multi-row path's");
            var results = new List<(string Path, float Value)> { ("scalar", Q8Kernels.DotInt8Scalar((sbyte*)qp, (float*)dp, (sbyte*)xqp, (float*)xdp, blocks, 0)) };
            if (Avx2.IsSupported && Fma.IsSupported) results.Add(("avx2", Q8Kernels.DotInt8Avx2((sbyte*)qp, (float*)dp, (sbyte*)xqp, (float*)xdp, blocks, 0)));
            if (Avx512BW.IsSupported) results.Add(("avx512", Q8Kernels.DotInt8Avx512((sbyte*)qp, (float*)dp, (sbyte*)xqp, (float*)xdp, blocks)));
            foreach (var (path, value) in results) Assert.That(value, Is.EqualTo(expected).Within(1e-4 * Math.Sqrt(blocks * 32)), path);
        }
    }

    [Test]
    public void ForwardUsesTheKernelForOneRowAndTheDequantizedWeightOtherwise()
    {
        using var scope = NewDisposeScope();
        var w = Random(8, ScalarType.Float32, 48, 64);
        var bias = Random(9, ScalarType.Float32, 48);
        using var layer = new Q8Linear("model.layers.0.mlp.up_proj.weight", w, bias);
        using var noGrad = no_grad();

        var batch = Random(10, ScalarType.Float32, 2, 5, 64);
        var reference = nn.functional.linear(Q8Linear.RoundInput(batch), layer.Dequantize(), bias);
        Assert.That(MaxAbs(layer.call(batch), reference), Is.LessThanOrEqualTo(1e-5), "several rows: rounded input, dequantized weight");

        long before = DecodeGemv.ProductsComputed;
        var one = batch[0, 0].view(1, 1, 64);
        var single = layer.call(one);
        Assert.That(DecodeGemv.ProductsComputed, Is.GreaterThan(before), "one row: the int8 kernel");
        Assert.That(MaxAbs(single, reference[0, 0].view(1, 1, 48)), Is.LessThanOrEqualTo(1e-4));
        // Each weight moved by at most 0.56 of its block's step and each input by at most half of its own: the output by
        // at most Σ|x|·0.56·step_w + Σ|w|·0.5·step_x (plus the product of both, negligible).
        var xStep = (one.abs().view(2, 32).amax(new long[] { 1 }) / 127).repeat_interleave(32).view(1, 64);
        var bound = one.abs().view(1, 64).matmul(layer.Scales.repeat_interleave(32, 1).t()) * 0.56 + (xStep * 0.51).matmul(w.abs().t());
        Assert.That((single.view(1, 48) - nn.functional.linear(one, w, bias).view(1, 48)).abs().le(bound).all().item<bool>(), Is.True, "within the rounding bound of the unquantized layer");
        Assert.That(layer.parameters().All(p => !p.requires_grad), Is.True, "frozen");
        Assert.That(layer.state_dict().Keys, Is.EquivalentTo(new[] { "bias" }), "the int8 buffers are not checkpoint tensors");
    }

    [Test]
    public void BadWeightsAreRefusedWithTheirName()
    {
        using var scope = NewDisposeScope();
        Assert.That(() => new Q8Linear("model.layers.3.mlp.down_proj.weight", zeros(4, 40), null),
            Throws.ArgumentException.With.Message.Contains("model.layers.3.mlp.down_proj.weight").And.Message.Contains("40"));
        Assert.That(() => new Q8Linear("w", zeros(4, 32, 2), null), Throws.ArgumentException.With.Message.Contains("2-D"));
        Assert.That(() => new Q8Linear("w", zeros(new long[] { 4, 32 }, ScalarType.Int32), null), Throws.ArgumentException.With.Message.Contains("floating"));
        Assert.That(() => new Q8Linear("w", zeros(4, 32), zeros(5)), Throws.ArgumentException.With.Message.Contains("bias"));
    }

    [Test]
    public void QuantizeLinearsReplacesOnlySelectedPlainLinears()
    {
        using var scope = NewDisposeScope();
        var config = Transformer2.Tests.Models.TinyModels.Llama();
        using var model = Transformer2.Tests.Models.TinyModels.Create(config);
        Assert.That(WeightQuantizer.IsQuantized(model, out _), Is.False);
        var replaced = WeightQuantizer.QuantizeLinears(model, name => name.EndsWith("q_proj.weight", StringComparison.Ordinal));
        Assert.That(replaced.Keys, Is.EquivalentTo(Enumerable.Range(0, config.NumHiddenLayers).Select(i => $"model.layers.{i}.self_attn.q_proj.weight")));
        Assert.That(model.model.layers[0].self_attn.q_proj, Is.InstanceOf<Q8Linear>());
        Assert.That(model.model.layers[0].self_attn.k_proj, Is.InstanceOf<Linear>());
        Assert.That(WeightQuantizer.IsQuantized(model, out var first), Is.True);
        Assert.That(first, Does.EndWith("q_proj.weight"));
        Assert.That(WeightQuantizer.QuantizeLinears(model, name => name.EndsWith("q_proj.weight", StringComparison.Ordinal)), Is.Empty, "already int8: nothing to do");
        using var odd = nn.Linear(40, 8);
        Assert.That(WeightQuantizer.QuantizeLinears(odd), Is.Empty, "40 inputs: not a multiple of 32, left as it is");
        using var bare = nn.Linear(64, 8);
        Assert.That(WeightQuantizer.QuantizeLinears(bare), Is.Empty, "a bare layer is the root: nothing holds it to swap");
    }
}
