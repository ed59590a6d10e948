using TorchSharp;
using Transformer2.Core;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core;

public class KeptScalarsTests
{
    [Test]
    public void KeptScalarAdditionsEqualThePlusOperator()
    {
        using var scope = NewDisposeScope();
        var left = arange(6, ScalarType.Float32).reshape(2, 3);
        var right = ones(3) * 0.5;
        for (int i = 0; i < 3; i++)
        {
            // An equivalence check (the race it prevents happens inside one native call and cannot be forced here); the kept
            // Scalars must also still read as 1 after collections and finalizers have run.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.That(KeptScalars.Add(left, right).equal(left + right).all().item<bool>(), Is.True);
        }
        using var eps = 1e-3.ToScalar();
        Assert.That(KeptScalars.Add(left, eps).allclose(left + 1e-3), Is.True);
    }
}
