using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// The change an SVF multiplier makes to a weight, as a low-rank product: W' − W = U·diag(d)·Vᵀ with
/// d = S⊙z·c − S and c = ΣS / Σ(S⊙z) (the rescaling <see cref="SvfComposer"/> applies), exact when W = U·diag(S)·Vᵀ.
/// </summary>
/// <remarks>
/// Truncating to rank r keeps the r entries of d with the largest magnitude, which is the best rank-r approximation of
/// the change in Frobenius norm (U and V are orthonormal). The magnitude goes to B: B = U_r·diag(d_r), A = V_rᵀ,
/// so a LoRA with α = r (scaling 1) adds exactly B·A.
/// </remarks>
public static class SvfDelta
{
    /// <summary>The diagonal d = S⊙z·c − S [k] (fp32, fp64 for fp64 inputs).</summary>
    public static Tensor Diagonal(Tensor singularValues, Tensor z)
    {
        if (z.ndim != 1) throw new ArgumentException("The delta of a weight takes one multiplier vector [k].", nameof(z));
        using var scope = NewDisposeScope();
        var scaled = SvfComposer.ScaledSingularValues(singularValues, z);
        return (scaled - singularValues.to_type(scaled.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// LoRA factors A [r, in] and B [out, r] (in <paramref name="dtype"/>) with B·A the rank-<paramref name="rank"/> truncation of W' − W.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is below 1 or above the number of singular values.</exception>
    public static (Tensor A, Tensor B) LowRank(Tensor u, Tensor singularValues, Tensor v, Tensor z, int rank, ScalarType dtype)
    {
        SvfComposer.CheckFactors(u, singularValues, v);
        long k = singularValues.shape[0];
        if (rank < 1 || rank > k) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must be between 1 and the {k} singular values of the matrix.");
        using var scope = NewDisposeScope();
        var d = Diagonal(singularValues, z);
        // Sorted by |d| descending (topk's order), so rank r is a prefix of rank r + 1.
        var (_, keep) = d.abs().topk(rank);
        var b = u.to_type(d.dtype).index_select(1, keep) * d.index_select(0, keep);   // [out, r]: columns of U times d
        var a = v.to_type(d.dtype).index_select(1, keep).t();                         // [r, in]
        var result = (a.to_type(dtype).contiguous(), b.to_type(dtype).contiguous());
        result.Item1.MoveToOuterDisposeScope();
        result.Item2.MoveToOuterDisposeScope();
        return result;
    }
}
