using Transformer2.Models.Generation;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Generation;

public class SequenceScorerTests
{
    [Test]
    public void ScoresEqualLogSoftmaxOfFullForward()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        int[] prompt = [1, 7, 9], completion = [30, 4, 77];
        using var logits = model.Forward(tensor(new long[] { 1, 7, 9, 30, 4, 77 }).view(1, -1)).log_softmax(2); // [1, 6, V]
        using var scores = SequenceScorer.ComputeLogProbs(model, prompt, completion);
        float[] expected = [logits[0, 2, 30].item<float>(), logits[0, 3, 4].item<float>(), logits[0, 4, 77].item<float>()];
        Assert.That(scores.data<float>().ToArray(), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void BatchedScoringEqualsSingleAndMasksPadding()
    {
        using var model = TinyModels.Create(TinyModels.Mistral());
        (IReadOnlyList<int>, IReadOnlyList<int>)[] pairs = [([1, 2], [5, 6, 7, 8]), ([1, 9, 10, 11, 12, 13], [20]), ([3], [4, 4])];
        using var batch = SequenceScorer.ComputeLogProbs(model, pairs);
        Assert.That(batch.LogProbs.shape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(batch.Mask.sum().item<long>(), Is.EqualTo(7));
        for (int r = 0; r < pairs.Length; r++)
        {
            using var single = SequenceScorer.ComputeLogProbs(model, pairs[r].Item1, pairs[r].Item2);
            using var row = batch.LogProbs[r].narrow(0, 0, pairs[r].Item2.Count);
            Assert.That((row - single).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f), $"row {r}");
        }
        Assert.That(batch.LogProbs[1, 1].item<float>(), Is.EqualTo(0f));
    }

    [Test]
    public void GradientsReachTheProjections()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        using var scores = SequenceScorer.ComputeLogProbs(model, [(new[] { 1, 2, 3 }, new[] { 4, 5 })]);
        using var loss = -scores.SequenceLogProbs().sum();
        loss.backward();
        var weight = model.model.layers[0].self_attn.q_proj.parameters().Single();
        Assert.That(weight.grad, Is.Not.Null);
        Assert.That(weight.grad!.abs().sum().item<float>(), Is.GreaterThan(0f));
    }

    [Test]
    public void EmptyInputsAreRejected()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        Assert.That(() => SequenceScorer.ComputeLogProbs(model, [], [1]), Throws.ArgumentException.With.Message.Contains("Prompt 0"));
        Assert.That(() => SequenceScorer.ComputeLogProbs(model, [1], []), Throws.ArgumentException.With.Message.Contains("Completion 0"));
        Assert.That(() => SequenceScorer.ComputeLogProbs(model, [1], [1000]), Throws.ArgumentException.With.Message.Contains("1000"));
    }
}
