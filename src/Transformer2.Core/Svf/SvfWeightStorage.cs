namespace Transformer2.Core.Svf;

/// <summary>What an <see cref="SvfLinear"/> keeps in memory besides its SVD factors.</summary>
public enum SvfWeightStorage
{
    /// <summary>
    /// The dense weight W and U, S, V: the base model runs x·Wᵀ at full speed and experts can be merged into W, but an
    /// adapted matrix costs W plus its factors (≈ 2.3× W for a 4096×14336 matrix).
    /// </summary>
    Dense,

    /// <summary>
    /// U, S and V only (see <see cref="SvfLinear.DropDenseWeight"/>): an adapted matrix costs its factors (≈ 1.29× W for a
    /// 4096×14336 matrix), every forward reads U and V instead of W, experts cannot be merged, and the base model is z = 1.
    /// </summary>
    FactoredOnly,
}
