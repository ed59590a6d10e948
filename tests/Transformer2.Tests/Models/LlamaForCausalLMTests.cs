using Transformer2.Models.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

public class LlamaForCausalLMTests
{
    static IEnumerable<TestCaseData> Configs()
    {
        yield return new TestCaseData(TinyModels.Llama()).SetName("Llama3Scaling_GQA");
        yield return new TestCaseData(TinyModels.Llama(tied: true, scaling: RopeScaling.Linear(2))).SetName("LinearScaling_Tied");
        yield return new TestCaseData(TinyModels.Mistral(slidingWindow: 4)).SetName("MistralSlidingWindow");
    }

    [TestCaseSource(nameof(Configs))]
    public void LogitsMatchNaiveReference(LlamaConfig config)
    {
        using var model = TinyModels.Create(config);
        long[] ids = [1, 5, 9, 33, 2, 17, 40, 8, 11];
        using var ids2d = tensor(ids).view(1, -1);
        using var logits = model.Forward(ids2d).squeeze(0).to_type(ScalarType.Float64);
        using var expected = ReferenceLlama.Logits(model, ids);
        double difference = (logits - expected).abs().max().item<double>();
        Assert.That(difference, Is.LessThan(1e-4));
    }

    [Test]
    public void ParameterNamesAreCheckpointKeys()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        var names = model.StateDictShapes().Select(p => p.Key).ToList();
        Assert.That(names, Has.Count.EqualTo(2 * 9 + 3));
        Assert.That(names, Does.Contain("model.embed_tokens.weight").And.Contain("model.norm.weight").And.Contain("lm_head.weight")
            .And.Contain("model.layers.1.self_attn.k_proj.weight").And.Contain("model.layers.0.mlp.gate_proj.weight")
            .And.Contain("model.layers.1.post_attention_layernorm.weight"));
        var shapes = model.StateDictShapes().ToDictionary(p => p.Key, p => p.Shape);
        Assert.That(shapes["model.layers.0.self_attn.k_proj.weight"], Is.EqualTo(new long[] { 32, 64 }));
        Assert.That(shapes["model.layers.0.mlp.down_proj.weight"], Is.EqualTo(new long[] { 64, 96 }));
    }

    [Test]
    public void TiedEmbeddingsShareOneTensor()
    {
        using var model = TinyModels.Create(TinyModels.Llama(tied: true));
        Assert.That(model.StateDictShapes().Select(p => p.Key), Does.Not.Contain("lm_head.weight"));
        using (no_grad()) model.model.embed_tokens.weight[3, 5] = 42f;
        var head = model.lm_head.parameters().Single();
        Assert.That(head.Handle, Is.EqualTo(model.model.embed_tokens.weight.Handle));
        Assert.That(head[3, 5].item<float>(), Is.EqualTo(42f));
    }

    [TestCaseSource(nameof(Configs))]
    public void CachedTokenByTokenDecodingEqualsFullSequence(LlamaConfig config)
    {
        using var model = TinyModels.Create(config);
        using var ids = TinyModels.RandomIds(config, 2, 12);
        using var full = model.Forward(ids); // [2, 12, V]
        using var cache = model.CreateCache(2, 16);
        // A 5-token prefill, then one token at a time.
        var steps = new List<Tensor> { model.Forward(ids.narrow(1, 0, 5), cache: cache) };
        for (int t = 5; t < 12; t++) steps.Add(model.Forward(ids.narrow(1, t, 1), cache: cache));
        using var incremental = cat(steps, 1);
        foreach (var s in steps) s.Dispose();
        Assert.That(cache.Length, Is.EqualTo(12));
        Assert.That((incremental - full).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test]
    public void BFloat16RunsPaddedAndCachedWithoutNaN()
    {
        var config = TinyModels.Llama();
        using var full32 = TinyModels.Create(config);
        string folder = TinyModels.TempFolder();
        full32.SavePretrained(folder);
        using var model = LlamaForCausalLM.FromPretrained(folder, ScalarType.BFloat16);
        Directory.Delete(folder, recursive: true);
        using var ids = TinyModels.RandomIds(config, 2, 6);
        using var mask = tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }).view(2, 6);
        using var reference = full32.Forward(ids, mask).to_type(ScalarType.Float32);
        using var cache = model.CreateCache(2, 6);
        using var prefill = model.Forward(ids.narrow(1, 0, 5), mask.narrow(1, 0, 5), cache: cache);
        using var step = model.Forward(ids.narrow(1, 5, 1), mask, cache: cache);
        using var logits = cat([prefill, step], 1).to_type(ScalarType.Float32);
        Assert.That(logits.dtype, Is.EqualTo(ScalarType.Float32));
        Assert.That(logits.isnan().any().item<bool>(), Is.False);
        // Real positions agree with float32 to bf16 precision (padding positions are don't-cares).
        using var real = (logits - reference).abs().masked_fill(mask.eq(0).unsqueeze(2), 0);
        Assert.That(real.max().item<float>(), Is.LessThan(0.05f));
    }

    [Test]
    public void SlidingWindowHidesTokensBeyondIt()
    {
        // One layer: position t sees tokens t-3..t only, so changing token 0 leaves positions ≥ 4 untouched.
        var config = TinyModels.Mistral(slidingWindow: 4, layers: 1);
        using var model = TinyModels.Create(config);
        using var a = tensor(new long[] { 5, 6, 7, 8, 9, 10, 11 }).view(1, -1);
        using var b = tensor(new long[] { 40, 6, 7, 8, 9, 10, 11 }).view(1, -1);
        using var la = model.Forward(a);
        using var lb = model.Forward(b);
        Assert.That((la.narrow(1, 4, 3) - lb.narrow(1, 4, 3)).abs().max().item<float>(), Is.EqualTo(0f));
        Assert.That((la.narrow(1, 3, 1) - lb.narrow(1, 3, 1)).abs().max().item<float>(), Is.GreaterThan(1e-4f));
    }

    [Test]
    public void LeftPaddedBatchEqualsUnpaddedRows()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        using var row = tensor(new long[] { 4, 8, 15, 16, 23 }).view(1, -1);
        using var alone = model.Forward(row);
        using var padded = tensor(new long[] { 0, 0, 0, 4, 8, 15, 16, 23 }).view(1, -1);
        using var mask = tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1 }).view(1, -1);
        using var batched = model.Forward(padded, mask);
        Assert.That((batched.narrow(1, 3, 5) - alone).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
    }

    [Test]
    public void LeftPaddedCachedDecodingEqualsUnpaddedRows()
    {
        // Decode steps with a padding mask take the grouped-query path (queries of a key/value head stacked, mask
        // repeated per group); each row must equal that row run alone without padding or cache.
        var config = TinyModels.Llama();
        Assert.That(config.NumAttentionHeads / config.NumKeyValueHeads, Is.GreaterThan(1), "the config must group queries");
        using var model = TinyModels.Create(config);
        long[][] rows = [[4, 8, 15, 16, 23, 42, 7], [9, 3, 5, 11, 2, 6, 30]];
        int[] pads = [2, 0];
        long width = 9;
        var ids = new long[2 * width];
        var maskValues = new long[2 * width];
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < rows[b].Length; i++)
            {
                ids[b * width + pads[b] + i] = rows[b][i];
                maskValues[b * width + pads[b] + i] = 1;
            }
        using var batchIds = tensor(ids).view(2, width);
        using var mask = tensor(maskValues).view(2, width);
        using var cache = model.CreateCache(2, (int)width);
        var steps = new List<Tensor> { model.Forward(batchIds.narrow(1, 0, 4), mask.narrow(1, 0, 4), cache: cache) };
        for (int t = 4; t < width; t++) steps.Add(model.Forward(batchIds.narrow(1, t, 1), mask.narrow(1, 0, t + 1), cache: cache));
        using var logits = cat(steps, 1); // [2, width, V]
        foreach (var s in steps) s.Dispose();
        for (int b = 0; b < 2; b++)
        {
            using var alone = model.Forward(tensor(rows[b]).view(1, -1));
            using var real = logits[b].narrow(0, pads[b], rows[b].Length).unsqueeze(0);
            Assert.That((real - alone).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f), $"row {b}");
        }
    }

    [Test]
    public void BadInputsThrowNamedErrors()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        using var outOfVocab = tensor(new long[] { 1, 101 }).view(1, -1);
        Assert.That(() => model.Forward(outOfVocab), Throws.ArgumentException.With.Message.Contains("101"));
        using var oneDim = tensor(new long[] { 1, 2 });
        Assert.That(() => model.Forward(oneDim), Throws.ArgumentException);
        using var ids = tensor(new long[] { 1, 2 }).view(1, -1);
        using var badMask = ones(1, 3, ScalarType.Int64);
        Assert.That(() => model.Forward(ids, badMask), Throws.ArgumentException.With.Message.Contains("attention mask"));
        using var cache = model.CreateCache(1, 2);
        using var three = tensor(new long[] { 1, 2, 3 }).view(1, -1);
        Assert.That(() => model.Forward(three, cache: cache), Throws.ArgumentException.With.Message.Contains("capacity"));
    }

    [Test]
    public void RepeatedForwardsKeepLiveTensorCountFlat()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        using var ids = TinyModels.RandomIds(config, 2, 8);
        using var cache = model.CreateCache(2, 9);
        void Step()
        {
            cache.Reset();
            using var logits = model.Forward(ids, cache: cache);
            using var first = ids.narrow(1, 0, 1);
            using var next = model.Forward(first, cache: cache, lastPositionOnly: true);
        }
        for (int i = 0; i < 3; i++) Step();
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++) Step();
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
    }
}
