using System.Text.Json.Nodes;
using TorchSharp;
using Transformer2.Core.IO;
using Transformer2.Core.Svd;
using Transformer2.Core.Svf;
using Transformer2.Tests.Models;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Svd;

public class DecompositionCacheStorageTests
{
    const string Identity = "tiny@rev1";
    const string MetadataKey = "transformer2.decomposition";

    /// <summary>bf16 and fp32 MLP weights of two layers.</summary>
    static Dictionary<string, Tensor> Weights()
    {
        var g = new Generator(seed: 5);
        var weights = new Dictionary<string, Tensor>();
        for (int i = 0; i < 2; i++)
        {
            weights[$"model.layers.{i}.mlp.gate_proj.weight"] = randn(24, 16, generator: g);
            weights[$"model.layers.{i}.mlp.up_proj.weight"] = randn(24, 16, generator: g).to_type(ScalarType.BFloat16);
            weights[$"model.layers.{i}.mlp.down_proj.weight"] = randn(16, 24, generator: g).to_type(ScalarType.BFloat16);
        }
        return weights;
    }

    static double RelativeError(Tensor actual, Tensor expected)
    {
        var e = expected.to_type(ScalarType.Float64);
        return ((actual.to_type(ScalarType.Float64) - e).norm() / e.norm()).item<double>();
    }

