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
}
