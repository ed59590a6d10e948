namespace Transformer2.Training.NextToken;

/// <summary>The outcome of a next-token training run.</summary>
/// <param name="BestValidationLoss">The lowest validation loss seen, if validated.</param>
/// <param name="BestStep">The step it comes from (the parameters now hold it when <see cref="NextTokenOptions.RestoreBest"/>).</param>
/// <param name="StepsRun">How many optimizer steps ran.</param>
/// <param name="History">Every step's progress record.</param>
public sealed record NextTokenResult(double? BestValidationLoss, int BestStep, int StepsRun, IReadOnlyList<NextTokenProgress> History);
