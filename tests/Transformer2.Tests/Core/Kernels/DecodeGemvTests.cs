using TorchSharp;
using Transformer2.Core.Kernels;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Kernels;

public class DecodeGemvTests
{
    // Odd sizes exercise every loop: 64-wide unrolled bodies, 16/32-wide remainders and the scalar tails.
    static readonly object[] Shapes =
    {
        new object[] { 1, 1, 1 },
        new object[] { 7, 3, 1 },
        new object[] { 33, 17, 2 },
        new object[] { 64, 64, 2 },
        new object[] { 129, 95, 3 },
        new object[] { 300, 1000, 2 },
        new object[] { 257, 1031, 7 },
    };

    static Tensor Random(int seed, ScalarType dtype, params long[] shape) =>
        randn(shape, generator: new Generator((ulong)seed)).to(dtype);

    /// <summary>Tolerance for differing summation orders: relative to the size of the terms, looser for BF16 outputs.</summary>
    static double Tolerance(ScalarType dtype, long terms) => dtype == ScalarType.BFloat16 ? 2e-2 * Math.Sqrt(terms) : 2e-6 * Math.Sqrt(terms);

    static double MaxAbs(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    [TestCaseSource(nameof(Shapes))]
    public void LinearMatchesLibtorchF32(int outFeatures, int inFeatures, int parts) => LinearMatches(outFeatures, inFeatures, parts, ScalarType.Float32);

    [TestCaseSource(nameof(Shapes))]
    public void LinearMatchesLibtorchBF16(int outFeatures, int inFeatures, int parts) => LinearMatches(outFeatures, inFeatures, parts, ScalarType.BFloat16);

    static void LinearMatches(int outFeatures, int inFeatures, int parts, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var w = Random(1, dtype, outFeatures, inFeatures);
        var b = Random(2, dtype, outFeatures);
        var x = Random(3, dtype, 1, 1, inFeatures);
        // The reference: the same BF16 values, multiplied in F64.
        var expected = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64), b.to(ScalarType.Float64));

        var actual = DecodeGemv.Linear(x, w, b, parts);
        var withoutBias = DecodeGemv.Linear(x, w, null, parts);

