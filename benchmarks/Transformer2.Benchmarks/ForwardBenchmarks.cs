using BenchmarkDotNet.Attributes;
using TorchSharp;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// One adapted 4096×4096 projection: the factored path ((x·V)⊙s)·Uᵀ vs a forward through merged weights.
/// Merged pays its composition once per expert switch (see CompositionBenchmarks); factored pays two GEMMs per call
/// but never touches shared weights.
/// </summary>
[Config(typeof(HeavyOperationConfig))]
public class ForwardBenchmarks
{
    SvfLinear _layer = null!;
    Tensor _x = null!, _z = null!;
    const long Size = 4096;

    [Params(1, 16, 256)]
    public int Tokens { get; set; }

    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkSetup.Initialize();
        var (u, s, v, z) = BenchmarkSetup.Factors(Size, Size, DType);
        using var w = randn(new[] { Size, Size }, dtype: DType);
        _layer = new SvfLinear("w", w, null, u, s, v);
        _z = z;
        _x = randn(new long[] { 1, Tokens, Size }, generator: new Generator(3)).to_type(DType).DetachFromDisposeScope();
        _layer.Merge(_z);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _layer.Dispose();
        _x.Dispose();
        _z.Dispose();
    }

    [Benchmark(Baseline = true, Description = "merged weights")]
    public void Merged()
    {
        _layer.Multiplier = null;
        using var y = _layer.forward(_x);
    }

    [Benchmark(Description = "factored ((x·V)⊙s)·Uᵀ")]
    public void Factored()
    {
        _layer.Multiplier = _z;
        _layer.Path = SvfPath.Factored;
        using var y = _layer.forward(_x);
    }
}
