using TorchSharp;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core;

public class KeptScalarsTests
{
    [Test]
    public void AddingWithTheKeptScalarEqualsThePlusOperatorAndSurvivesCollections()
    {
        using var scope = NewDisposeScope();
        var left = arange(6, ScalarType.Float32).reshape(2, 3);
        var right = ones(3) * 0.5;
        for (int i = 0; i < 3; i++)
        {
            // Finalizers run between calls: a per-call Scalar would be gone, the kept one must still read as 1.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.That(KeptScalars.Add(left, right).equal(left + right).all().item<bool>(), Is.True);
        }
        using var eps = 1e-3.ToScalar();
        Assert.That(KeptScalars.Add(left, eps).allclose(left + 1e-3), Is.True);
    }
}
