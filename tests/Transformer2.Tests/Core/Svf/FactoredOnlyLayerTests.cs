using TorchSharp;
using Transformer2.Core.Svf;
using Transformer2.Models.Llama;
using Transformer2.Tests.Models;
using static TorchSharp.torch;
using static Transformer2.Tests.Core.Svf.SvfTestData;

namespace Transformer2.Tests.Core.Svf;

public class FactoredOnlyLayerTests
{
    static Tensor Logits(LlamaForCausalLM model, Tensor ids)
    {
        using var noGrad = no_grad();
        return model.Forward(ids).to_type(ScalarType.Float64);
    }

    static Dictionary<string, Tensor> Expert(IReadOnlyDictionary<string, SvfLinear> layers, int seed) =>
        layers.ToDictionary(kv => kv.Key, kv => Multiplier(kv.Value.Rank, seed++), StringComparer.Ordinal);

    [Test]
    public void FactoredOnlyLogitsMatchTheDenseModelInFp32()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var dense = TinyModels.Create(config);
        using var factoredOnly = TinyModels.Create(config);
        var ids = TinyModels.RandomIds(config, 2, 6);
        var plain = Logits(dense, ids);
        var denseLayers = SvfInjector.InjectDecomposed(dense);
        var layers = SvfInjector.InjectDecomposed(factoredOnly, storage: SvfWeightStorage.FactoredOnly);

