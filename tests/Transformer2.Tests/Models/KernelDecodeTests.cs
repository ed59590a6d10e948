using Transformer2.Core.Kernels;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using static TorchSharp.torch;

namespace Transformer2.Tests.Models;

/// <summary>Batch-1 decoding through the managed kernels gives the logits libtorch gives.</summary>
public class KernelDecodeTests
{
    // F32 kernels are opt-in (DecodeGemv.Float32Enabled); these tests check them as well as the BF16 default.
    [OneTimeSetUp]
    public void EnableFloat32Kernels() => DecodeGemv.Float32Enabled = true;

    [OneTimeTearDown]
    public void RestoreDefaults() => DecodeGemv.Float32Enabled = false;

    static IEnumerable<TestCaseData> Configs()
    {
        yield return new TestCaseData(TinyModels.Llama()).SetName("Llama3Scaling_GQA");
        yield return new TestCaseData(TinyModels.Llama(tied: true, scaling: RopeScaling.Linear(2))).SetName("LinearScaling_Tied");
        yield return new TestCaseData(TinyModels.Mistral(slidingWindow: 4)).SetName("MistralSlidingWindow");
    }

    const int Length = 10, Prefill = 4;

    /// <summary>Logits [1, Length, V]: a <see cref="Prefill"/>-token prefill (libtorch), then one token per step.</summary>
    static Tensor DecodeTokenByToken(LlamaForCausalLM model, Tensor ids)
    {
        using var noGrad = no_grad();
        using var cache = model.CreateCache(1, Length);
        var steps = new List<Tensor> { model.Forward(ids.narrow(1, 0, Prefill), cache: cache) };
        for (int t = Prefill; t < Length; t++) steps.Add(model.Forward(ids.narrow(1, t, 1), cache: cache));
        var logits = cat(steps, 1);
        foreach (var step in steps) step.Dispose();
        return logits;
    }

    /// <summary>The same steps with every projection on libtorch.</summary>
    static Tensor DecodeWithLibtorch(LlamaForCausalLM model, Tensor ids)
    {
        DecodeGemv.Enabled = false;
        try
        {
            return DecodeTokenByToken(model, ids);
        }
        finally
        {
            DecodeGemv.Enabled = true;
        }
    }

    static Tensor Full(LlamaForCausalLM model, Tensor ids)
    {
        using var noGrad = no_grad();
        return model.Forward(ids);
    }

    [TestCaseSource(nameof(Configs))]
    public void KernelDecodingEqualsTheFullSequenceInF32(LlamaConfig config)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(config);
        var ids = TinyModels.RandomIds(config, 1, Length);
        long before = DecodeGemv.ProductsComputed;
        var decoded = DecodeTokenByToken(model, ids);
        // 7 projections per layer and the head, for every single-token step.
        long perStep = 7L * config.NumHiddenLayers + 1;
        Assert.That(DecodeGemv.ProductsComputed - before, Is.GreaterThanOrEqualTo(perStep * (Length - Prefill)));
        Assert.That((decoded - Full(model, ids)).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
    }

    [TestCaseSource(nameof(Configs))]
    public void KernelDecodingMatchesLibtorchInBF16(LlamaConfig config)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(config, dtype: ScalarType.BFloat16);
        var ids = TinyModels.RandomIds(config, 1, Length);
        long before = DecodeGemv.ProductsComputed;
        var decoded = DecodeTokenByToken(model, ids).to(ScalarType.Float32);
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
            full = Full(model, ids);
            decoded = DecodeTokenByToken(model, ids);
        }
        Assert.That(DecodeGemv.ProductsComputed - before, Is.GreaterThanOrEqualTo((7L * config.NumHiddenLayers + 1) * (Length - Prefill)));
        using (var unadapted = Full(model, ids)) Assert.That((unadapted - full).abs().max().item<float>(), Is.GreaterThan(1e-3f), "the multipliers matter");
        Assert.That((decoded - full).abs().max().item<float>(), Is.LessThanOrEqualTo(1e-5f));
    }
}