    [Test]
    public void WeightDTypeStorageRoundTripsBf16FactorsWithinBf16Rounding()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var weights = Weights();
        string lean = folder.File("lean.safetensors"), full = folder.File("full.safetensors");
        using (DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, full, Identity)) { }
        using var cache = DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, lean, Identity, storage: FactorStorage.WeightDType);

        Assert.That(cache.FactorDTypes["model.layers.0.mlp.up_proj.weight"], Is.EqualTo("BF16"));
        Assert.That(cache.FactorDTypes["model.layers.1.mlp.gate_proj.weight"], Is.EqualTo("F32"), "fp32 weights keep fp32 factors");
        // 4 of 6 targets are bf16: their U and V take half the bytes (the header and fp32 S do not shrink).
        Assert.That(new FileInfo(lean).Length, Is.LessThan(new FileInfo(full).Length * 0.8));
        foreach (var (name, weight) in weights)
        {
            using var factors = cache.GetFactors(name);
            bool bf16 = weight.dtype == ScalarType.BFloat16;
            Assert.That((factors.U.dtype, factors.S.dtype, factors.V.dtype),
                Is.EqualTo(bf16 ? (ScalarType.BFloat16, ScalarType.Float32, ScalarType.BFloat16) : (ScalarType.Float32, ScalarType.Float32, ScalarType.Float32)), name);
            using var fp32 = new SvdFactors(factors.U.to_type(ScalarType.Float32), factors.S.alias(), factors.V.to_type(ScalarType.Float32));
            double error = RelativeError(fp32.Reconstruct(), weight);
            // The documented bound: U and V rounded to bf16 (2⁻⁹ relative per entry) move W by about that much.
            Assert.That(error, Is.LessThan(bf16 ? 1e-2 : 1e-6), name);
            if (bf16) Assert.That(error, Is.GreaterThan(1e-5), $"{name}: the factors really were rounded");
        }
    }

    [Test]
    public void ALeanBuildResumesByteIdenticallyAndDiscardsWorkStoredOtherwise()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var weights = Weights();
        string reference = folder.File("reference.safetensors"), path = folder.File("cache.safetensors");
        using (DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, reference, Identity, storage: FactorStorage.WeightDType)) { }

        // Interrupted fp32 work is not mixed into a bf16 cache.
        using (var cts = new CancellationTokenSource())
        {
            var stop = new Progress(p => { if (p.Completed == 2) cts.Cancel(); });
            Assert.Throws<OperationCanceledException>(() => DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, path, Identity, stop, cancellationToken: cts.Token));
        }
        using (var cts = new CancellationTokenSource())
        {
            var stop = new Progress(p => { if (p.Completed == 3) cts.Cancel(); });
            Assert.Throws<OperationCanceledException>(() => DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, path, Identity, stop,
                cancellationToken: cts.Token, storage: FactorStorage.WeightDType));
            Assert.That(stop.Reports.Select(r => r.Resumed), Has.None.True, "the fp32 partial run was discarded");
        }
        var resumed = new Progress(_ => { });
        using (DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, path, Identity, resumed, storage: FactorStorage.WeightDType)) { }
        Assert.That(resumed.Reports.Select(r => r.Resumed), Is.EqualTo(new[] { true, true, true, false, false, false }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(reference)));
    }

    [Test]
    public void AFormat1Fp32CacheStillLoads()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var weights = Weights();
        string current = folder.File("current.safetensors"), old = folder.File("old.safetensors");
        using (DecompositionCache.Build(WeightSource.FromTensors(weights), TargetSelector.Mlp, current, Identity)) { }
        Rewrite(current, old, json =>
        {
            json["format"] = "transformer2.decomposition/1";
            json.Remove("factor_dtypes");
        });

        using var cache = DecompositionCache.Open(old, Identity, null, TargetSelector.Mlp);
        Assert.That(cache.FactorDTypes.Values, Is.All.EqualTo("F32"));
        using var factors = cache.GetFactors("model.layers.0.mlp.up_proj.weight");
        Assert.That(RelativeError(factors.Reconstruct(), weights["model.layers.0.mlp.up_proj.weight"]), Is.LessThan(1e-6));
    }

    [Test]
    public void FactorDTypesThatDisagreeWithTheTensorsAreRejectedByName()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string current = folder.File("current.safetensors"), lying = folder.File("lying.safetensors"), missing = folder.File("missing.safetensors");
        using (DecompositionCache.Build(WeightSource.FromTensors(Weights()), TargetSelector.Mlp, current, Identity)) { }
        Rewrite(current, lying, json => json["factor_dtypes"]!["model.layers.1.mlp.down_proj.weight"] = "BF16");
        Assert.That(() => DecompositionCache.Open(lying), Throws.InstanceOf<InvalidDataException>()
            .With.Message.Contains("model.layers.1.mlp.down_proj.weight.U").And.Message.Contains("expected BF16"));
        Rewrite(current, missing, json => json.Remove("factor_dtypes"));
        Assert.That(() => DecompositionCache.Open(missing), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("factor_dtypes"));
    }

    [Test]
    public void ABf16CacheInjectsFactoredOnlyLayersThatMatchTheDenseModel()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config, dtype: ScalarType.BFloat16);
        var ids = TinyModels.RandomIds(config, 1, 6);
        Tensor dense;
        using (no_grad()) dense = model.Forward(ids);
        using var cache = DecompositionCache.Build(WeightSource.FromModule(model), TargetSelector.Mlp, folder.File("c.safetensors"), Identity, storage: FactorStorage.WeightDType);
        var layers = SvfInjector.InjectFromCache(model, cache, SvfWeightStorage.FactoredOnly);
        Tensor factored;
        using (no_grad()) factored = model.Forward(ids);
        Assert.That(layers.Values.All(l => !l.HasDenseWeight && l.U.dtype == ScalarType.BFloat16), Is.True);
        Assert.That(RelativeError(factored, dense), Is.LessThan(0.03));
    }

    /// <summary>Copies a cache with its metadata JSON edited (how older or damaged files look).</summary>
    static void Rewrite(string from, string to, Action<JsonObject> edit)
    {
        using var file = SafetensorsFile.Open(from);
        var json = JsonNode.Parse(file.Metadata[MetadataKey])!.AsObject();
        edit(json);
        var tensors = file.Names.Select(n => new KeyValuePair<string, Tensor>(n, file.Read(n))).ToList();
        SafetensorsWriter.Write(to, tensors, new Dictionary<string, string> { ["format"] = "pt", [MetadataKey] = json.ToJsonString() });
    }

    sealed class Progress(Action<DecompositionProgress> onReport) : IProgress<DecompositionProgress>
    {
        public List<DecompositionProgress> Reports { get; } = [];

        public void Report(DecompositionProgress value)
        {
            Reports.Add(value);
            onReport(value);
        }
    }
}
