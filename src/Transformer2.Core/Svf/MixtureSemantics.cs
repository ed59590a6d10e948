namespace Transformer2.Core.Svf;

/// <summary>What a mixture of experts adds up.</summary>
public enum MixtureSemantics
{
    /// <summary>
    /// The paper's formula: z' = Σₖ αₖ·zₖ with zₖ = each expert's multiplier (sigmoid(pₖ)·maxMult). Our default.
    /// </summary>
    Multipliers,

    /// <summary>
    /// The authors' code (t2-reference §3.1): z' = Σₖ αₖ·pₖ over the raw, pre-sigmoid vectors, and z' is then used
    /// directly as the multiplier with no sigmoid. Choose this to reproduce the official few-shot numbers.
    /// </summary>
    AuthorsRawVectors,

    /// <summary>
    /// Mix the trained vectors like the authors' code, z' = f(Σₖ αₖ·pₖ), then map the sum through the experts' own
    /// parameterisation f (sigmoid(p)·maxMult), as a single expert is applied. α = (1, 0, …) is exactly expert 1, and
    /// α = (1, 1) adds both experts' changes to p at full strength instead of averaging them, which the renormalised
    /// multiplier mixtures above cannot do (ΣS/Σ(S⊙z') removes any common scale of α); it also doubles their shared
    /// starting value (sigmoid(2·p₀ + Δ₁ + Δ₂) with p₀ = 0.1 by default), a near-constant factor the renormalisation absorbs.
    /// </summary>
    Parameters,
}
