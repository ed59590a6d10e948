using Transformer2.Core.Svf;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>What the second pass runs with: the base model, one expert, or a weighted mixture of experts.</summary>
public sealed record AdaptationPlan
{
    AdaptationPlan(IReadOnlyList<string> experts, MixtureWeights? weights)
    {
        Experts = experts;
        Weights = weights;
    }

    /// <summary>The unadapted model.</summary>
    public static AdaptationPlan Base { get; } = new([], null);

    /// <summary>One expert at full strength.</summary>
    public static AdaptationPlan Single(string expert)
    {
        ArgumentException.ThrowIfNullOrEmpty(expert);
        return new([expert], null);
    }

    /// <summary>z' = Σ αₖ zₖ over <paramref name="experts"/>.</summary>
    public static AdaptationPlan Mixture(IReadOnlyList<string> experts, MixtureWeights weights)
    {
        ArgumentNullException.ThrowIfNull(experts);
        ArgumentNullException.ThrowIfNull(weights);
        if (experts.Count == 0) throw new ArgumentException("A mixture needs at least one expert.", nameof(experts));
        if (weights.ExpertCount != experts.Count) throw new ArgumentException($"{weights.ExpertCount} weights for {experts.Count} experts.", nameof(weights));
        return new(experts.ToArray(), weights);
    }

    /// <summary>The experts involved, empty for the base model.</summary>
    public IReadOnlyList<string> Experts { get; }

    /// <summary>Mixing weights, null unless this is a mixture.</summary>
    public MixtureWeights? Weights { get; }

    /// <summary>True for the unadapted model.</summary>
    public bool IsBase => Experts.Count == 0;

    /// <summary>A stable key for caches: equal plans have equal keys.</summary>
    public string Key => IsBase ? "base"
        : Weights is null ? "expert:" + Experts[0]
        : "mix:" + string.Join("|", Experts) + ":" + string.Join("|", Experts.Select((_, k) => string.Join(",", (Weights.Targets ?? ["*"]).Select(t => Weights.For(t)[k].ToString("R", System.Globalization.CultureInfo.InvariantCulture)))));

    /// <summary>Global mixing weights by expert name (per-matrix weights are averaged), for reporting.</summary>
    public IReadOnlyDictionary<string, double> WeightsByExpert()
    {
        if (IsBase) return new Dictionary<string, double>();
        if (Weights is null) return new Dictionary<string, double> { [Experts[0]] = 1.0 };
        var columns = Weights.Targets ?? ["*"];
        return Experts.Select((e, k) => (e, columns.Average(t => Weights.For(t)[k]))).ToDictionary(x => x.e, x => x.Item2);
    }

    /// <summary>Plans are equal when they use the same experts with the same weights.</summary>
    public bool Equals(AdaptationPlan? other) => other is not null && Key == other.Key;

    /// <inheritdoc />
    public override int GetHashCode() => Key.GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc />
    public override string ToString() => Key;
}
