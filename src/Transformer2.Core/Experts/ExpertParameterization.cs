namespace Transformer2.Core.Experts;

/// <summary>How an expert's vectors map to multipliers, and how they were initialised.</summary>
/// <param name="Kind">Sigmoid or raw multiplier.</param>
/// <param name="MaxMultiplier">The factor maxMult of z = sigmoid(p) · maxMult (ignored for <see cref="MultiplierKind.Raw"/>).</param>
/// <param name="InitMean">Mean of the initial p (the authors use 0.1).</param>
/// <param name="InitStd">Standard deviation of the initial p (the authors' code uses 0.01; the paper's Table 6 states variance 1e-3).</param>
public sealed record ExpertParameterization(MultiplierKind Kind = MultiplierKind.Sigmoid, double MaxMultiplier = 1.0, double InitMean = 0.1, double InitStd = 0.01)
{
    /// <summary>The authors' defaults: sigmoid, maxMult 1, p = 0.1 + N(0, 0.01²).</summary>
    public static ExpertParameterization Default { get; } = new();
}
