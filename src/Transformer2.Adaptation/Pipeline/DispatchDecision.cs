namespace Transformer2.Adaptation.Pipeline;

/// <summary>What the first pass decided.</summary>
/// <param name="Strategy">The strategy that decided (<c>prompt</c>, <c>classification-expert</c>, <c>few-shot</c>, <c>fixed</c>).</param>
/// <param name="Label">The category the prompt was classified into (<c>other</c> when none fitted), or the task key for few-shot.</param>
/// <param name="Plan">The experts and weights the second pass uses.</param>
/// <param name="FirstPassText">What the model said in the first pass, if it generated anything.</param>
public sealed record DispatchDecision(string Strategy, string? Label, AdaptationPlan Plan, string? FirstPassText = null)
{
    /// <summary>Tokens of the first pass's prompt (image tokens included), when it ran the model; 0 otherwise.</summary>
    public int FirstPassPromptTokens { get; init; }
}
