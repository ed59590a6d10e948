using Transformer2.Training.Reinforce;
using static TorchSharp.torch;

namespace Transformer2.Tests.Training.Reinforce;

public class PolicyGradientTests
{
    [Test]
    public void NextTokenLogProbsPickTheNextTokensLogSoftmax()
    {
        var logits = randn(2, 4, 5);
        var ids = tensor(new long[] { 0, 3, 1, 4, 2, 2, 0, 1 }, new long[] { 2, 4 });
        var logp = PolicyGradient.NextTokenLogProbs(logits, ids);
        Assert.That(logp.shape, Is.EqualTo(new long[] { 2, 3 }));
        var manual = logits[1, 2].log_softmax(0)[1].item<float>();   // row 1, position 2 predicts ids[1, 3] = 1
        Assert.That(logp[1, 2].item<float>(), Is.EqualTo(manual).Within(1e-6));
        var mask = tensor(new float[] { 0, 1, 1, 1, 0, 0 }, new long[] { 2, 3 });
        Assert.That(PolicyGradient.MaskedSum(logp, mask)[1].item<float>(), Is.EqualTo(logp[1, 0].item<float>()).Within(1e-6));
    }

    [Test]
    public void KlDirectionsMatchTheirDefinitions()
    {
        var a = randn(1, 3, 6);
        var b = randn(1, 3, 6);
        var p = a[0, 0].log_softmax(0);
        var q = b[0, 0].log_softmax(0);
        double policyToReference = (p.exp() * (p - q)).sum().item<float>();
        double referenceToPolicy = (q.exp() * (q - p)).sum().item<float>();
        Assert.That(PolicyGradient.KlPerPosition(a, b, KlDirection.PolicyToReference)[0, 0].item<float>(), Is.EqualTo(policyToReference).Within(1e-5));
        Assert.That(PolicyGradient.KlPerPosition(a, b, KlDirection.ReferenceToPolicy)[0, 0].item<float>(), Is.EqualTo(referenceToPolicy).Within(1e-5));
        Assert.That(PolicyGradient.KlPerPosition(a, a, KlDirection.PolicyToReference).abs().max().item<float>(), Is.LessThan(1e-6));
        // The authors' F.kl_div(input=logp_cur, target=logp_ref, log_target=True) is Σ exp(ref)·(ref − cur).
        var authors = nn.functional.kl_div(p.unsqueeze(0), q.unsqueeze(0), reduction: nn.Reduction.Sum, log_target: true).item<float>();
        Assert.That(referenceToPolicy, Is.EqualTo(authors).Within(1e-5));
    }

    [Test]
    public void RewardShaping()
    {
        Assert.That(PolicyGradient.ShapeRewards(new[] { 1.0, -1.0, 1.0, 1.0 }, normalize: false, clip: null), Is.EqualTo(new[] { 1.0, -1.0, 1.0, 1.0 }));
        var normalized = PolicyGradient.ShapeRewards(new[] { 1.0, -1.0, 1.0, 1.0 }, normalize: true, clip: null);
        Assert.That(normalized.Average(), Is.EqualTo(0).Within(1e-12));
        Assert.That(PolicyGradient.ShapeRewards(new[] { 5.0, -0.5 }, normalize: false, clip: 1), Is.EqualTo(new[] { 1.0, -0.5 }));
        Assert.That(PolicyGradient.ShapeRewards(new[] { 1.0, 1.0 }, normalize: true, clip: null), Is.EqualTo(new[] { 0.0, 0.0 }), "all-equal rewards carry no signal");
    }
}
