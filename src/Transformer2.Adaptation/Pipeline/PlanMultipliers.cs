using Transformer2.Adaptation.Experts;
using Transformer2.Core.Svf;
using static TorchSharp.torch;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>The multiplier z of every target a plan adapts: one expert's σ(p) (or its parameterisation), or a mixture's z'.</summary>
internal static class PlanMultipliers
{
    /// <summary>Multipliers (fp32, owned by the caller) by target; empty for the base plan. Targets the plan does not name run their base weights.</summary>
    /// <exception cref="InvalidOperationException">The mixture's experts use different parameterisations.</exception>
    public static Dictionary<string, Tensor> Compute(AdaptationPlan plan, ExpertRegistry registry, MixtureSemantics semantics)
    {
        if (plan.IsBase) return new Dictionary<string, Tensor>();
        // One expert: copies of the registry's cached multipliers (the one place z is computed from an expert's vectors).
        if (plan.Weights is null)
            return registry.Multipliers(plan.Experts[0]).ToDictionary(kv => kv.Key, kv => kv.Value.clone(), StringComparer.Ordinal);
        var experts = plan.Experts.Select(name => registry[name]).ToList();
        var parameterization = experts[0].Metadata.Parameterization;
        if (experts.Any(e => e.Metadata.Parameterization != parameterization))
            throw new InvalidOperationException($"Experts {string.Join(", ", plan.Experts)} use different parameterisations and cannot be mixed.");
        return SvfMixer.Mix(experts.Select(e => e.Vectors).ToList(), plan.Weights, parameterization, semantics);
    }
}
