using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

public class SvfParameterizationTests
{
    [Test]
    public void DefaultsAreTheAuthors()
    {
        var p = SvfParameterization.Default;
        Assert.That((p.Kind, p.MaxMultiplier, p.InitMean, p.InitStd), Is.EqualTo((SvfMultiplierKind.Sigmoid, 1.0, 0.1, 0.01)));
    }

    [Test]
    public void InitialVectorHasTheConfiguredMeanAndSpreadAndIsSeeded()
    {
        using var scope = NewDisposeScope();
        var a = SvfParameterization.Default.InitialVector(20000, new Generator(5));
        var b = SvfParameterization.Default.InitialVector(20000, new Generator(5));
        Assert.That(a.mean().item<float>(), Is.EqualTo(0.1).Within(5e-4));
        Assert.That(a.std().item<float>(), Is.EqualTo(0.01).Within(5e-4));
        Assert.That(SameBits(a, b), Is.True);
        var z = SvfParameterization.Default.Multiplier(a);
        Assert.That(z.mean().item<float>(), Is.EqualTo(1 / (1 + Math.Exp(-0.1))).Within(1e-3)); // sigmoid(0.1) ≈ 0.52498
    }

    [Test]
    public void MaxMultiplierScalesAndRawKindPassesThrough()
    {
        using var scope = NewDisposeScope();
        var p = tensor(new[] { 0f, 2f });
        var scaled = (SvfParameterization.Default with { MaxMultiplier = 3 }).Multiplier(p);
        Assert.That(scaled[0].item<float>(), Is.EqualTo(1.5f).Within(1e-6));
        var raw = (SvfParameterization.Default with { Kind = SvfMultiplierKind.Raw }).Multiplier(p);
        Assert.That(raw[1].item<float>(), Is.EqualTo(2f));
    }

    [Test]
    public void InvalidSettingsNameTheProperty()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => (SvfParameterization.Default with { MaxMultiplier = 0 }).Validate());
        Assert.That(ex!.ParamName, Is.EqualTo("MaxMultiplier"));
        ex = Assert.Throws<ArgumentOutOfRangeException>(() => (SvfParameterization.Default with { InitStd = double.NaN }).Validate());
        Assert.That(ex!.ParamName, Is.EqualTo("InitStd"));
    }
}
