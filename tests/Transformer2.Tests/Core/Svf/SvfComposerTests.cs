using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

public class SvfComposerTests
{
    [TestCase(48, 48)]
    [TestCase(64, 24)]
    [TestCase(24, 64)]
    public void Fp32CompositionMatchesFp64ReferenceWithin1e5Relative(int m, int n)
    {
        using var scope = NewDisposeScope();
        var (_, u, s, v) = Matrix(m, n, seed: m * 31 + n);
        var z = Multiplier(s.shape[0], seed: 7);
        var expected = Reference(u, s, v, z);
        var actual = SvfComposer.Compose(u, s, v, z);
        Assert.That(actual.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(RelativeError(actual, expected), Is.LessThan(1e-5));
    }

    [Test]
    public void Bf16CompositionMatchesFp64ReferenceWithinBf16Precision()
    {
        using var scope = NewDisposeScope();
        var (_, u, s, v) = Matrix(96, 64, seed: 3);
        var z = Multiplier(64, seed: 8);
        var expected = Reference(u, s, v, z);
        var actual = SvfComposer.Compose(u.to_type(ScalarType.BFloat16), s, v.to_type(ScalarType.BFloat16), z, ScalarType.BFloat16);
        Assert.That(actual.dtype, Is.EqualTo(ScalarType.BFloat16));
        // bf16 keeps 8 significant bits (unit roundoff 2^-8 ≈ 3.9e-3); inputs, scale and output each round once.
        Assert.That(RelativeError(actual, expected), Is.LessThan(1.5e-2));
    }

    [Test]
    public void ConstantMultiplierReturnsTheOriginalWeight()
    {
        using var scope = NewDisposeScope();
        var (w, u, s, v) = Matrix(40, 56, seed: 11);
        var z = full(new[] { s.shape[0] }, 0.37f);
        Assert.That(MaxAbs(SvfComposer.Compose(u, s, v, z), w), Is.LessThan(1e-5));
    }

    [Test]
    public void NormalisationKeepsTheSumOfSingularValues()
    {
        using var scope = NewDisposeScope();
        var (_, u, s, v) = Matrix(32, 32, seed: 12);
        var z = Multiplier(32, seed: 13);
        var adapted = SvfComposer.Compose(u.to_type(ScalarType.Float64), s.to_type(ScalarType.Float64), v.to_type(ScalarType.Float64), z.to_type(ScalarType.Float64));
        var nuclear = linalg.svdvals(adapted).sum().item<double>();
        Assert.That(nuclear, Is.EqualTo(s.to_type(ScalarType.Float64).sum().item<double>()).Within(1e-5).Percent);
    }

    [Test]
    public void AuthorsFormulaGivesTheSameMatrix()
    {
        using var scope = NewDisposeScope();
        var (_, u, s, v) = Matrix(40, 30, seed: 14);
        var z = Multiplier(30, seed: 15);
        Assert.That(MaxAbs(SvfComposer.ComposeAsAuthors(u, s, v, z), SvfComposer.Compose(u, s, v, z)), Is.LessThan(1e-5));
    }

    [Test]
    public void MismatchedShapesAreRejectedWithAClearMessage()
    {
        using var scope = NewDisposeScope();
        var (_, u, s, v) = Matrix(10, 8, seed: 1);
        var ex = Assert.Throws<ArgumentException>(() => SvfComposer.Compose(u, s, v, ones(7)));
        Assert.That(ex!.Message, Does.Contain("7 entries").And.Contain("8 singular values"));
        Assert.Throws<ArgumentException>(() => SvfComposer.Compose(u.t(), s, v, ones(8)));
    }
}
