using TorchSharp;
using Transformer2.Core.IO;
using Transformer2.Core.Svd;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Svd;

public class DecompositionCacheTests
{
    const string Identity = "tiny-llama@rev1";

    /// <summary>Two decoder layers of a tiny LLaMA-like model: 6 MLP targets plus non-targets.</summary>
    static Dictionary<string, Tensor> TinyModel(int seed = 7)
    {
        var g = new Generator(seed: (ulong)seed);
        var weights = new Dictionary<string, Tensor> { ["model.embed_tokens.weight"] = randn(20, 8, generator: g) };
        for (int i = 0; i < 2; i++)
        {
            weights[$"model.layers.{i}.self_attn.q_proj.weight"] = randn(8, 8, generator: g);
            weights[$"model.layers.{i}.mlp.gate_proj.weight"] = randn(12, 8, generator: g);
            weights[$"model.layers.{i}.mlp.up_proj.weight"] = randn(12, 8, generator: g).to_type(ScalarType.BFloat16);
            weights[$"model.layers.{i}.mlp.down_proj.weight"] = randn(8, 12, generator: g);
            weights[$"model.layers.{i}.post_attention_layernorm.weight"] = ones(8);
        }
        return weights;
    }

    static readonly string[] MlpTargets =
    [
        "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight",
        "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
    ];

    sealed class SyncProgress(Action<DecompositionProgress> onReport) : IProgress<DecompositionProgress>
    {
        public List<DecompositionProgress> Reports { get; } = [];

        public void Report(DecompositionProgress value)
        {
            Reports.Add(value);
            onReport(value);
        }
    }

    sealed class CountingSource(IWeightSource inner) : IWeightSource
    {
        public Dictionary<string, int> Loads { get; } = [];
        public IReadOnlyList<string> Names => inner.Names;
        public long[] Shape(string name) => inner.Shape(name);

        public Tensor Load(string name)
        {
            Loads[name] = Loads.GetValueOrDefault(name) + 1;
            return inner.Load(name);
        }
    }

    [Test]
    public void Build_DecomposesEachTargetOnceAndFactorsReconstructTheWeights()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var model = TinyModel();
        var source = new CountingSource(WeightSource.FromTensors(model));
        var progress = new SyncProgress(_ => { });
        string path = folder.File("cache.safetensors");

        using var cache = DecompositionCache.Build(source, TargetSelector.Mlp, path, Identity, progress);

