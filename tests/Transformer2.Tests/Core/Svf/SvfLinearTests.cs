using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

public class SvfLinearTests
{
    static SvfLinear Layer(long outFeatures, long inFeatures, int seed, ScalarType dtype = ScalarType.Float32, bool withBias = false)
    {
        var (w, u, s, v) = Matrix(outFeatures, inFeatures, seed, dtype);
        var bias = withBias ? randn(new[] { outFeatures }, dtype: dtype, generator: new Generator((ulong)seed + 1)) : null;
        return new SvfLinear("layer.weight", w, bias, u, s, v);
    }

    [Test]
    public void WithoutMultiplierItIsThePlainLinear()
    {
        using var scope = NewDisposeScope();
        var layer = Layer(24, 16, 1, withBias: true);
        var x = randn(3, 5, 16);
        Assert.That(layer.forward(x).allclose(nn.functional.linear(x, layer.weight!, layer.bias)), Is.True);
    }

    [TestCase(1)]
    [TestCase(16)]
    public void FactoredComposedAndMergedPathsAgree(int tokens)
    {
        using var scope = NewDisposeScope();
        var layer = Layer(40, 24, 2, withBias: true);
        var z = Multiplier(24, 3);
        var x = randn(2, tokens, 24);
        var expected = nn.functional.linear(x.to_type(ScalarType.Float64), Reference(layer.U, layer.S, layer.V, z), layer.bias!.to_type(ScalarType.Float64));

        layer.Multiplier = z;
        layer.Path = SvfPath.Factored;
        var factored = layer.forward(x);
        layer.Path = SvfPath.Composed;
        var composed = layer.forward(x);
        layer.Multiplier = null;
        layer.Merge(z);
        var merged = layer.forward(x);

        Assert.That(MaxAbs(factored, expected), Is.LessThan(1e-5));
        Assert.That(MaxAbs(composed, expected), Is.LessThan(1e-5));
        Assert.That(MaxAbs(merged, expected), Is.LessThan(1e-5));
    }

    [Test]
    public void UnmergeRestoresTheWeightBitForBit()
    {
        using var scope = NewDisposeScope();
        var layer = Layer(32, 32, 4, ScalarType.BFloat16);
        var before = layer.weight!.detach().clone();
        layer.Merge(Multiplier(32, 5));
        Assert.That(layer.IsMerged, Is.True);
        Assert.That(SameBits(layer.weight, before), Is.False);
        layer.Merge(Multiplier(32, 6)); // merging twice keeps the first original
        layer.Unmerge();
        Assert.That(layer.IsMerged, Is.False);
        Assert.That(SameBits(layer.weight, before), Is.True);
    }

    [Test]
    public void PerRowMultipliersEqualSeparateCalls()
    {
        using var scope = NewDisposeScope();
        var layer = Layer(20, 12, 7);
        var z0 = Multiplier(12, 8);
        var z1 = Multiplier(12, 9);
        var x = randn(2, 4, 12);
        layer.Multiplier = stack(new[] { z0, z1 });
        var batched = layer.forward(x);
        layer.Multiplier = z0;
        var row0 = layer.forward(x[0..1]);
        layer.Multiplier = z1;
        var row1 = layer.forward(x[1..2]);
        Assert.That(MaxAbs(batched, cat(new[] { row0, row1 })), Is.LessThan(1e-6));
    }

