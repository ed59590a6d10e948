namespace Transformer2.Adaptation.Search;

/// <summary>Settings of the few-shot search over mixing weights (CEM or random shooting).</summary>
/// <remarks>Defaults are the authors' few-shot settings (t2-reference §3.2).</remarks>
public sealed record SearchOptions
{
    /// <summary>Candidates per generation.</summary>
    public int PopulationSize { get; init; } = 32;

    /// <summary>Fraction of the population kept as elites; CEM keeps ⌊ratio·population⌋ (6 of 32).</summary>
    public double EliteRatio { get; init; } = 0.2;

    /// <summary>Lower bound of every coordinate.</summary>
    public double Minimum { get; init; }

    /// <summary>Upper bound of every coordinate.</summary>
    public double Maximum { get; init; } = 1;

    /// <summary>Initial standard deviation; the authors use (max − min)/2.</summary>
    public double InitialStd { get; init; } = 0.5;

    /// <summary>Number of generations.</summary>
    public int Generations { get; init; } = 50;

    /// <summary>Re-evaluate the best solution so far as member 0 of every generation.</summary>
    public bool ReEvaluateBest { get; init; } = true;

    /// <summary>Break ties of score by the mean log-likelihood of correct answers.</summary>
    public bool UseLogLikelihoodForTies { get; init; } = true;

    /// <summary>Exponential moving average weight of the previous distribution (0 = replace).</summary>
    public double Ema { get; init; }

    /// <summary>Seed of the sampler.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (PopulationSize < 2) throw new ArgumentOutOfRangeException(nameof(PopulationSize), PopulationSize, "The population needs at least two members.");
        if (!(EliteRatio > 0 && EliteRatio <= 1) || (int)(EliteRatio * PopulationSize) < 1)
            throw new ArgumentOutOfRangeException(nameof(EliteRatio), EliteRatio, $"EliteRatio must be in (0, 1] and keep at least one of {PopulationSize} members.");
        if (!double.IsFinite(Minimum) || !double.IsFinite(Maximum) || Minimum >= Maximum)
            throw new ArgumentOutOfRangeException(nameof(Maximum), Maximum, $"Bounds must be finite with Minimum < Maximum (got [{Minimum}, {Maximum}]).");
        if (!double.IsFinite(InitialStd) || InitialStd <= 0) throw new ArgumentOutOfRangeException(nameof(InitialStd), InitialStd, "InitialStd must be positive.");
        if (Generations < 1) throw new ArgumentOutOfRangeException(nameof(Generations), Generations, "Run at least one generation.");
        if (!(Ema >= 0 && Ema < 1)) throw new ArgumentOutOfRangeException(nameof(Ema), Ema, "Ema must be in [0, 1).");
    }
}
