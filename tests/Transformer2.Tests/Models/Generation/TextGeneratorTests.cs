using Transformer2.Models.Generation;
using Transformer2.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models.Generation;

public class TextGeneratorTests
{
    LlamaForCausalLM _model = null!;

    [OneTimeSetUp]
    public void CreateModel() => _model = TinyModels.Create(TinyModels.Llama() with { EosTokenIds = [] });

    [OneTimeTearDown]
    public void DisposeModel() => _model.Dispose();

    static readonly int[] Prompt = [1, 17, 42, 8, 99, 23];

    /// <summary>Greedy decoding the slow way: a full forward pass over the whole sequence for every token.</summary>
    List<int> GreedyWithoutCache(IReadOnlyList<int> prompt, int count)
    {
        var sequence = prompt.ToList();
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            var logits = _model.Forward(tensor(sequence.Select(x => (long)x).ToArray()).view(1, -1));
            sequence.Add((int)logits[0, -1].argmax().item<long>());
        }
        return sequence.Skip(prompt.Count).ToList();
    }

    [Test]
    public void GreedyEqualsFullRecomputation()
    {
        var result = new TextGenerator(_model).Generate(Prompt, GenerationOptions.Greedy(12));
        Assert.That(result.TokenIds, Is.EqualTo(GreedyWithoutCache(Prompt, 12)));
        Assert.That(result.Finish, Is.EqualTo(FinishReason.MaxNewTokens));
        Assert.That(result.LogProbs, Has.Count.EqualTo(12).And.All.LessThanOrEqualTo(0f));
    }

    [Test]
    public void LogProbsMatchTeacherForcedScoring()
    {
        var result = new TextGenerator(_model).Generate(Prompt, new GenerationOptions { MaxNewTokens = 10, Temperature = 1.3, TopK = 20, Seed = 5 });
        using var scored = SequenceScorer.ComputeLogProbs(_model, Prompt, result.TokenIds);
        Assert.That(scored.data<float>().ToArray(), Is.EqualTo(result.LogProbs).Within(1e-4));
    }

    [Test]
    public void PaddedBatchEqualsOneByOne()
    {
        int[][] prompts = [[1, 5, 9], [1, 17, 42, 8, 99, 23, 61, 7], [3], [1, 17, 42, 8, 99, 23, 61, 7]];
        var generator = new TextGenerator(_model);
        var options = GenerationOptions.Greedy(9);
        var batched = generator.GenerateBatch(prompts, options);
        for (int r = 0; r < prompts.Length; r++)
        {
            var alone = generator.Generate(prompts[r], options);
            Assert.That(batched[r].TokenIds, Is.EqualTo(alone.TokenIds), $"row {r}");
            Assert.That(batched[r].LogProbs, Is.EqualTo(alone.LogProbs).Within(1e-4), $"row {r}");
        }
    }

    [Test]
    public void RowsStopIndependently()
    {
        var generator = new TextGenerator(_model);
        int[][] prompts = [[1, 5, 9], [1, 17, 42, 8, 99]];
        var free = generator.GenerateBatch(prompts, GenerationOptions.Greedy(10));
        int stop = free[0].TokenIds[3];
        Assume.That(free[0].TokenIds.Take(3), Does.Not.Contain(stop));
        var stopped = generator.GenerateBatch(prompts, GenerationOptions.Greedy(10) with { StopTokenIds = [stop] });
        Assert.That(stopped[0].TokenIds, Is.EqualTo(free[0].TokenIds.Take(4)));
        Assert.That(stopped[0].Finish, Is.EqualTo(FinishReason.StopToken));
        int expectedLength = free[1].TokenIds.ToList().IndexOf(stop) is var at and >= 0 ? at + 1 : 10;
        Assert.That(stopped[1].TokenIds, Is.EqualTo(free[1].TokenIds.Take(expectedLength)));
    }

    [Test]
    public void DefaultStopTokensAreTheModelsEosIds()
    {
        var free = new TextGenerator(_model).Generate(Prompt, GenerationOptions.Greedy(8));
        int eos = free.TokenIds[2];
        using var withEos = TinyModels.Create(TinyModels.Llama() with { EosTokenIds = [eos] });
        var result = new TextGenerator(withEos).Generate(Prompt, GenerationOptions.Greedy(8));
        Assert.That(result.TokenIds[^1], Is.EqualTo(eos));
        Assert.That(result.Finish, Is.EqualTo(FinishReason.StopToken));
    }

    [Test]
    public void StopStringsUseTheDecoder()
    {
        static string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(id => $"<{id}>"));
        var free = new TextGenerator(_model).Generate(Prompt, GenerationOptions.Greedy(10));
        string stop = $"<{free.TokenIds[4]}>";
        var result = new TextGenerator(_model, Decode).Generate(Prompt, GenerationOptions.Greedy(10) with { StopStrings = [stop] });
        Assert.That(result.Finish, Is.EqualTo(FinishReason.StopString));
        Assert.That(result.TokenIds, Is.EqualTo(free.TokenIds.Take(result.TokenIds.Count)));
        Assert.That(Decode(result.TokenIds), Does.EndWith(stop));
        Assert.Throws<ArgumentException>(() => new TextGenerator(_model).Generate(Prompt, GenerationOptions.Greedy(3) with { StopStrings = ["x"] }));
    }

    [Test]
    public void SamplingIsReproducibleWithASeed()
    {
        var generator = new TextGenerator(_model);
        var options = new GenerationOptions { MaxNewTokens = 12, Temperature = 1.5, TopP = 0.95, Seed = 42 };
        var first = generator.Generate(Prompt, options);
        var second = generator.Generate(Prompt, options);
        Assert.That(second.TokenIds, Is.EqualTo(first.TokenIds));
        var others = Enumerable.Range(43, 3).Select(seed => generator.Generate(Prompt, options with { Seed = seed }).TokenIds).ToList();
        Assert.That(others.Any(o => !o.SequenceEqual(first.TokenIds)), "different seeds should sample differently");
    }

    [Test]
    public void TopKOfOneIsGreedy()
    {
        var generator = new TextGenerator(_model);
        var greedy = generator.Generate(Prompt, GenerationOptions.Greedy(8));
        var sampled = generator.Generate(Prompt, new GenerationOptions { MaxNewTokens = 8, Temperature = 2, TopK = 1, Seed = 3 });
        Assert.That(sampled.TokenIds, Is.EqualTo(greedy.TokenIds));
    }

    [Test]
    public async Task StreamingYieldsTheSameTokens()
    {
        var generator = new TextGenerator(_model);
        var options = GenerationOptions.Greedy(7);
        var expected = generator.Generate(Prompt, options);
        var streamed = new List<GeneratedToken>();
        await foreach (var token in generator.StreamAsync(Prompt, options)) streamed.Add(token);
        Assert.That(streamed.Select(t => t.TokenId), Is.EqualTo(expected.TokenIds));
        Assert.That(streamed.Select(t => t.Index), Is.EqualTo(Enumerable.Range(0, 7)));
        Assert.That(streamed[^1].Finish, Is.EqualTo(FinishReason.MaxNewTokens));
        Assert.That(streamed.Take(6).Select(t => t.Finish), Is.All.Null);
    }

    [Test]
    public void StreamingStopsOnCancellation()
    {
        var generator = new TextGenerator(_model);
        using var cancel = new CancellationTokenSource();
        int received = 0;
        Assert.ThrowsAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in generator.StreamAsync(Prompt, GenerationOptions.Greedy(50), cancel.Token))
                if (++received == 3) cancel.Cancel();
        });
        Assert.That(received, Is.EqualTo(3));
        Assert.Throws<OperationCanceledException>(() => generator.Generate(Prompt, GenerationOptions.Greedy(5), cancel.Token));
    }

    [Test]
    public void RepeatedGenerationKeepsLiveTensorCountFlat()
    {
        var generator = new TextGenerator(_model);
        var options = new GenerationOptions { MaxNewTokens = 5, Temperature = 1, TopK = 10, TopP = 0.9, RepetitionPenalty = 1.2, Seed = 1 };
        int[][] prompts = [[1, 2, 3], [4, 5]];
        generator.GenerateBatch(prompts, options);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 20; i++) generator.GenerateBatch(prompts, options);
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }

    [TestCase(nameof(GenerationOptions.MaxNewTokens))]
    [TestCase(nameof(GenerationOptions.Temperature))]
    [TestCase(nameof(GenerationOptions.TopK))]
    [TestCase(nameof(GenerationOptions.TopP))]
    [TestCase(nameof(GenerationOptions.RepetitionPenalty))]
    [TestCase(nameof(GenerationOptions.StopStrings))]
    public void InvalidOptionsNameTheOption(string option)
    {
        var bad = option switch
        {
            nameof(GenerationOptions.MaxNewTokens) => new GenerationOptions { MaxNewTokens = 0 },
            nameof(GenerationOptions.Temperature) => new GenerationOptions { Temperature = double.NaN },
            nameof(GenerationOptions.TopK) => new GenerationOptions { TopK = -1 },
            nameof(GenerationOptions.TopP) => new GenerationOptions { TopP = 0 },
            nameof(GenerationOptions.RepetitionPenalty) => new GenerationOptions { RepetitionPenalty = -2 },
            _ => new GenerationOptions { StopStrings = [""] },
        };
        var error = Assert.Throws<ArgumentException>(() => new TextGenerator(_model).Generate(Prompt, bad))!;
        Assert.That(error.Message, Does.Contain(option));
    }

    [Test]
    public void InvalidPromptsAreRejected()
    {
        var generator = new TextGenerator(_model);
        Assert.That(() => generator.Generate([], GenerationOptions.Greedy(2)), Throws.ArgumentException.With.Message.Contains("empty"));
        Assert.That(() => generator.Generate([1, 500], GenerationOptions.Greedy(2)), Throws.ArgumentException.With.Message.Contains("500"));
        Assert.That(() => generator.GenerateBatch([], GenerationOptions.Greedy(2)), Throws.ArgumentException);
    }
}