    [Test]
    public void StateDictHasOnlyTheCheckpointKeysAndFactorsFollowTheModule()
    {
        using var scope = NewDisposeScope();
        var layer = Layer(8, 6, 10, withBias: true);
        Assert.That(layer.state_dict().Keys, Is.EquivalentTo(new[] { "weight", "bias" }));
        Assert.That(layer.parameters().All(p => !p.requires_grad), Is.True, "base weights are frozen");
        layer.to(ScalarType.Float64);
        Assert.That((layer.weight!.dtype, layer.U.dtype, layer.S.dtype, layer.V.dtype), Is.EqualTo((ScalarType.Float64, ScalarType.Float64, ScalarType.Float64, ScalarType.Float64)));
        layer.to(ScalarType.BFloat16);
        Assert.That((layer.weight.dtype, layer.U.dtype, layer.S.dtype), Is.EqualTo((ScalarType.BFloat16, ScalarType.BFloat16, ScalarType.Float32)), "S stays fp32");
        layer.Multiplier = full(6, 0.5f);
        Assert.That(layer.forward(ones(new long[] { 1, 6 }, dtype: ScalarType.BFloat16)).dtype, Is.EqualTo(ScalarType.BFloat16));
    }

    [Test]
    public void WrongMultiplierLengthNamesTheTarget()
    {
        using var scope = NewDisposeScope();
        var layer = Layer(8, 6, 11);
        layer.Multiplier = ones(5);
        var ex = Assert.Throws<ArgumentException>(() => layer.forward(randn(1, 6)));
        Assert.That(ex!.Message, Does.Contain("layer.weight").And.Contain("5 entries"));
    }

    [TestCase(SvfPath.Factored)]
    [TestCase(SvfPath.Composed)]
    public void GradientReachesPAndMatchesFiniteDifferencesAndTheClosedForm(SvfPath path)
    {
        using var scope = NewDisposeScope();
        var layer = Layer(10, 7, 12, ScalarType.Float64, withBias: true);
        var x = randn(new long[] { 3, 7 }, dtype: ScalarType.Float64, generator: new Generator(13));
        var r = randn(new long[] { 3, 10 }, dtype: ScalarType.Float64, generator: new Generator(14));
        var parameterization = SvfParameterization.Default;
        var p = (parameterization.InitialVector(7, new Generator(15)).to_type(ScalarType.Float64) + linspace(-1, 1, 7, dtype: ScalarType.Float64)).requires_grad_();
        layer.Path = path;

        Tensor Loss(Tensor pv)
        {
            layer.Multiplier = parameterization.Multiplier(pv);
            return (layer.forward(x) * r).sum();
        }

        var loss = Loss(p);
        loss.backward();
        var grad = p.grad!.clone();
        Assert.That(layer.weight!.grad, Is.Null, "no gradient buffer for the frozen weight");

        // Central finite differences in fp64.
        var numeric = zeros(7, dtype: ScalarType.Float64);
        using (no_grad())
        {
            const double h = 1e-6;
            for (int j = 0; j < 7; j++)
            {
                var plus = p.detach().clone(); plus[j] += h;
                var minus = p.detach().clone(); minus[j] -= h;
                numeric[j] = (Loss(plus) - Loss(minus)) / (2 * h);
            }
        }
        Assert.That(MaxAbs(grad, numeric), Is.LessThan(1e-6));

        // Closed form of t2-reference §1.5: dL/dm_j = c·S_j·(u_jᵀ G v_j) − (S_j/Σ(S⊙m))·c·⟨G, A⟩, times sigmoid'(p).
        using (no_grad())
        {
            var m = p.detach().sigmoid();
            var s = layer.S.to_type(ScalarType.Float64);
            var sm = s * m;
            var c = s.sum() / sm.sum();
            var g = r.t().matmul(x);                                          // dL/dW' for L = Σ (x·W'ᵀ)⊙r
            var a = layer.U.matmul(diag(sm)).matmul(layer.V.t());
            var ugv = (layer.U * g.matmul(layer.V)).sum(dim: 0);                  // u_jᵀ G v_j for each j
            var dm = c * s * ugv - s / sm.sum() * c * (g * a).sum();
            var dp = dm * m * (1 - m);
            Assert.That(MaxAbs(grad, dp), Is.LessThan(1e-9), $"autograd {grad.ToString(TorchSharp.TensorStringStyle.Julia)} closed form {dp.ToString(TorchSharp.TensorStringStyle.Julia)} ugv {ugv.ToString(TorchSharp.TensorStringStyle.Julia)}");
        }
    }
}
