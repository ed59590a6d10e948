namespace Transformer2.Adaptation.Pipeline;

/// <summary>Per-request settings; unset values fall back to the pipeline's generation defaults.</summary>
public sealed record AnswerOptions
{
    /// <summary>Maximum tokens of the answer.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>Sampling temperature; 0 is greedy.</summary>
    public double? Temperature { get; init; }

    /// <summary>Nucleus sampling threshold.</summary>
    public double? TopP { get; init; }

    /// <summary>Top-k sampling (0 = off).</summary>
    public int? TopK { get; init; }

    /// <summary>Seed for sampling.</summary>
    public long? Seed { get; init; }

    /// <summary>Extra stop strings.</summary>
    public IReadOnlyList<string>? StopStrings { get; init; }

    /// <summary>The task this prompt belongs to, for strategies that adapt per task (few-shot).</summary>
    public string? TaskKey { get; init; }

    /// <summary>Skip the first pass and answer with this plan (for example <see cref="AdaptationPlan.Base"/> to compare).</summary>
    public AdaptationPlan? Plan { get; init; }
}
