using Transformer2.Adaptation.Experts;
using Transformer2.Core.Experts;
using static TorchSharp.torch;

namespace Transformer2.Tests.Adaptation;

public class ExpertRegistryTests
{
    static Expert Make(string name, float value) =>
        new(new ExpertMetadata { Name = name, Targets = ["layer.weight"] }, [new KeyValuePair<string, Tensor>("layer.weight", full(4, value))]);

    [Test]
    public void AnExpertsMultipliersAreComputedOnceAndAreItsParameterisationOfItsVectors()
    {
        using var registry = new ExpertRegistry(new Dictionary<string, long> { ["layer.weight"] = 4 });
        registry.Register(Make("a", 0.5f));
        var first = registry.Multipliers("a");
        var again = registry.Multipliers("a");
        Assert.That(again["layer.weight"].Handle, Is.EqualTo(first["layer.weight"].Handle), "the second switch is a lookup");
        Assert.That(first["layer.weight"].dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(first["layer.weight"].data<float>().ToArray(), Is.All.EqualTo(1 / (1 + Math.Exp(-0.5))).Within(1e-6), "default parameterisation: sigmoid(p)");
    }

    [Test]
    public void ReplacingAnExpertDropsItsCachedMultipliers()
    {
        using var registry = new ExpertRegistry(new Dictionary<string, long> { ["layer.weight"] = 4 });
        registry.Register(Make("a", 0.5f));
        var old = registry.Multipliers("a")["layer.weight"];
        registry.Register(Make("a", -1f));
        Assert.That(old.IsInvalid, Is.True, "the replaced expert's multipliers are disposed");
        Assert.That(registry.Multipliers("a")["layer.weight"].data<float>()[0], Is.EqualTo(1 / (1 + Math.Exp(1))).Within(1e-6));
        Assert.Throws<KeyNotFoundException>(() => registry.Multipliers("missing"));
    }
}
