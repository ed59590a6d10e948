using BenchmarkDotNet.Attributes;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Benchmarks;

/// <summary>
/// Composing W' from U, S, V and z: our column-scaled single product vs the authors' U·diag_embed·Vᵀ vs one plain GEMM
/// of the same [m, k]·[k, n] shape (the floor any composition pays).
/// </summary>
[Config(typeof(HeavyOperationConfig))]
public class CompositionBenchmarks
{
    Tensor _u = null!, _s = null!, _v = null!, _z = null!, _vt = null!;

    [Params("1024x1024", "2048x2048", "4096x4096", "14336x4096")]
    public string Shape { get; set; } = "1024x1024";

    [Params(ScalarType.Float32, ScalarType.BFloat16)]
    public ScalarType DType { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        BenchmarkSetup.Initialize();
        var (m, n) = BenchmarkSetup.Shape(Shape);
        (_u, _s, _v, _z) = BenchmarkSetup.Factors(m, n, DType);
        _vt = _v.t().contiguous().DetachFromDisposeScope();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in new[] { _u, _s, _v, _z, _vt }) t.Dispose();
    }

    [Benchmark(Baseline = true, Description = "plain GEMM [m,k]·[k,n]")]
    public void PlainGemm()
    {
        using var w = _u.matmul(_vt);
    }

    [Benchmark(Description = "SvfComposer.Compose (ours)")]
    public void Ours()
    {
        using var w = SvfComposer.Compose(_u, _s, _v, _z, DType);
    }

    [Benchmark(Description = "U·diag_embed(S⊙z)·Vᵀ (authors)")]
    public void Authors()
    {
        using var w = SvfComposer.ComposeAsAuthors(_u, _s, _v, _z, DType);
    }
}
