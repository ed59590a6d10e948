using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// Builds the adapted weight W' = U·diag(S⊙z)·Vᵀ·(ΣS / Σ(S⊙z)) from cached SVD factors.
/// </summary>
/// <remarks>
/// The authors build a dense k×k diagonal with <c>diag_embed</c> and multiply three matrices; scaling the columns
/// of U first and doing one product gives the same matrix at half the arithmetic (t2-reference §1.4). The scalar
/// keeps the sum of singular values (the nuclear norm) of W' equal to that of W, so a constant z returns W.
/// All functions are differentiable through z.
/// </remarks>
public static class SvfComposer
{
    /// <summary>
    /// The per-singular-value scale s = S⊙z·(ΣS / Σ(S⊙z)), computed in fp32 (fp64 if S or z is fp64).
    /// <paramref name="z"/> is [k] or [..., k] (one multiplier vector per row of a batch); the sums run over the last axis.
    /// </summary>
    public static Tensor ScaledSingularValues(Tensor singularValues, Tensor z)
    {
        if (singularValues.ndim != 1) throw new ArgumentException($"S must be 1-D, got shape [{string.Join(", ", singularValues.shape)}].", nameof(singularValues));
        if (z.shape[^1] != singularValues.shape[0])
            throw new ArgumentException($"z has {z.shape[^1]} entries but the matrix has {singularValues.shape[0]} singular values.", nameof(z));
        using var scope = NewDisposeScope();
        var type = singularValues.dtype == ScalarType.Float64 || z.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        var s = singularValues.to_type(type);
        var sz = s * z.to_type(type);                                 // [..., k]
        var c = s.sum() / sz.sum(-1, keepdim: true);                  // [..., 1]
        return (sz * c).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// W' [m, n] from U [m, k], S [k], V [n, k] and z [k], in <paramref name="dtype"/> (the model's dtype; defaults to U's).
    /// U and V should already be in that dtype (and contiguous) for speed (<see cref="SvfLinear"/> keeps them so).
    /// </summary>
    public static Tensor Compose(Tensor u, Tensor singularValues, Tensor v, Tensor z, ScalarType? dtype = null)
    {
        CheckFactors(u, singularValues, v);
        if (z.ndim != 1) throw new ArgumentException("Compose takes one multiplier vector; use the factored path for per-row multipliers.", nameof(z));
        var type = dtype ?? u.dtype;
        using var scope = NewDisposeScope();
        var scale = ScaledSingularValues(singularValues, z).to_type(type);   // [k]
        var uScaled = u.to_type(type) * scale;                               // [m, k]: column j of U times s_j
        return uScaled.matmul(v.to_type(type).t()).MoveToOuterDisposeScope(); // [m, k]·[k, n] = [m, n]
    }

    /// <summary>
    /// The authors' formula as written: U·diag_embed(S⊙z)·Vᵀ·c. Kept as a reference and for benchmarks.
    /// </summary>
    public static Tensor ComposeAsAuthors(Tensor u, Tensor singularValues, Tensor v, Tensor z, ScalarType? dtype = null)
    {
        CheckFactors(u, singularValues, v);
        var type = dtype ?? u.dtype;
        using var scope = NewDisposeScope();
        var s = singularValues.to_type(type);
        var sz = s * z.to_type(type);
        var c = s.sum() / sz.sum();
        var w = u.to_type(type).matmul(diag_embed(sz)).matmul(v.to_type(type).t()) * c;
        return w.MoveToOuterDisposeScope();
    }

    /// <summary>The unnormalised composition A = U·diag(S⊙z)·Vᵀ and its singular-value sum Σ(S⊙z); used by blending.</summary>
    internal static (Tensor Matrix, double SingularValueSum) ComposeUnnormalised(Tensor u, Tensor singularValues, Tensor v, Tensor z, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var sz = singularValues.to_type(ScalarType.Float32) * z.to_type(ScalarType.Float32);
        double sum = sz.sum().to_type(ScalarType.Float64).item<double>();
        var a = (u.to_type(dtype) * sz.to_type(dtype)).matmul(v.to_type(dtype).t());
        return (a.MoveToOuterDisposeScope(), sum);
    }

    internal static void CheckFactors(Tensor u, Tensor singularValues, Tensor v)
    {
        if (u.ndim != 2 || v.ndim != 2 || singularValues.ndim != 1)
            throw new ArgumentException($"Expected U [m, k], S [k], V [n, k]; got U [{string.Join(", ", u.shape)}], S [{string.Join(", ", singularValues.shape)}], V [{string.Join(", ", v.shape)}].");
        long k = singularValues.shape[0];
        if (u.shape[1] != k || v.shape[1] != k)
            throw new ArgumentException($"U [{string.Join(", ", u.shape)}] and V [{string.Join(", ", v.shape)}] must both have {k} columns, one per singular value.");
    }
}
