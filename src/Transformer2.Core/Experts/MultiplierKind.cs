namespace Transformer2.Core.Experts;

/// <summary>How an expert's raw vector p becomes the singular-value multiplier z.</summary>
public enum MultiplierKind
{
    /// <summary>z = sigmoid(p) · maxMult, as the authors' SVF policy (t2-reference §1.3).</summary>
    Sigmoid,

    /// <summary>z = p: the vector is the multiplier itself (as the authors' mixtures use a blend of raw vectors).</summary>
    Raw,
}