        Assert.That(layers.Values.All(l => !l.HasDenseWeight), Is.True);
        Assert.That(MaxAbs(Logits(factoredOnly, ids), plain), Is.LessThan(1e-4), "base model: z = 1 gives back W");
        var expert = Expert(layers, 10);
        Tensor adaptedDense, adaptedFactored;
        using (SvfContext.Use(expert)) adaptedDense = Logits(dense, ids);
        using (SvfContext.Use(expert)) adaptedFactored = Logits(factoredOnly, ids);
        Assert.That(MaxAbs(adaptedFactored, plain), Is.GreaterThan(1e-3), "the expert changes the logits");
        Assert.That(MaxAbs(adaptedFactored, adaptedDense), Is.LessThan(1e-5), "same factored path as with the dense weight kept");
        Assert.That(denseLayers.Count, Is.EqualTo(layers.Count));
    }

    [Test]
    public void FactoredOnlyLogitsMatchTheDenseModelWithinBf16Tolerance()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var dense = TinyModels.Create(config, dtype: ScalarType.BFloat16);
        using var factoredOnly = TinyModels.Create(config, dtype: ScalarType.BFloat16);
        var ids = TinyModels.RandomIds(config, 2, 6);
        var plain = Logits(dense, ids);
        var layers = SvfInjector.InjectDecomposed(factoredOnly, storage: SvfWeightStorage.FactoredOnly);

        Assert.That(layers.Values.All(l => l.U.dtype == ScalarType.BFloat16 && l.V.dtype == ScalarType.BFloat16), Is.True);
        double error = RelativeError(Logits(factoredOnly, ids), plain);
        // bf16 keeps 8 mantissa bits (ε ≈ 0.0078); two thinner GEMMs instead of one round differently, so allow a few ε.
        Assert.That(error, Is.LessThan(0.03), $"relative logit error {error:E2}");
        Assert.That(error, Is.GreaterThan(0), "bf16 rounding differs: the two paths really ran");
    }

    [Test]
    public void RepeatedForwardsAndExpertSwitchesKeepTheLiveTensorCountFlat()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        var layers = SvfInjector.InjectDecomposed(model, storage: SvfWeightStorage.FactoredOnly);
        using var ids = TinyModels.RandomIds(config, 1, 5);
        var experts = new[] { Expert(layers, 1), Expert(layers, 50) };
        void Step(int i)
        {
            using (SvfContext.Use(experts[i % 2]))
            using (var logits = model.Forward(ids)) { }
            using var baseLogits = model.Forward(ids);
        }
        for (int i = 0; i < 3; i++) Step(i);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 30; i++) Step(i);
        Assert.That(DisposeScopeManager.Statistics.ThreadTotalLiveCount, Is.EqualTo(before));
        foreach (var t in experts.SelectMany(e => e.Values)) t.Dispose();
    }

    [Test]
    public void SwitchingExpertsIsAVectorSwapThatComesBackToTheSameLogits()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        var layers = SvfInjector.InjectDecomposed(model, storage: SvfWeightStorage.FactoredOnly);
        var ids = TinyModels.RandomIds(config, 1, 5);
        var first = Expert(layers, 1);
        var second = Expert(layers, 60);

        foreach (var (target, z) in first) layers[target].Multiplier = z;
        var a = Logits(model, ids);
        foreach (var (target, z) in second) layers[target].Multiplier = z;
        var b = Logits(model, ids);
        foreach (var (target, z) in first) layers[target].Multiplier = z;
        var again = Logits(model, ids);

        Assert.That(MaxAbs(a, b), Is.GreaterThan(1e-3), "the experts differ");
        Assert.That(SameBits(a, again), Is.True, "nothing of the first switch was left behind");
    }

    [Test]
    public void WhatNeedsTheDenseWeightRefusesOrRebuildsIt()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        var ids = TinyModels.RandomIds(config, 1, 4);
        var plain = Logits(model, ids);
        var layers = SvfInjector.InjectDecomposed(model, storage: SvfWeightStorage.FactoredOnly);
        var layer = layers.Values.First();
        var z = Multiplier(layer.Rank, 3);

        Assert.That(model.state_dict().Keys.Any(k => k.EndsWith("mlp.up_proj.weight", StringComparison.Ordinal)), Is.False, "the dense weight is gone from the state dict");
        Assert.That(() => layer.Merge(z), Throws.InvalidOperationException.With.Message.Contains("factored-only").And.Message.Contains(layer.TargetName));
        Assert.That(() => layer.MergeComposed(zeros(layer.OutFeatures, layer.InFeatures)), Throws.InvalidOperationException.With.Message.Contains("factored-only"));
        using (var blend = new SvfBlendCache(layers, [Expert(layers, 1), Expert(layers, 2)]))
            Assert.That(() => blend.MergeInto(layers, MixtureWeights.Uniform(2)), Throws.InvalidOperationException.With.Message.Contains("factored-only"));
        string folder = Path.Combine(Path.GetTempPath(), "t2-factored-only-" + Guid.NewGuid().ToString("N"));
        Assert.That(() => model.SavePretrained(folder), Throws.InvalidOperationException.With.Message.Contains("factored-only").And.Message.Contains("SvfInjector.Remove"));
        Assert.That(Directory.Exists(folder), Is.False, "nothing written");

        SvfInjector.Remove(model);
        Assert.That(model.state_dict().Keys.Count(k => k.EndsWith("mlp.up_proj.weight", StringComparison.Ordinal)), Is.EqualTo(config.NumHiddenLayers), "W = U·diag(S)·Vᵀ rebuilt");
        Assert.That(MaxAbs(Logits(model, ids), plain), Is.LessThan(1e-4));
    }

    [Test]
    public void DroppingWhileMergedIsRefusedAndMovingKeepsTheFactors()
    {
        using var scope = NewDisposeScope();
        var (w, u, s, v) = Matrix(12, 8, 5);
        using var layer = new SvfLinear("layer.weight", w, null, u, s, v);
        layer.Merge(Multiplier(8, 2));
        Assert.That(() => layer.DropDenseWeight(), Throws.InvalidOperationException.With.Message.Contains("Unmerge"));
        layer.Unmerge();
        layer.DropDenseWeight();
        layer.DropDenseWeight();   // idempotent
        layer.to(ScalarType.BFloat16);
        Assert.That((layer.DType, layer.U.dtype, layer.V.dtype, layer.S.dtype), Is.EqualTo((ScalarType.BFloat16, ScalarType.BFloat16, ScalarType.BFloat16, ScalarType.Float32)));
        var x = randn(3, 8, dtype: ScalarType.BFloat16);
        Assert.That(RelativeError(layer.forward(x), nn.functional.linear(x.to_type(ScalarType.Float32), w)), Is.LessThan(0.03));
    }
}
