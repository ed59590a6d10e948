namespace Transformer2.Core.Svf;

/// <summary>How a raw SVF vector p becomes the multiplier z of the singular values.</summary>
public enum SvfMultiplierKind
{
    /// <summary>z = sigmoid(p)·maxMultiplier, as the authors' single-expert policy computes it.</summary>
    Sigmoid,

    /// <summary>z = p, used as is. The authors' mixture policy works this way (t2-reference §3.1).</summary>
    Raw,
}
