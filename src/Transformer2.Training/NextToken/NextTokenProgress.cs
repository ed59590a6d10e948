namespace Transformer2.Training.NextToken;

/// <summary>What happened in one optimizer step of next-token training (and at a validation, its loss).</summary>
/// <param name="Step">1-based step just finished; 0 for the validation before training.</param>
/// <param name="Steps">Total steps planned.</param>
/// <param name="Epoch">1-based epoch the step belongs to.</param>
/// <param name="Loss">Mean cross-entropy per solution token of this step's batch (nats).</param>
/// <param name="Tokens">Solution tokens the loss was averaged over.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate of this step.</param>
/// <param name="ValidationLoss">Mean cross-entropy per solution token on the validation split, when evaluated at this step.</param>
/// <param name="IsBest">True when this validation loss is the lowest so far.</param>
/// <param name="Elapsed">Time since training started.</param>
public sealed record NextTokenProgress(
    int Step,
    int Steps,
    int Epoch,
    double Loss,
    long Tokens,
    double GradNorm,
    double LearningRate,
    double? ValidationLoss,
    bool IsBest,
    TimeSpan Elapsed);
