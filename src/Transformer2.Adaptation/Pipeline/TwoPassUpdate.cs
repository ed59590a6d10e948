namespace Transformer2.Adaptation.Pipeline;

/// <summary>One piece of a streamed two-pass answer.</summary>
/// <param name="Decision">The first pass's decision (present from the first update on).</param>
/// <param name="Text">New answer text since the previous update (empty for the first and last updates).</param>
/// <param name="Result">The complete result, on the last update only.</param>
public sealed record TwoPassUpdate(DispatchDecision Decision, string Text, TwoPassResult? Result);
