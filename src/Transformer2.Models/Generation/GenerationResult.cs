namespace Transformer2.Models.Generation;

/// <summary>The output of one row.</summary>
/// <param name="TokenIds">The generated tokens (a stop token, if hit, is the last one).</param>
/// <param name="LogProbs">Per token, its log-probability under the model's unmodified distribution.</param>
/// <param name="Finish">Why the row stopped.</param>
public sealed record GenerationResult(IReadOnlyList<int> TokenIds, IReadOnlyList<float> LogProbs, FinishReason Finish);
