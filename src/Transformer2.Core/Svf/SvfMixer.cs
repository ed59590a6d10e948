using static TorchSharp.torch;

namespace Transformer2.Core.Svf;

/// <summary>Combines the raw vectors of several experts into one multiplier per target.</summary>
public static class SvfMixer
{
    /// <summary>
    /// The mixed multiplier z' for every target the experts share.
    /// </summary>
    /// <param name="experts">Each expert's raw vectors p, keyed by target name; all must have the same keys and lengths.</param>
    /// <param name="weights">α, global or per matrix.</param>
    /// <param name="parameterization">How p maps to a multiplier (each expert's p under <see cref="MixtureSemantics.Multipliers"/>, the sum under <see cref="MixtureSemantics.Parameters"/>).</param>
    /// <param name="semantics">Paper (mix multipliers), authors' code (mix raw p, use as multiplier), or mix raw p and map the sum through the parameterisation.</param>
    /// <returns>Multipliers (fp32), owned by the caller.</returns>
    public static Dictionary<string, Tensor> Mix(
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> experts,
        MixtureWeights weights,
        SvfParameterization parameterization,
        MixtureSemantics semantics = MixtureSemantics.Multipliers)
    {
        ArgumentNullException.ThrowIfNull(experts);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(parameterization);
        if (experts.Count == 0) throw new ArgumentException("A mixture needs at least one expert.", nameof(experts));
        if (weights.ExpertCount != experts.Count)
            throw new ArgumentException($"{weights.ExpertCount} mixture weights for {experts.Count} experts.", nameof(weights));
        CheckSameTargets(experts);

        var mixed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var target in experts[0].Keys)
        {
            double[] alpha = weights.For(target);
            using var scope = NewDisposeScope();
            Tensor? sum = null;
            for (int k = 0; k < experts.Count; k++)
            {
                var p = experts[k][target].to_type(ScalarType.Float32);
                var term = semantics == MixtureSemantics.Multipliers ? parameterization.Multiplier(p) : p;
                sum = sum is null ? term * alpha[k] : sum + term * alpha[k];
            }
            if (semantics == MixtureSemantics.Parameters) sum = parameterization.Multiplier(sum!);
            mixed[target] = sum!.MoveToOuterDisposeScope();
        }
        return mixed;
    }

    /// <summary>
    /// Whether mixtures under <paramref name="semantics"/> are linear in α: then they can be blended from per-expert
    /// compositions (<see cref="MixingBasis"/>), and α = 0 leaves z' = 0, where W' is undefined. Under
    /// <see cref="MixtureSemantics.Parameters"/> neither holds (α = 0 gives sigmoid(0), a constant: the base weights).
    /// </summary>
    public static bool IsLinearInWeights(MixtureSemantics semantics) => semantics != MixtureSemantics.Parameters;

    /// <summary>Each expert's multiplier zₖ per target, in the space <paramref name="semantics"/> mixes (for <see cref="SvfBlendCache"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="semantics"/> is <see cref="MixtureSemantics.Parameters"/>, whose mixtures are not linear in α.</exception>
    public static List<Dictionary<string, Tensor>> MixingBasis(
        IReadOnlyList<IReadOnlyDictionary<string, Tensor>> experts, SvfParameterization parameterization, MixtureSemantics semantics)
    {
        if (!IsLinearInWeights(semantics))
            throw new ArgumentException("MixtureSemantics.Parameters maps Σ αₖ·pₖ through the sigmoid, so its mixtures are not linear in α and have no blending basis; compose them directly.", nameof(semantics));
        CheckSameTargets(experts);
        return experts.Select(e => e.ToDictionary(
            kv => kv.Key,
            kv =>
            {
                using var scope = NewDisposeScope();
                var p = kv.Value.to_type(ScalarType.Float32);
                var z = semantics == MixtureSemantics.Multipliers ? parameterization.Multiplier(p) : p.clone();
                return z.MoveToOuterDisposeScope();
            },
            StringComparer.Ordinal)).ToList();
    }

    static void CheckSameTargets(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> experts)
    {
        var first = experts[0];
        for (int k = 1; k < experts.Count; k++)
        {
            foreach (var key in first.Keys)
            {
                if (!experts[k].TryGetValue(key, out var v))
                    throw new ArgumentException($"Expert {k} has no vector for target '{key}', which expert 0 has.", nameof(experts));
                if (v.shape[^1] != first[key].shape[^1])
                    throw new ArgumentException($"Expert {k}'s vector for '{key}' has {v.shape[^1]} entries, expert 0's has {first[key].shape[^1]}.", nameof(experts));
            }
            foreach (var key in experts[k].Keys)
            {
                if (!first.ContainsKey(key))
                    throw new ArgumentException($"Expert {k} has a vector for target '{key}', which expert 0 lacks.", nameof(experts));
            }
        }
    }
}
