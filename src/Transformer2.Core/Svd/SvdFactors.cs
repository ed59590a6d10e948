using TorchSharp;

namespace Transformer2.Core.Svd;

/// <summary>
/// The reduced SVD of one weight matrix W [m, n]: U [m, k], S [k], V [n, k] with k = min(m, n) and
/// W ≈ U·diag(S)·Vᵀ. As <c>torch.svd</c> (and the authors' cache), V is stored, not Vᵀ.
/// </summary>
/// <remarks>The instance owns its three tensors; <see cref="Dispose"/> releases them.</remarks>
public sealed class SvdFactors : IDisposable
{
    /// <summary>Takes ownership of the three factors after checking that their shapes agree.</summary>
    /// <param name="u">U [m, k].</param>
    /// <param name="s">S [k].</param>
    /// <param name="v">V [n, k].</param>
    /// <exception cref="ArgumentException">The shapes do not form a reduced SVD.</exception>
    public SvdFactors(torch.Tensor u, torch.Tensor s, torch.Tensor v)
    {
        ArgumentNullException.ThrowIfNull(u);
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(v);
        if (u.dim() != 2 || s.dim() != 1 || v.dim() != 2 || u.shape[1] != s.shape[0] || v.shape[1] != s.shape[0]
            || s.shape[0] != Math.Min(u.shape[0], v.shape[0]))
            throw new ArgumentException(
                $"U [{string.Join(", ", u.shape)}], S [{string.Join(", ", s.shape)}], V [{string.Join(", ", v.shape)}] are not the factors of a reduced SVD (U [m, k], S [k], V [n, k], k = min(m, n)).");
        U = u;
        S = s;
        V = v;
    }

    /// <summary>Left singular vectors U [m, k].</summary>
    public torch.Tensor U { get; }

    /// <summary>Singular values S [k], in descending order.</summary>
    public torch.Tensor S { get; }

    /// <summary>Right singular vectors V [n, k] (not Vᵀ).</summary>
    public torch.Tensor V { get; }

    /// <summary>m: rows of the decomposed weight.</summary>
    public long Rows => U.shape[0];

    /// <summary>n: columns of the decomposed weight.</summary>
    public long Columns => V.shape[0];

    /// <summary>k = min(m, n): the number of singular values (the SVF vector length).</summary>
    public long Rank => S.shape[0];

    /// <summary>
    /// Decomposes <paramref name="weight"/> in fp32, whatever its dtype: <c>torch.linalg.svd(W, full_matrices=False)</c>,
    /// with V = Vhᵀ made contiguous. The factors are fp32 on the weight's device.
    /// </summary>
    /// <param name="weight">A 2-D floating-point matrix with finite values; it is not modified.</param>
    /// <exception cref="ArgumentException">The weight is not 2-D, not floating point, empty, or holds NaN/Inf.</exception>
    public static SvdFactors Decompose(torch.Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.dim() != 2)
            throw new ArgumentException($"Only matrices can be decomposed; got shape [{string.Join(", ", weight.shape)}].", nameof(weight));
        if (!weight.is_floating_point())
            throw new ArgumentException($"Only floating-point matrices can be decomposed; got {weight.dtype}.", nameof(weight));
        if (weight.shape[0] == 0 || weight.shape[1] == 0)
            throw new ArgumentException($"Cannot decompose an empty matrix [{string.Join(", ", weight.shape)}].", nameof(weight));
        // LAPACK's behaviour on NaN/Inf is undefined (it may loop or return garbage): refuse before calling it.
        if (!TensorChecks.AllFinite(weight))
            throw new ArgumentException("The matrix holds NaN or infinite values.", nameof(weight));

        using var scope = torch.NewDisposeScope();
        var w = weight.detach().to_type(torch.ScalarType.Float32);
        var (u, s, vh) = torch.linalg.svd(w, fullMatrices: false);
        var v = vh.mT.contiguous();
        return new SvdFactors(u.contiguous().MoveToOuterDisposeScope(), s.contiguous().MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    /// <summary>U·diag(S)·Vᵀ in the factors' dtype (scales the columns of U; no dense diagonal matrix).</summary>
    /// <returns>A new [m, n] tensor the caller owns.</returns>
    public torch.Tensor Reconstruct()
    {
        using var scope = torch.NewDisposeScope();
        return U.mul(S.unsqueeze(0)).matmul(V.mT).MoveToOuterDisposeScope();
    }

    /// <summary>Disposes U, S and V.</summary>
    public void Dispose()
    {
        U.Dispose();
        S.Dispose();
        V.Dispose();
    }
}
