using TorchSharp;
using Transformer2.Core.Svd;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Svd;

public class SvdFactorsTests
{
    [TestCase(24, 16)]
    [TestCase(16, 24)]
    [TestCase(1, 7)]
    public void Decompose_ReconstructsTheWeight(int rows, int columns)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(seed: 1);
        var weight = randn(rows, columns, generator: generator);
        using var factors = SvdFactors.Decompose(weight);
        long k = Math.Min(rows, columns);
        Assert.That(factors.U.shape, Is.EqualTo(new long[] { rows, k }));
        Assert.That(factors.S.shape, Is.EqualTo(new long[] { k }));
        Assert.That(factors.V.shape, Is.EqualTo(new long[] { columns, k }), "V, not Vh");
        Assert.That(factors.Rank, Is.EqualTo(k));
        Assert.That(factors.V.is_contiguous(), Is.True);

        // fp32 SVD: reconstruction error within 1e-5 of the largest entry (observed ~1e-6).
        double error = factors.Reconstruct().sub(weight).abs().max().item<float>();
        Assert.That(error, Is.LessThan(1e-5 * weight.abs().max().item<float>() * 10));
        var s = factors.S.data<float>().ToArray();
        Assert.That(s, Is.Ordered.Descending);
        Assert.That(factors.U.mT.matmul(factors.U).allclose(eye(k), atol: 1e-5), Is.True, "orthonormal columns of U");
        Assert.That(factors.V.mT.matmul(factors.V).allclose(eye(k), atol: 1e-5), Is.True, "orthonormal columns of V");
    }

    [Test]
    public void Decompose_WorksInFp32ForBf16Weights()
    {
        using var scope = NewDisposeScope();
        var weight = randn(12, 20, generator: new Generator(seed: 2)).to_type(ScalarType.BFloat16);
        using var factors = SvdFactors.Decompose(weight);
        Assert.That(factors.U.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(factors.Reconstruct().allclose(weight.to_type(ScalarType.Float32), rtol: 0, atol: 1e-4), Is.True);
        Assert.That(weight.dtype, Is.EqualTo(ScalarType.BFloat16), "input untouched");
    }

    [Test]
    public void Decompose_RejectsBadInput()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => SvdFactors.Decompose(ones(2, 2, 2)));
        Assert.Throws<ArgumentException>(() => SvdFactors.Decompose(ones(2, 2, dtype: ScalarType.Int32)));
        Assert.Throws<ArgumentException>(() => SvdFactors.Decompose(zeros(0, 3)));
        Assert.That(() => SvdFactors.Decompose(tensor(new[] { 1f, float.NaN, 0f, 1f }).reshape(2, 2)), Throws.ArgumentException.With.Message.Contains("NaN"));
    }

    [Test]
    public void Constructor_RejectsInconsistentShapes()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new SvdFactors(ones(4, 3), ones(3), ones(5, 2)));
        Assert.Throws<ArgumentException>(() => new SvdFactors(ones(4, 2), ones(2), ones(5, 2)), "k must be min(m, n)");
    }
}
