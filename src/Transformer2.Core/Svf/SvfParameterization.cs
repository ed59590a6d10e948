using TorchSharp;
using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>
/// The map from a trainable vector p to the singular-value multiplier z, and how p starts.
/// </summary>
/// <remarks>
/// Defaults follow the authors' code: z = sigmoid(p)·1, p = 0.1 + 0.01·N(0, 1) (standard deviation 0.01).
/// The paper's Table 6 gives an initial <em>variance</em> of 1e-3 (standard deviation ≈ 0.0316); set
/// <see cref="InitStd"/> to <c>Math.Sqrt(1e-3)</c> to follow the paper instead.
/// </remarks>
public sealed record SvfParameterization
{
    /// <summary>The authors' defaults.</summary>
    public static SvfParameterization Default { get; } = new();

    /// <summary>How p maps to z.</summary>
    public SvfMultiplierKind Kind { get; init; } = SvfMultiplierKind.Sigmoid;

    /// <summary>Upper bound of z under <see cref="SvfMultiplierKind.Sigmoid"/> (the authors' <c>max_mult</c>).</summary>
    public double MaxMultiplier { get; init; } = 1.0;

    /// <summary>Mean of the initial p (the authors' <c>init_val</c>).</summary>
    public double InitMean { get; init; } = 0.1;

    /// <summary>Standard deviation of the Gaussian noise added to the initial p.</summary>
    public double InitStd { get; init; } = 0.01;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the offending property.</summary>
    public void Validate()
    {
        if (!double.IsFinite(MaxMultiplier) || MaxMultiplier <= 0)
            throw new ArgumentOutOfRangeException(nameof(MaxMultiplier), MaxMultiplier, "MaxMultiplier must be a finite positive number.");
        if (!double.IsFinite(InitMean))
            throw new ArgumentOutOfRangeException(nameof(InitMean), InitMean, "InitMean must be finite.");
        if (!double.IsFinite(InitStd) || InitStd < 0)
            throw new ArgumentOutOfRangeException(nameof(InitStd), InitStd, "InitStd must be finite and not negative.");
        if (!Enum.IsDefined(Kind))
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown multiplier kind.");
    }

    /// <summary>z for a raw vector p (differentiable; keeps p's dtype).</summary>
    public Tensor Multiplier(Tensor p) => Kind switch
    {
        SvfMultiplierKind.Sigmoid => MaxMultiplier == 1.0 ? p.sigmoid() : p.sigmoid() * MaxMultiplier,
        _ => p.alias(),
    };

    /// <summary>A fresh p of length <paramref name="length"/>: InitMean + InitStd·N(0, 1), fp32.</summary>
    public Tensor InitialVector(long length, Generator? generator = null, Device? device = null)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException(nameof(length), length, "An SVF vector needs at least one entry.");
        using var scope = NewDisposeScope();
        var noise = randn(new[] { length }, dtype: ScalarType.Float32, device: device, generator: generator);
        return (noise * InitStd + InitMean).MoveToOuterDisposeScope();
    }
}
