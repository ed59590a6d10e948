namespace Transformer2.Core.Svf;

/// <summary>
/// Mixing coefficients α for K experts: one per expert (global), or one per expert per adapted matrix.
/// </summary>
/// <remarks>
/// With <see cref="Normalize"/>, each matrix's coefficients are divided by their sum over experts, as the authors'
/// <c>norm_coeffs</c> does. The authors' few-shot script turns normalisation off and uses per-matrix α.
/// </remarks>
public sealed class MixtureWeights
{
    readonly double[,] _alpha; // [K, L]; L = 1 for global weights

    MixtureWeights(double[,] alpha, bool normalize, IReadOnlyList<string>? targets)
    {
        int k = alpha.GetLength(0), l = alpha.GetLength(1);
        if (k == 0 || l == 0) throw new ArgumentException("Mixture weights need at least one expert and one column.", nameof(alpha));
        for (int i = 0; i < k; i++)
        for (int j = 0; j < l; j++)
        {
            if (!double.IsFinite(alpha[i, j]))
                throw new ArgumentException($"Mixture weight α[{i}, {j}] = {alpha[i, j]} is not finite.", nameof(alpha));
        }
        if (targets is not null && targets.Count != l)
            throw new ArgumentException($"{l} per-matrix columns but {targets.Count} target names.", nameof(targets));
        _alpha = (double[,])alpha.Clone();
        Normalize = normalize;
        Targets = targets;
        if (normalize)
        {
            for (int j = 0; j < l; j++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++) sum += _alpha[i, j];
                if (Math.Abs(sum) < 1e-12) throw new ArgumentException($"Cannot normalise column {j}: its weights sum to zero.", nameof(alpha));
                for (int i = 0; i < k; i++) _alpha[i, j] /= sum;
            }
        }
    }

    /// <summary>One weight per expert, shared by every matrix.</summary>
    public static MixtureWeights Global(IReadOnlyList<double> alphas, bool normalize = false)
    {
        ArgumentNullException.ThrowIfNull(alphas);
        var a = new double[alphas.Count, 1];
        for (int i = 0; i < alphas.Count; i++) a[i, 0] = alphas[i];
        return new MixtureWeights(a, normalize, null);
    }

    /// <summary>One weight per expert per matrix: <paramref name="alpha"/>[k, l] for expert k and <paramref name="targets"/>[l].</summary>
    public static MixtureWeights PerMatrix(double[,] alpha, IReadOnlyList<string> targets, bool normalize = false)
    {
        ArgumentNullException.ThrowIfNull(alpha);
        ArgumentNullException.ThrowIfNull(targets);
        return new MixtureWeights(alpha, normalize, targets);
    }

    /// <summary>Uniform 1/K weights (the authors' initial value).</summary>
    public static MixtureWeights Uniform(int experts) =>
        experts > 0 ? Global(Enumerable.Repeat(1.0 / experts, experts).ToArray()) : throw new ArgumentOutOfRangeException(nameof(experts), experts, "Need at least one expert.");

    /// <summary>Number of experts K.</summary>
    public int ExpertCount => _alpha.GetLength(0);

    /// <summary>True when α is per matrix.</summary>
    public bool IsPerMatrix => Targets is not null;

    /// <summary>Whether columns were normalised to sum to one.</summary>
    public bool Normalize { get; }

    /// <summary>Target names of the per-matrix columns, or null for global weights.</summary>
    public IReadOnlyList<string>? Targets { get; }

    /// <summary>The K weights that apply to <paramref name="target"/> (after normalisation).</summary>
    public double[] For(string target)
    {
        int column = 0;
        if (Targets is not null)
        {
            column = -1;
            for (int j = 0; j < Targets.Count; j++)
            {
                if (Targets[j] == target) { column = j; break; }
            }
            if (column < 0) throw new KeyNotFoundException($"Mixture weights have no column for target '{target}'.");
        }
        var result = new double[ExpertCount];
        for (int i = 0; i < result.Length; i++) result[i] = _alpha[i, column];
        return result;
    }
}
