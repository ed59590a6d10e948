using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Tests.Core.Svf;

/// <summary>Random weights and their exact SVD for SVF tests.</summary>
internal static class SvfTestData
{
    /// <summary>A random [m, n] weight and its reduced SVD (V, not Vᵀ), all in <paramref name="dtype"/>.</summary>
    public static (Tensor W, Tensor U, Tensor S, Tensor V) Matrix(long m, long n, int seed, ScalarType dtype = ScalarType.Float32)
    {
        var g = new Generator((ulong)seed);
        var w = randn(new[] { m, n }, dtype: ScalarType.Float64, generator: g) / Math.Sqrt(n);
        var (u, s, vh) = linalg.svd(w, fullMatrices: false);
        return (w.to_type(dtype), u.to_type(dtype), s.to_type(dtype), vh.t().contiguous().to_type(dtype));
    }

    /// <summary>A multiplier vector in (0, 1), like sigmoid of an SVF vector.</summary>
    public static Tensor Multiplier(long k, int seed, ScalarType dtype = ScalarType.Float32) =>
        rand(new[] { k }, dtype: ScalarType.Float64, generator: new Generator((ulong)seed)).mul(0.9).add(0.05).to_type(dtype);

    /// <summary>The fp64 reference W' = U·diag(S⊙z)·Vᵀ·ΣS/Σ(S⊙z), written as plainly as possible.</summary>
    public static Tensor Reference(Tensor u, Tensor s, Tensor v, Tensor z)
    {
        var u64 = u.to_type(ScalarType.Float64);
        var s64 = s.to_type(ScalarType.Float64);
        var v64 = v.to_type(ScalarType.Float64);
        var z64 = z.to_type(ScalarType.Float64);
        var sz = s64 * z64;
        return u64.matmul(diag(sz)).matmul(v64.t()) * (s64.sum() / sz.sum());
    }

    /// <summary>Same shape, dtype and bits.</summary>
    public static bool SameBits(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    public static double MaxAbs(Tensor a, Tensor b) =>
        (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max().item<double>();

    public static double RelativeError(Tensor actual, Tensor expected)
    {
        var e = expected.to_type(ScalarType.Float64);
        return ((actual.to_type(ScalarType.Float64) - e).norm() / e.norm()).item<double>();
    }
}
