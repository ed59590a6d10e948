namespace Transformer2.Adaptation.Pipeline;

/// <summary>How experts reach the model's weights.</summary>
public enum ExpertApplicationMode
{
    /// <summary>
    /// Each request carries its own multipliers through the factored path y = ((x·V)⊙s)·Uᵀ. Shared weights are never
    /// touched, so requests with different experts run concurrently. Costs an extra GEMM per adapted matrix per token.
    /// </summary>
    Factored,

    /// <summary>
    /// W' is composed once per expert or mixture (cached within a memory budget) and written into the layers for the
    /// request, then the original weights are restored. Forwards run at base speed; requests that need different
    /// weights take turns.
    /// </summary>
    Merged,
}
