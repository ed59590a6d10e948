using Transformer2.Models.Generation;
using Transformer2.Models.Llava;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Llava;

/// <summary>Image + text → logits → generation and log-probabilities, for both LLaVA variants, on CPU.</summary>
public class LlavaGenerationTests
{
    static readonly int[] Prompt = [1, 5, TinyLlava.ImageToken, 6, 7];

    [TestCase(false)]
    [TestCase(true)]
    public void GreedyGenerationSeesTheImageAndMatchesTheFullForward(bool next)
    {
        var config = TinyLlava.Config(next);
        using var model = TinyLlava.Create(config);
        var image = TinyLlava.RandomImage(config, 12, 20);
        var ids = model.ExpandImageTokens(Prompt, [image]);
        Assert.That(ids.Length, Is.EqualTo(Prompt.Length - 1 + model.ImageTokenCount(image)));
        var options = new GenerationOptions { MaxNewTokens = 6, StopTokenIds = [] };
        var generator = new TextGenerator(model.LanguageModel);
        var result = generator.GenerateBatch([ids], options, model.ImageEmbedder([image]))[0];
        Assert.That(result.TokenIds, Has.Count.EqualTo(6));

        // Each greedy token is the argmax of a full (cache-free) forward over prompt + tokens so far, image included.
        var sequence = ids.Select(i => (long)i).ToList();
        foreach (int token in result.TokenIds)
        {
            using var scope = NewDisposeScope();
            var logits = model.Forward(tensor(sequence.ToArray(), [1, sequence.Count]), [image]);
            Assert.That(logits[0, -1].argmax().item<long>(), Is.EqualTo(token));
            sequence.Add(token);
        }

        // Log-probabilities of the generated tokens under teacher forcing agree with generation's own.
        using var scored = SequenceScorer.ComputeLogProbs(model.LanguageModel, [(ids, result.TokenIds)], model.ImageEmbedder([image]));
        var logProbs = scored.LogProbs[0].data<float>().ToArray();
        for (int i = 0; i < 6; i++) Assert.That(logProbs[i], Is.EqualTo(result.LogProbs[i]).Within(1e-4));

        // A different image changes what is generated or how likely it is.
        var other = generator.GenerateBatch([ids], options, model.ImageEmbedder([TinyLlava.RandomImage(config, 12, 20, seed: 8)]))[0];
        Assert.That(other.TokenIds.SequenceEqual(result.TokenIds) && other.LogProbs.Zip(result.LogProbs).All(p => Math.Abs(p.First - p.Second) < 1e-4), Is.False);
    }

    [Test]
    public void LeftPaddedBatchWithTwoImagesEqualsSeparateRuns()
    {
        var config = TinyLlava.Config(next: true);
        using var model = TinyLlava.Create(config);
        var wide = TinyLlava.RandomImage(config, 10, 30, seed: 1);
        var tall = TinyLlava.RandomImage(config, 30, 10, seed: 2);
        var first = model.ExpandImageTokens(Prompt, [wide]);
        var second = model.ExpandImageTokens([1, 9, 9, 9, TinyLlava.ImageToken, 4], [tall]);
        var options = new GenerationOptions { MaxNewTokens = 4, StopTokenIds = [] };
        var generator = new TextGenerator(model.LanguageModel);
        var batch = generator.GenerateBatch([first, second], options, model.ImageEmbedder([wide, tall]));
        var alone1 = generator.GenerateBatch([first], options, model.ImageEmbedder([wide]))[0];
        var alone2 = generator.GenerateBatch([second], options, model.ImageEmbedder([tall]))[0];
        Assert.That(batch[0].TokenIds, Is.EqualTo(alone1.TokenIds));
        Assert.That(batch[1].TokenIds, Is.EqualTo(alone2.TokenIds));
        for (int i = 0; i < 4; i++)
        {
            Assert.That(batch[0].LogProbs[i], Is.EqualTo(alone1.LogProbs[i]).Within(1e-4));
            Assert.That(batch[1].LogProbs[i], Is.EqualTo(alone2.LogProbs[i]).Within(1e-4));
        }
    }

    [Test]
    public void PromptWithoutThePlaceholderIsAClearError()
    {
        var config = TinyLlava.Config(next: false);
        using var model = TinyLlava.Create(config);
        var e = Assert.Throws<ArgumentException>(() => model.ExpandImageTokens([1, 5, 6], [TinyLlava.RandomImage(config, 8, 8)]));
        Assert.That(e!.Message, Does.Contain("0 image tokens").And.Contain("<image>"));
    }
}
