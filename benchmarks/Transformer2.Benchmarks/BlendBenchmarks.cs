using BenchmarkDotNet.Attributes;
using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// One CEM candidate with K = 3 experts: blending the three cached compositions vs recomposing from the mixed z.
/// </summary>
[Config(typeof(HeavyOperationConfig))]
public class BlendBenchmarks
{
    SvfLinear _layer = null!;
    SvfBlendCache _cache = null!;
    Tensor _mixed = null!;
    Tensor _destination = null!;
    readonly double[] _alphas = { 0.2, 0.5, 0.3 };
    const string Target = "w";

    [Params(1024, 2048, 4096)]
    public int Size { get; set; }

    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkSetup.Initialize();
        var (u, s, v, _) = BenchmarkSetup.Factors(Size, Size, DType);
        using var w = zeros(new long[] { Size, Size }, dtype: DType);
        _layer = new SvfLinear(Target, w, null, u, s, v);
        var experts = Enumerable.Range(0, 3)
            .Select(k => (IReadOnlyDictionary<string, Tensor>)new Dictionary<string, Tensor> { [Target] = randn(new long[] { Size }, generator: new Generator((ulong)k + 7)).DetachFromDisposeScope() })
            .ToList();
        var basis = SvfMixer.MixingBasis(experts, SvfParameterization.Default, MixtureSemantics.Multipliers);
        _cache = new SvfBlendCache(new Dictionary<string, SvfLinear> { [Target] = _layer }, basis.Cast<IReadOnlyDictionary<string, Tensor>>().ToList());
        _destination = empty(new long[] { Size, Size }, DType);
        _mixed = SvfMixer.Mix(experts, MixtureWeights.Global(_alphas), SvfParameterization.Default)[Target].DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cache.Dispose();
        _layer.Dispose();
        _mixed.Dispose();
        _destination.Dispose();
    }

    [Benchmark(Baseline = true, Description = "recompose from mixed z")]
    public void Recompose()
    {
        using var w = SvfComposer.Compose(_layer.U, _layer.S, _layer.V, _mixed, DType);
    }

    [Benchmark(Description = "blend 3 cached compositions")]
    public void Blend()
    {
        using var w = _cache.Blend(Target, _alphas);
    }

    // What merged-mode CEM does per candidate: blend straight into a weight that already exists (no 4-byte·m·n
    // allocation and its page faults per candidate).
    [Benchmark(Description = "blend into an existing weight")]
    public void BlendInto() => _cache.BlendInto(Target, _alphas, _destination);
}
