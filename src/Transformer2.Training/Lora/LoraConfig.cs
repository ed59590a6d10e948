using System.Text.RegularExpressions;

namespace Transformer2.Training.Lora;

/// <summary>
/// What a LoRA adapter adapts and how (Hugging Face PEFT's <c>LoraConfig</c>). Defaults are the paper's baseline:
/// rank 16, alpha 32, dropout 0.05 (t2-reference §6, Table 6) on the attention's q and v projections (Table 4).
/// </summary>
public sealed partial record LoraConfig
{
    /// <summary>Rank r of the update B·A.</summary>
    public int Rank { get; init; } = 16;

    /// <summary>α; the update is scaled by α / r.</summary>
    public double Alpha { get; init; } = 32;

    /// <summary>Dropout probability applied to the input of the LoRA path only, in training mode.</summary>
    public double Dropout { get; init; } = 0.05;

    /// <summary>
    /// Module names to adapt, as in PEFT: a name matches a module whose path equals it or ends with "." + it
    /// (e.g. <c>q_proj</c> matches <c>model.layers.0.self_attn.q_proj</c>).
    /// </summary>
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    /// <summary>α / r, the factor the update is multiplied by.</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>The attention targets of the paper's LoRA ablation (q and v).</summary>
    public static IReadOnlyList<string> AttentionTargets { get; } = ["q_proj", "v_proj"];

    /// <summary>The MLP + attention targets of the paper's LoRA ablation (q, v, gate, up and down).</summary>
    public static IReadOnlyList<string> MlpAndAttentionTargets { get; } = ["q_proj", "v_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>Whether the module at <paramref name="modulePath"/> is a target.</summary>
    public bool Matches(string modulePath)
    {
        ArgumentNullException.ThrowIfNull(modulePath);
        foreach (var target in TargetModules)
        {
            if (modulePath == target || modulePath.EndsWith("." + target, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> or <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (Rank < 1) throw new ArgumentOutOfRangeException(nameof(Rank), Rank, "Rank must be at least 1.");
        if (!(Alpha > 0) || !double.IsFinite(Alpha)) throw new ArgumentOutOfRangeException(nameof(Alpha), Alpha, "Alpha must be positive and finite.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        if (TargetModules is null || TargetModules.Count == 0) throw new ArgumentException("TargetModules must name at least one module, e.g. q_proj.", nameof(TargetModules));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var target in TargetModules)
        {
            if (string.IsNullOrEmpty(target) || !ModuleName().IsMatch(target))
                throw new ArgumentException($"TargetModules entry '{target}' is not a module name (letters, digits, '_' and '.' between parts).", nameof(TargetModules));
            if (!seen.Add(target)) throw new ArgumentException($"TargetModules names '{target}' twice.", nameof(TargetModules));
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")]
    private static partial Regex ModuleName();
}
