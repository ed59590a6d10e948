using Transformer2.Models.Generation;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Generation;

public class LogitsProcessorTests
{
    [Test]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegative()
    {
        using var logits = tensor(new float[] { 2, -2, 4, 1 }).view(1, -1);
        using var seen = tensor(new long[] { 0, 1, 1 }).view(1, -1);
        using var result = LogitsProcessor.RepetitionPenalty(logits, seen, 2.0);
        Assert.That(result.data<float>().ToArray(), Is.EqualTo(new float[] { 1, -4, 4, 1 }));
    }

    [Test]
    public void TopKKeepsTheLargest()
    {
        using var logits = tensor(new float[] { 0.1f, 3, 2, -1, 2.5f }).view(1, -1);
        using var result = LogitsProcessor.TopK(logits, 2);
        Assert.That(result.data<float>().ToArray(), Is.EqualTo(new[] { float.NegativeInfinity, 3, float.NegativeInfinity, float.NegativeInfinity, 2.5f }));
    }

    [Test]
    public void TopPKeepsTheSmallestNucleus()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05 (shuffled)
        using var logits = tensor(new[] { MathF.Log(0.15f), MathF.Log(0.5f), MathF.Log(0.05f), MathF.Log(0.3f) }).view(1, -1);
        using var keepTwo = LogitsProcessor.TopP(logits, 0.8);
        Assert.That(keepTwo.data<float>().Select(float.IsNegativeInfinity), Is.EqualTo(new[] { true, false, true, false }));
        using var keepThree = LogitsProcessor.TopP(logits, 0.81);
        Assert.That(keepThree.data<float>().Select(float.IsNegativeInfinity), Is.EqualTo(new[] { false, false, true, false }));
        using var keepOne = LogitsProcessor.TopP(logits, 0.01);
        Assert.That(keepOne.data<float>().Select(float.IsNegativeInfinity), Is.EqualTo(new[] { true, false, true, true }));
    }
}
