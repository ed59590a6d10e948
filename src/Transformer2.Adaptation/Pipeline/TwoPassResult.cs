using Transformer2.Models.Generation;

namespace Transformer2.Adaptation.Pipeline;

/// <summary>The answer of a two-pass request, with what the first pass decided and what each pass cost.</summary>
/// <param name="Answer">The second pass's text.</param>
/// <param name="Decision">The first pass's decision.</param>
/// <param name="FirstPass">Time of the first pass (classification or cached lookup).</param>
/// <param name="SecondPass">Time of the second pass (applying the experts and answering).</param>
/// <param name="PromptTokens">Tokens of the second pass's prompt.</param>
/// <param name="CompletionTokens">Tokens generated in the second pass.</param>
/// <param name="FirstPassTokens">Tokens the first pass generated (its prompt length is <see cref="DispatchDecision.FirstPassPromptTokens"/>).</param>
/// <param name="Finish">Why the second pass stopped.</param>
public sealed record TwoPassResult(
    string Answer,
    DispatchDecision Decision,
    TimeSpan FirstPass,
    TimeSpan SecondPass,
    int PromptTokens,
    int CompletionTokens,
    int FirstPassTokens,
    FinishReason Finish);
