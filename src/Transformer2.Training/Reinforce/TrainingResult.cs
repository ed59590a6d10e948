namespace Transformer2.Training.Reinforce;

/// <summary>The outcome of a training run.</summary>
/// <param name="BestVectors">The policy's tensors (raw SVF vectors, or LoRA A/B weights) with the best validation accuracy (the last ones if never validated), by name in order.</param>
/// <param name="BestValidationAccuracy">Their validation accuracy, if validated.</param>
/// <param name="BestIteration">The iteration they come from.</param>
/// <param name="IterationsRun">How many iterations ran (early stopping can end a run sooner).</param>
/// <param name="History">Every iteration's progress record.</param>
public sealed record TrainingResult(
    IReadOnlyList<KeyValuePair<string, TorchSharp.torch.Tensor>> BestVectors,
    double? BestValidationAccuracy,
    int BestIteration,
    int IterationsRun,
    IReadOnlyList<TrainingProgress> History);
