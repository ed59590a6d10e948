namespace Transformer2.Training.Reinforce;

/// <summary>What happened in one training iteration (and at a validation, its accuracy).</summary>
/// <param name="Iteration">1-based iteration just finished; 0 for the evaluation before training.</param>
/// <param name="Iterations">Total iterations planned.</param>
/// <param name="RewardMean">Mean raw reward of the batch's rollouts.</param>
/// <param name="TrainAccuracy">Fraction of the batch answered correctly.</param>
/// <param name="Loss">The objective that was minimised: policy-gradient term plus λ·KL, averaged over the batch.</param>
/// <param name="Kl">Mean KL per sequence (summed over generated positions); 0 when λ = 0.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="LearningRate">Learning rate used by this update.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation split, when evaluated at this iteration.</param>
/// <param name="IsBest">True when this validation is the best so far and the expert was saved.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="GenerationTime">Time spent generating rollouts in this iteration.</param>
/// <param name="GradientTime">Time spent on log-prob forwards and backwards in this iteration.</param>
/// <param name="UpdateTime">Time spent clipping and updating in this iteration.</param>
public sealed record TrainingProgress(
    int Iteration,
    int Iterations,
    double RewardMean,
    double TrainAccuracy,
    double Loss,
    double Kl,
    double GradNorm,
    double LearningRate,
    double? ValidationAccuracy,
    bool IsBest,
    TimeSpan Elapsed,
    TimeSpan GenerationTime,
    TimeSpan GradientTime,
    TimeSpan UpdateTime);
