namespace Transformer2.Core.Svd;

/// <summary>The dtype a <see cref="DecompositionCache"/> stores U and V in (S is always fp32).</summary>
public enum FactorStorage
{
    /// <summary>fp32 U and V, as decomposed: exact, but 2× the bytes of a bf16 weight's factors (≈ 2.6× the weight for 4096×14336).</summary>
    Float32,

    /// <summary>
    /// U and V in the dtype of the weight they came from (bf16 for a bf16 model, fp32 for an fp32 one): half the file
    /// and read time for 16-bit models. The entries of U and V are at most 1 in magnitude, so rounding to bf16 costs a
    /// relative error of at most 2⁻⁹ per entry; the reconstructed W differs from the original by about that much
    /// relative to its norm, the same rounding a bf16 model applies to its U and V when it loads an fp32 cache anyway.
    /// </summary>
    WeightDType,
}