        Assert.That(actual.shape, Is.EqualTo(new long[] { 1, 1, outFeatures }));
        Assert.That(actual.dtype, Is.EqualTo(dtype));
        Assert.That(MaxAbs(actual, expected), Is.LessThanOrEqualTo(Tolerance(dtype, inFeatures)));
        Assert.That(MaxAbs(withoutBias + b, expected), Is.LessThanOrEqualTo(2 * Tolerance(dtype, inFeatures)));
        Assert.That(MaxAbs(actual, nn.functional.linear(x, w, b)), Is.LessThanOrEqualTo(2 * Tolerance(dtype, inFeatures)), "vs libtorch in the working dtype");
    }

    [TestCase(5, 7, 3, 1, ScalarType.Float32)]
    [TestCase(40, 24, 24, 2, ScalarType.Float32)]
    [TestCase(100, 70, 65, 3, ScalarType.Float32)]
    [TestCase(1000, 300, 97, 2, ScalarType.Float32)]
    [TestCase(40, 24, 24, 2, ScalarType.BFloat16)]
    [TestCase(100, 70, 65, 3, ScalarType.BFloat16)]
    [TestCase(1000, 300, 97, 5, ScalarType.BFloat16)]
    public void FactoredMatchesLibtorch(int outFeatures, int inFeatures, int rank, int parts, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var u = Random(4, dtype, outFeatures, rank);
        var v = Random(5, dtype, inFeatures, rank);
        var scale = rand(new long[] { rank }, generator: new Generator(6));
        var b = Random(7, dtype, outFeatures);
        var x = Random(8, dtype, 1, inFeatures);
        var h = x.to(ScalarType.Float64).matmul(v.to(ScalarType.Float64)) * scale.to(ScalarType.Float64);
        var expected = h.matmul(u.to(ScalarType.Float64).t()) + b.to(ScalarType.Float64);

        var actual = DecodeGemv.Factored(x, v, scale, u, b, parts);

        Assert.That(actual.shape, Is.EqualTo(new long[] { 1, outFeatures }));
        Assert.That(actual.dtype, Is.EqualTo(dtype));
        Assert.That(MaxAbs(actual, expected), Is.LessThanOrEqualTo(Tolerance(dtype, inFeatures * rank)));
    }

    [Test]
    public void TryLinearTakesOnlySingleRowInferenceCalls()
    {
        using var scope = NewDisposeScope();
        var w = randn(8, 4);
        Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4), w, null, out var one), Is.True);
        Assert.That(one!.shape, Is.EqualTo(new long[] { 1, 1, 8 }));
        Assert.That(DecodeGemv.TryLinear(randn(1, 2, 4), w, null, out _), Is.False, "two tokens");
        Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4, dtype: ScalarType.Float64), w.to(ScalarType.Float64), null, out _), Is.False, "F64");
        Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4), randn(4, 8).t(), null, out _), Is.False, "non-contiguous weight");
        Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4, dtype: ScalarType.BFloat16), w, null, out _), Is.False, "mixed dtypes");
        Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4, requires_grad: true), w, null, out _), Is.False, "autograd needs the graph");
        using (no_grad())
            Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4, requires_grad: true), w, null, out _), Is.True, "no_grad");
    }

    [Test]
    public void CallFallsBackToTheModuleWhenDisabled()
    {
        using var scope = NewDisposeScope();
        var linear = nn.Linear(16, 9);
        var x = randn(1, 16);
        var expected = linear.call(x);
        using (no_grad())
        {
            Assert.That(MaxAbs(DecodeGemv.Call(linear, x), expected), Is.LessThan(1e-5));
            DecodeGemv.Enabled = false;
            try
            {
                Assert.That(DecodeGemv.TryLinear(x, linear.weight!, linear.bias, out _), Is.False);
                Assert.That(MaxAbs(DecodeGemv.Call(linear, x), expected), Is.EqualTo(0.0), "libtorch ran");
            }
            finally
            {
                DecodeGemv.Enabled = true;
            }
        }
    }

    [TestCase(10, 3, 1)]
    [TestCase(100, 7, 32)]
    [TestCase(65, 4, 32)]
    public void SlicesCoverTheRangeOnceWithAlignedBounds(int count, int parts, int alignment)
    {
        int next = 0;
        for (int part = 0; part < parts; part++)
        {
            var (start, end) = DecodeGemv.Slice(count, parts, part, alignment);
            Assert.That(start, Is.EqualTo(next));
            Assert.That(start % alignment == 0 || start == count, Is.True);
            next = end;
        }
        Assert.That(next, Is.EqualTo(count));
    }

    [Test]
    public void PoolRunsEveryPartOnceAndReportsFailures()
    {
        var pool = new DecodeWorkerPool(2);
        var hits = new int[11];
        pool.Run(hits.Length, part => Interlocked.Increment(ref hits[part]));
        Assert.That(hits, Is.All.EqualTo(1));
        var error = Assert.Throws<AggregateException>(() => pool.Run(3, part => { if (part == 1) throw new InvalidOperationException("part 1"); }));
        Assert.That(error!.InnerException, Is.InstanceOf<InvalidOperationException>());
        pool.Run(4, part => Interlocked.Increment(ref hits[part]));
        Assert.That(hits[..4], Is.All.EqualTo(2));
    }

    [TestCase(1.0f)]
    [TestCase(-3.1415927f)]
    [TestCase(1.00390625f)]   // exactly half way between two BF16 values: ties to even
    [TestCase(1.01171875f)]   // half way, rounds up to the even neighbour
    [TestCase(float.PositiveInfinity)]
    public void BF16RoundsLikeLibtorch(float value)
    {
        using var scope = NewDisposeScope();
        var expected = tensor(value).to(ScalarType.BFloat16).to(ScalarType.Float32).item<float>();
        Assert.That(BF16.ToSingle(BF16.FromSingle(value)), Is.EqualTo(expected));
    }

    [Test]
    public void Float32CanBeSentBackToLibtorch()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Assert.That(DecodeGemv.Float32Enabled, Is.True, "F32 is on by default");
        DecodeGemv.Float32Enabled = false;
        try
        {
            Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4), randn(8, 4), null, out _), Is.False, "F32 switched off");
            Assert.That(DecodeGemv.TryLinear(randn(1, 1, 4).to(ScalarType.BFloat16), randn(8, 4).to(ScalarType.BFloat16), null, out _), Is.True, "BF16 stays on");
        }
        finally
        {
            DecodeGemv.Float32Enabled = true;
        }
    }
}