        Assert.That(cache.Targets, Is.EqualTo(MlpTargets));
        Assert.That(source.Loads.Keys, Is.EquivalentTo(MlpTargets), "non-targets are never loaded");
        Assert.That(source.Loads.Values, Is.All.EqualTo(1), "each target loaded once");
        Assert.That(progress.Reports.Select(r => r.Completed), Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(progress.Reports.Select(r => r.Name), Is.EqualTo(MlpTargets));
        Assert.That(progress.Reports, Has.All.Matches<DecompositionProgress>(r => r.Total == 6 && !r.Resumed));
        Assert.That(Directory.Exists(path + ".partial"), Is.False, "work folder removed");
        Assert.That(cache.ModelIdentity, Is.EqualTo(Identity));
        Assert.That(cache.WeightsFingerprint, Is.EqualTo(WeightsFingerprint.Compute(WeightSource.FromTensors(model), TargetSelector.Mlp)));
        Assert.That(WeightsFingerprint.Of(model.Where(w => MlpTargets.Contains(w.Key)).ToDictionary()), Is.EqualTo(cache.WeightsFingerprint),
            "tensors in memory get the same fingerprint as a weight source");
        Assert.That(cache.SourceDTypes["model.layers.0.mlp.up_proj.weight"], Is.EqualTo("BFloat16"));
        Assert.That(cache.VectorLengths["model.layers.1.mlp.down_proj.weight"], Is.EqualTo(8));
        Assert.That(cache.Shape("model.layers.1.mlp.down_proj.weight"), Is.EqualTo(new long[] { 8, 12 }));

        foreach (string name in MlpTargets)
        {
            using var factors = cache.GetFactors(name);
            var weight = model[name].to_type(ScalarType.Float32);
            // fp32 factors: U·diag(S)·Vᵀ within 1e-5 of W (entries are O(1)).
            Assert.That(factors.Reconstruct().allclose(weight, rtol: 0, atol: 1e-5), Is.True, name);
        }
        using var bf16 = cache.GetFactors(MlpTargets[0], ScalarType.BFloat16);
        Assert.That(bf16.U.dtype, Is.EqualTo(ScalarType.BFloat16));
        Assert.That(() => cache.GetFactors("model.layers.0.self_attn.q_proj.weight"), Throws.InstanceOf<KeyNotFoundException>());

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Names, Has.Count.EqualTo(18));
        Assert.That(file.GetInfo("model.layers.0.mlp.gate_proj.weight.V").Shape, Is.EqualTo(new long[] { 8, 8 }));
        Assert.That(file.GetInfo("model.layers.0.mlp.down_proj.weight.U").Shape, Is.EqualTo(new long[] { 8, 8 }));
        Assert.That(file.GetInfo("model.layers.0.mlp.down_proj.weight.V").Shape, Is.EqualTo(new long[] { 12, 8 }));
    }

    [Test]
    public void Open_RefusesAnotherModelOtherWeightsOrOtherTargets()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var model = TinyModel();
        string path = folder.File("cache.safetensors");
        string fingerprint;
        using (var built = DecompositionCache.Build(WeightSource.FromTensors(model), TargetSelector.Mlp, path, Identity)) fingerprint = built.WeightsFingerprint;

        using (var ok = DecompositionCache.Open(path, Identity, fingerprint, TargetSelector.Mlp)) Assert.That(ok.Targets, Has.Count.EqualTo(6));

        Assert.That(() => DecompositionCache.Open(path, "other-model", null, null),
            Throws.InstanceOf<DecompositionCacheMismatchException>().With.Message.Contains("other-model").And.Message.Contains(Identity).And.Message.Contains(path));

        var retrained = TinyModel();
        retrained["model.layers.1.mlp.down_proj.weight"][0, 0] = tensor(5f);
        string otherFingerprint = WeightsFingerprint.Compute(WeightSource.FromTensors(retrained), TargetSelector.Mlp);
        Assert.That(otherFingerprint, Is.Not.EqualTo(fingerprint));
        Assert.That(() => DecompositionCache.Open(path, Identity, otherFingerprint, TargetSelector.Mlp),
            Throws.InstanceOf<DecompositionCacheMismatchException>().With.Message.Contains("fingerprint"));

        Assert.That(() => DecompositionCache.Open(path, Identity, fingerprint, TargetSelector.Attention),
            Throws.InstanceOf<DecompositionCacheMismatchException>().With.Message.Contains("targets"));
    }

    [Test]
    public void Open_RejectsFilesThatAreNotCompleteCaches()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string plain = folder.File("plain.safetensors");
        SafetensorsWriter.Write(plain, [new("x", ones(2))]);
        Assert.That(() => DecompositionCache.Open(plain), Throws.InstanceOf<InvalidDataException>().With.Message.Contains(plain));

        string path = folder.File("cache.safetensors");
        using (DecompositionCache.Build(WeightSource.FromTensors(TinyModel()), TargetSelector.Mlp, path, Identity)) { }
        string json;
        using (var file = SafetensorsFile.Open(path)) json = file.Metadata["transformer2.decomposition"];
        string broken = folder.File("broken.safetensors");
        SafetensorsWriter.Write(broken, [new("model.layers.0.mlp.gate_proj.weight.U", ones(12, 8))], new Dictionary<string, string> { ["transformer2.decomposition"] = json });
        Assert.That(() => DecompositionCache.Open(broken), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("model.layers.0.mlp.gate_proj.weight.S"));
    }

    [Test]
    public void CancelledBuild_ResumesAndProducesAnIdenticalCache()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var model = TinyModel();
        string reference = folder.File("reference.safetensors");
        using (DecompositionCache.Build(WeightSource.FromTensors(model), TargetSelector.Mlp, reference, Identity)) { }

        string path = folder.File("cache.safetensors");
        using var cts = new CancellationTokenSource();
        var interrupted = new SyncProgress(p => { if (p.Completed == 2) cts.Cancel(); });
        Assert.Throws<OperationCanceledException>(() =>
            DecompositionCache.Build(WeightSource.FromTensors(model), TargetSelector.Mlp, path, Identity, interrupted, cancellationToken: cts.Token));
        Assert.That(File.Exists(path), Is.False, "no cache file before completion");
        Assert.That(Directory.GetFiles(path + ".partial", "*.safetensors"), Has.Length.EqualTo(2));

        var source = new CountingSource(WeightSource.FromTensors(model));
        var resumed = new SyncProgress(_ => { });
        using (DecompositionCache.Build(source, TargetSelector.Mlp, path, Identity, resumed)) { }
        Assert.That(resumed.Reports.Select(r => r.Resumed), Is.EqualTo(new[] { true, true, false, false, false, false }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(reference)), "resumed cache is byte-identical");
    }

    [Test]
    public void PartialWorkOfAnotherModelIsDiscarded()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("cache.safetensors");
        using var cts = new CancellationTokenSource();
        var interrupted = new SyncProgress(p => { if (p.Completed == 3) cts.Cancel(); });
        Assert.Throws<OperationCanceledException>(() =>
            DecompositionCache.Build(WeightSource.FromTensors(TinyModel(seed: 1)), TargetSelector.Mlp, path, "model-a", interrupted, cancellationToken: cts.Token));

        // Same identity and shapes, other weights: the digests differ, so nothing is reused.
        var progress = new SyncProgress(_ => { });
        var other = TinyModel(seed: 2);
        using (var cache = DecompositionCache.Build(WeightSource.FromTensors(other), TargetSelector.Mlp, path, "model-a", progress))
        {
            Assert.That(progress.Reports.Select(r => r.Resumed), Has.None.True);
            using var factors = cache.GetFactors(MlpTargets[0]);
            Assert.That(factors.Reconstruct().allclose(other[MlpTargets[0]], atol: 1e-5), Is.True);
        }
    }

    [Test]
    public void OpenOrBuild_ReusesAMatchingCacheAndRebuildsAStaleOne()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        string path = folder.File("cache.safetensors");
        var model = TinyModel();
        using (DecompositionCache.OpenOrBuild(WeightSource.FromTensors(model), TargetSelector.Mlp, path, Identity)) { }
        var written = File.GetLastWriteTimeUtc(path);

        var progress = new SyncProgress(_ => { });
        using (DecompositionCache.OpenOrBuild(WeightSource.FromTensors(model), TargetSelector.Mlp, path, Identity, progress)) { }
        Assert.That(progress.Reports, Is.Empty, "matching cache opened, nothing decomposed");

        var retrained = TinyModel(seed: 99);
        using (var cache = DecompositionCache.OpenOrBuild(WeightSource.FromTensors(retrained), TargetSelector.Mlp, path, Identity, progress))
        {
            Assert.That(progress.Reports, Has.Count.EqualTo(6), "stale cache rebuilt");
            Assert.That(cache.WeightsFingerprint, Is.EqualTo(WeightsFingerprint.Compute(WeightSource.FromTensors(retrained), TargetSelector.Mlp)));
        }
    }

    [Test]
    public void Build_FromSafetensorsSource_MatchesInMemoryFingerprint()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var model = TinyModel();
        string checkpoint = folder.File("model.safetensors");
        SafetensorsWriter.Write(checkpoint, model);
        using var source = WeightSource.FromSafetensors(checkpoint);
        using var cache = DecompositionCache.Build(source, TargetSelector.Mlp, folder.File("cache.safetensors"), Identity);
        Assert.That(cache.WeightsFingerprint, Is.EqualTo(WeightsFingerprint.Compute(WeightSource.FromTensors(model), TargetSelector.Mlp)));
        Assert.That(cache.Targets, Is.EquivalentTo(MlpTargets));
    }

    [Test]
    public void Build_RejectsSelectorsThatMatchNothingOrNonMatrices()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var source = WeightSource.FromTensors(TinyModel());
        Assert.That(() => DecompositionCache.Build(source, TargetSelector.FromPatterns("nothing-matches"), folder.File("c"), Identity), Throws.ArgumentException);
        Assert.That(() => DecompositionCache.Build(source, TargetSelector.FromPatterns("layernorm"), folder.File("c"), Identity),
            Throws.ArgumentException.With.Message.Contains("post_attention_layernorm"));
    }
}
