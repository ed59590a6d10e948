using Transformer2.Core.Kernels;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>Batch-1 decoding through the managed kernels gives the logits libtorch gives.</summary>
public class KernelDecodeTests
{
    static IEnumerable<TestCaseData> Configs()
    {
        yield return new TestCaseData(TinyModels.Llama()).SetName("Llama3Scaling_GQA");
        yield return new TestCaseData(TinyModels.Llama(tied: true, scaling: RopeScaling.Linear(2))).SetName("LinearScaling_Tied");
        yield return new TestCaseData(TinyModels.Mistral(slidingWindow: 4)).SetName("MistralSlidingWindow");
    }

    const int Length = 10, Prefill = 4;

    /// <summary>The same token-by-token steps with every projection on libtorch.</summary>
    static Tensor DecodeWithLibtorch(LlamaForCausalLM model, Tensor ids)
    {
        DecodeGemv.Enabled = false;
        try
        {
            return TinyModels.DecodeTokenByToken(model, ids, Prefill);
        }
        finally
        {
            DecodeGemv.Enabled = true;
        }
    }

    [TestCaseSource(nameof(Configs))]
    public void KernelDecodingEqualsTheFullSequenceInF32(LlamaConfig config)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(config);
        var ids = TinyModels.RandomIds(config, 1, Length);
        long before = DecodeGemv.ProductsComputed;
        var decoded = TinyModels.DecodeTokenByToken(model, ids, Prefill);
        // 7 projections per layer and the head, for every single-token step.
        long perStep = 7L * config.NumHiddenLayers + 1;
        Assert.That(DecodeGemv.ProductsComputed - before, Is.GreaterThanOrEqualTo(perStep * (Length - Prefill)));
        Assert.That((decoded - TinyModels.FullLogits(model, ids)).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
    }

    [TestCaseSource(nameof(Configs))]
    public void KernelDecodingMatchesLibtorchInBF16(LlamaConfig config)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(config, dtype: ScalarType.BFloat16);
        var ids = TinyModels.RandomIds(config, 1, Length);
        long before = DecodeGemv.ProductsComputed;
        var decoded = TinyModels.DecodeTokenByToken(model, ids, Prefill).to(ScalarType.Float32);
        Assert.That(DecodeGemv.ProductsComputed, Is.GreaterThan(before));
        var reference = DecodeWithLibtorch(model, ids).to(ScalarType.Float32);
        float scale = reference.abs().max().item<float>();
        float difference = (decoded - reference).abs().max().item<float>();
        TestContext.Out.WriteLine($"BF16 max |kernel - libtorch| {difference:E2}, logit scale {scale:E2}");
        // Both round every projection to BF16 once; summation order may flip a last bit, which the next layers carry.
        Assert.That(difference, Is.LessThanOrEqualTo(0.05f * scale));
        Assert.That(decoded.argmax(-1).equal(reference.argmax(-1)).all().item<bool>(), Is.True, "same greedy tokens");
    }

    [Test]
    public void FactoredSvfDecodingEqualsTheFullSequence()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        var layers = SvfInjector.Inject(model, TargetSelector.MlpAndAttention.IsTarget, (_, weight) =>
        {
            var (u, s, vh) = linalg.svd(weight.detach(), fullMatrices: false);
            return (u, s, vh.t());
        });
        var generator = new Generator(3);
        var multipliers = layers.ToDictionary(p => p.Key, p => rand(new[] { p.Value.Rank }, generator: generator) + 0.5);
        var ids = TinyModels.RandomIds(config, 1, Length);
        Tensor full, decoded;
        long before = DecodeGemv.ProductsComputed;
        using (SvfContext.Use(multipliers, SvfPath.Factored))
        {
            full = TinyModels.FullLogits(model, ids);
            decoded = TinyModels.DecodeTokenByToken(model, ids, Prefill);
        }
        Assert.That(DecodeGemv.ProductsComputed - before, Is.GreaterThanOrEqualTo((7L * config.NumHiddenLayers + 1) * (Length - Prefill)));
        using (var unadapted = TinyModels.FullLogits(model, ids)) Assert.That((unadapted - full).abs().max().item<float>(), Is.GreaterThan(1e-3f), "the multipliers matter");
        Assert.That((decoded - full).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
    }
}
