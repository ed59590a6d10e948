using Transformer2.Models.Llama;

namespace Transformer2.Training.Lora;

/// <summary>
/// Trainable parameter counts of SVF and LoRA for any LLaMA-family config, from the config alone (no weights):
/// SVF trains min(m, n) scalars per adapted m×n matrix, LoRA r·(m + n) (t2-reference §1.1).
/// </summary>
public static class AdapterParameterCounts
{
    /// <summary>Every projection of the model in module order: per layer q, k, v, o, gate, up, down; then <c>lm_head</c>.</summary>
    public static IReadOnlyList<ProjectionShape> Projections(LlamaConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        long hidden = config.HiddenSize, intermediate = config.IntermediateSize;
        long queries = (long)config.NumAttentionHeads * config.HeadDim, keyValues = (long)config.NumKeyValueHeads * config.HeadDim;
        var result = new List<ProjectionShape>(config.NumHiddenLayers * 7 + 1);
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string attention = $"model.layers.{i}.self_attn.", mlp = $"model.layers.{i}.mlp.";
            result.Add(new(attention + "q_proj", queries, hidden));
            result.Add(new(attention + "k_proj", keyValues, hidden));
            result.Add(new(attention + "v_proj", keyValues, hidden));
            result.Add(new(attention + "o_proj", hidden, queries));
            result.Add(new(mlp + "gate_proj", intermediate, hidden));
            result.Add(new(mlp + "up_proj", intermediate, hidden));
            result.Add(new(mlp + "down_proj", hidden, intermediate));
        }
        result.Add(new("lm_head", config.VocabSize, hidden));
        return result;
    }

    /// <summary>SVF: Σ min(m, n) over the projections whose weight name satisfies <paramref name="isTargetWeight"/> (as <c>SvfInjector</c>'s selector).</summary>
    public static long Svf(LlamaConfig config, Func<string, bool> isTargetWeight)
    {
        ArgumentNullException.ThrowIfNull(isTargetWeight);
        return Projections(config).Where(p => isTargetWeight(p.WeightName)).Sum(p => Math.Min(p.OutFeatures, p.InFeatures));
    }

    /// <summary>SVF: Σ min(m, n) over the projections named by <paramref name="targetModules"/> (PEFT-style names such as <c>gate_proj</c>).</summary>
    public static long Svf(LlamaConfig config, IReadOnlyList<string> targetModules)
    {
        ArgumentNullException.ThrowIfNull(targetModules);
        var matcher = new LoraConfig { TargetModules = targetModules };
        return Projections(config).Where(p => matcher.Matches(p.ModulePath)).Sum(p => Math.Min(p.OutFeatures, p.InFeatures));
    }

    /// <summary>LoRA: Σ r·(m + n) over the projections <paramref name="lora"/> targets.</summary>
    public static long Lora(LlamaConfig config, LoraConfig lora)
    {
        ArgumentNullException.ThrowIfNull(lora);
        lora.Validate();
        return Projections(config).Where(p => lora.Matches(p.ModulePath)).Sum(p => (long)lora.Rank * (p.OutFeatures + p.InFeatures));
    }

    /// <summary>The SVF targets of the authors' code: every MLP matrix (gate, up, down).</summary>
    public static IReadOnlyList<string> MlpTargets { get; } = ["gate_proj", "up_proj", "down_proj"];
}
