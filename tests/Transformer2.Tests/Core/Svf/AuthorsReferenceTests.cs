using Transformer2.Core.IO;
using Transformer2.Core.Svf;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

/// <summary>Our SVF maths against the authors' formulas as PyTorch computes them (Data/hf-reference/svf).</summary>
public class AuthorsReferenceTests
{
    static SafetensorsFile Reference() =>
        SafetensorsFile.Open(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "hf-reference", "svf", "reference.safetensors"));

    [Test]
    public void CompositionAndGradientMatchTheAuthorsInFp32()
    {
        using var scope = NewDisposeScope();
        using var r = Reference();
        var (u, s, v, p) = (r.Read("U"), r.Read("S"), r.Read("V"), r.Read("p").requires_grad_());
        var composed = SvfComposer.Compose(u, s, v, SvfParameterization.Default.Multiplier(p));
        Assert.That(MaxAbs(composed, r.Read("composed_fp32")), Is.LessThan(1e-5));
        (composed * r.Read("G")).sum().backward();
        Assert.That(MaxAbs(p.grad!, r.Read("grad_p_fp32")), Is.LessThan(1e-5), "autograd through our composition = the authors' VJP");
    }

    [Test]
    public void Bf16CompositionStaysWithinBf16PrecisionOfTheAuthors()
    {
        using var scope = NewDisposeScope();
        using var r = Reference();
        var (u, s, v, p) = (r.Read("U"), r.Read("S"), r.Read("V"), r.Read("p"));
        var ours = SvfComposer.Compose(u.to_type(ScalarType.BFloat16), s, v.to_type(ScalarType.BFloat16), SvfParameterization.Default.Multiplier(p), ScalarType.BFloat16);
        var exact = r.Read("composed_fp32");
        // Both round to bf16 (8 significant bits); ours keeps the scale in fp32, so it is no further from the exact result.
        double oursError = RelativeError(ours, exact), authorsError = RelativeError(r.Read("composed_bf16"), exact);
        TestContext.Out.WriteLine($"relative error vs fp32: ours {oursError:E2}, authors' bf16 {authorsError:E2}");
        Assert.That(oursError, Is.LessThan(1.5e-2));
        Assert.That(oursError, Is.LessThanOrEqualTo(authorsError * 1.5));
    }

    [Test]
    public void RawVectorMixtureMatchesTheAuthorsWeightedCombination()
    {
        using var scope = NewDisposeScope();
        using var r = Reference();
        var (u, s, v) = (r.Read("U"), r.Read("S"), r.Read("V"));
        var alpha = r.Read("alpha").to_type(ScalarType.Float64).data<double>().ToArray();
        var experts = new[] { r.Read("p"), r.Read("p2") }
            .Select(p => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { ["w"] = p }).ToList();
        var z = SvfMixer.Mix(experts, MixtureWeights.Global(alpha), SvfParameterization.Default, MixtureSemantics.AuthorsRawVectors)["w"];
        Assert.That(MaxAbs(SvfComposer.Compose(u, s, v, z), r.Read("mixture_raw_composed")), Is.LessThan(1e-5));
    }
}
