using Transformer2.Core.Kernels;
using Transformer2.Core.Quantization;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Gguf;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>A LLaMA-family model with its projections stored as int8 blocks (the opt-in load option).</summary>
public class Int8WeightsTests
{
    const int Length = 10, Prefill = 4;

    static IEnumerable<TestCaseData> Configs()
    {
        yield return new TestCaseData(TinyModels.Llama()).SetName("Int8_Llama3Scaling_GQA");
        yield return new TestCaseData(TinyModels.Llama(tied: true)).SetName("Int8_Tied");
        yield return new TestCaseData(TinyModels.Mistral(slidingWindow: 4)).SetName("Int8_MistralSlidingWindow");
    }

    [TestCaseSource(nameof(Configs))]
    public void Int8DecodingEqualsItsFullPassAndStaysCloseToF32(LlamaConfig config)
    {
        using var scope = NewDisposeScope();
        using var reference = TinyModels.Create(config);
        using var model = TinyModels.Create(config);
        var ids = TinyModels.RandomIds(config, 1, Length);
        var f32 = TinyModels.FullLogits(reference, ids);

        var quantized = model.QuantizeWeights();
        Assert.That(quantized.Count, Is.EqualTo(7 * config.NumHiddenLayers + 1), "q/k/v/o, gate/up/down per layer and the head");
        long before = DecodeGemv.ProductsComputed;
        var decoded = TinyModels.DecodeTokenByToken(model, ids, Prefill);
        Assert.That(DecodeGemv.ProductsComputed - before, Is.GreaterThanOrEqualTo((7L * config.NumHiddenLayers + 1) * (Length - Prefill)), "every decode step's products on the int8 kernel");
        var full = TinyModels.FullLogits(model, ids);
        // Decoding (int8 kernel) and the full pass (dequantized weights) compute the same function.
        Assert.That((decoded - full).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));

        float error = ((full - f32).norm() / f32.norm()).item<float>();
        TestContext.Out.WriteLine($"{config.ModelType}: int8 vs F32 logits, relative error {error:E2}, max |Δ| {(full - f32).abs().max().item<float>():E2}");
        Assert.That(error, Is.LessThan(0.02f));
        Assert.That(error, Is.GreaterThan(0f), "the weights really are rounded");
    }

    [Test]
    public void TiedHeadGetsAnInt8CopyAndTheEmbeddingTableStays()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama(tied: true);
        using var model = TinyModels.Create(config);
        var table = model.model.embed_tokens.weight!.detach().clone();
        model.QuantizeWeights();
        Assert.That(model.lm_head, Is.InstanceOf<Q8Linear>());
        Assert.That(model.model.embed_tokens.weight!.eq(table).all().item<bool>(), Is.True);
        using var noGrad = no_grad();
        Assert.That(model.Forward(TinyModels.RandomIds(config, 1, 3)).shape, Is.EqualTo(new long[] { 1, 3, config.VocabSize }));
    }

    [Test]
    public void LoadOptionQuantizesWhatItLoads()
    {
        using var scope = NewDisposeScope();
        string folder = TinyModels.TempFolder();
        try
        {
            var config = TinyModels.Llama();
            using (var saved = TinyModels.Create(config)) saved.SavePretrained(folder);
            using var loaded = LlamaForCausalLM.FromPretrained(folder, quantization: WeightQuantization.Int8);
            using var inMemory = TinyModels.Create(config);
            inMemory.QuantizeWeights();
            Assert.That(loaded.modules().OfType<Q8Linear>().Count(), Is.EqualTo(7 * config.NumHiddenLayers + 1));
            var ids = TinyModels.RandomIds(config, 1, 6);
            Assert.That(TinyModels.FullLogits(loaded, ids).eq(TinyModels.FullLogits(inMemory, ids)).all().item<bool>(), Is.True, "the same int8 model");
            Assert.That(() => LlamaForCausalLM.FromPretrained(folder, quantization: (WeightQuantization)7), Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void Int8ModelsRefuseToBeSavedOrDecomposed()
    {
        using var scope = NewDisposeScope();
        string folder = TinyModels.TempFolder();
        try
        {
            using var model = TinyModels.Create(TinyModels.Llama());
            model.QuantizeWeights();
            Assert.That(() => model.SavePretrained(folder), Throws.InvalidOperationException.With.Message.Contains("int8").And.Message.Contains("(first: "));
            Assert.That(Directory.EnumerateFiles(folder), Is.Empty, "nothing written");
            Assert.That(() => LlamaGguf.WriteModel(model, Path.Combine(folder, "m.gguf")), Throws.InvalidOperationException.With.Message.Contains("int8"));
            Assert.That(() => SvfInjector.InjectDecomposed(model), Throws.ArgumentException.With.Message.Contains("int8").And.Message.Contains("mlp"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void SvfLayersKeepTheWorkingDtypeWhenTheRestIsInt8()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        var svf = SvfInjector.InjectDecomposed(model, TargetSelector.Default);
        var quantized = model.QuantizeWeights();
        Assert.That(quantized.Keys.Any(k => k.Contains(".mlp.")), Is.False, "the adapted MLP stays SVF");
        Assert.That(quantized.Keys.Count(k => k.Contains(".self_attn.")), Is.EqualTo(4 * config.NumHiddenLayers));
        var generator = new Generator(5);
        var multipliers = svf.ToDictionary(p => p.Key, p => rand(new[] { p.Value.Rank }, generator: generator) + 0.5);
        var ids = TinyModels.RandomIds(config, 1, Length);
        Tensor adapted, decoded;
        using (SvfContext.Use(multipliers, SvfPath.Factored))
        {
            adapted = TinyModels.FullLogits(model, ids);
            decoded = TinyModels.DecodeTokenByToken(model, ids, Prefill);
        }
        Assert.That((decoded - adapted).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
        Assert.That((TinyModels.FullLogits(model, ids) - adapted).abs().max().item<float>(), Is.GreaterThan(1e-3f), "the expert still changes the output");
    }
}
